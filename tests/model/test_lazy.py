"""The lazy (dask) evaluation: the same Dataset as in memory, computed chunk by chunk."""
import os
import pickle
import subprocess

import dask.array
import h5py
import numpy as np
import pytest
import xarray as xr

import model
from model.app.cluster import dask_client
from model.app.io import write_netcdf_chunked
from model.lazy import evaluate_lazy, resolve_chunks
from tests.helpers import ROOT, python_cmd

BIG_GRID = ["grid.isl_points=560", "grid.concurrency_max=2048"]  # 40.2 M cells, 4.7 GB


def assert_same(lazy: xr.Dataset, reference: xr.Dataset) -> None:
    """``lazy`` is dask-backed and computes to exactly ``reference`` (values, dtypes, order)."""
    assert all(isinstance(v.data, dask.array.Array) for v in lazy.data_vars.values())
    assert list(lazy.data_vars) == list(reference.data_vars)
    assert {k: v.dtype for k, v in lazy.data_vars.items()} == \
        {k: v.dtype for k, v in reference.data_vars.items()}
    computed = lazy.compute()
    xr.testing.assert_identical(computed, reference)
    assert {k: v.dims for k, v in computed.variables.items()} == \
        {k: v.dims for k, v in reference.variables.items()}


def summarize(ds: xr.Dataset) -> xr.Dataset:
    """Every variable reduced over ISL and concurrency: max and min, or the count if boolean.

    Order-independent reductions, so a chunked and an in-memory evaluation agree exactly.
    """
    out = {}
    for name, var in ds.data_vars.items():
        dims = [d for d in ("isl", "concurrency") if d in var.dims]
        if var.dtype == bool:
            out[f"{name}_count"] = var.sum(dims)
        else:
            out[f"{name}_max"] = var.max(dims)
            out[f"{name}_min"] = var.min(dims)
    return xr.Dataset(out)


@pytest.mark.parametrize("chunks", [
    {},
    {"model": 2, "hardware": 3, "isl": 5, "concurrency": 100},  # cuts every dim, uneven ends
    {"hardware": -1, "concurrency": 333},
])
def test_lazy_equals_in_memory(cfg, grid, chunks):
    lazy = model.evaluate(cfg, chunks=chunks)
    assert_same(lazy, grid)
    expected = resolve_chunks(list(grid.cost_per_mtok.dims), dict(grid.sizes), chunks)
    assert dict(lazy.chunks) == expected
    for dim, length in chunks.items():
        assert lazy.chunks[dim][0] == (grid.sizes[dim] if length == -1 else length)


def test_default_chunks():
    sizes = {"model": 5, "hardware": 7, "isl": 561, "concurrency": 2048}
    chunks = resolve_chunks(list(sizes), sizes)
    assert chunks["model"] == (1,) * 5 and chunks["hardware"] == (1,) * 7  # isl is cut: all before it get 1
    assert chunks["concurrency"] == (2048,)
    assert sum(chunks["isl"]) == 561 and max(chunks["isl"]) - min(chunks["isl"]) <= 1
    cells_per_chunk = max(chunks["isl"]) * 2048
    assert 2 ** 16 <= cells_per_chunk <= 2 ** 20
    # Short inner dims leave room for several hardware types per chunk (512k cells at most):
    # 100 x 1,024 cells per (model, hardware), so 5 of the 7 hardware types, evened out to 4 + 3.
    small = resolve_chunks(list(sizes), {**sizes, "isl": 100, "concurrency": 1024})
    assert small == {"model": (1,) * 5, "hardware": (4, 3), "isl": (100,), "concurrency": (1024,)}
    # A long last dim is cut itself.
    wide = resolve_chunks(["model", "concurrency"], {"model": 2, "concurrency": 10_000_000})
    assert 2 ** 16 <= max(wide["concurrency"]) <= 2 ** 20
    with pytest.raises(ValueError, match="unknown dims"):
        resolve_chunks(list(sizes), sizes, {"sample": 4})
    with pytest.raises(ValueError, match=">= 1"):
        resolve_chunks(list(sizes), sizes, {"isl": 0})


def test_extra_dims_and_variable_subsets(cfg):
    params = {"hardware.cerebras_wse3.price_per_hour": xr.DataArray([20.0, 41.96, 80.0], dims="sample"),
              "sla.min_interactivity": xr.DataArray([500.0, 1000.0, 2000.0], dims="sample")}
    chunks = {"hardware": 4, "sample": 2, "isl": 9, "concurrency": 500}
    lazy = model.evaluate(cfg, params, chunks=chunks)
    assert lazy.cost_per_mtok.dims == ("model", "hardware", "sample", "isl", "concurrency")
    assert lazy.chunks["sample"] == (2, 1)
    assert_same(lazy, model.evaluate(cfg, params))

    isl = xr.DataArray([32000, 96300, 200000, 500000, 4000], dims="sample")
    n = xr.DataArray([8, 250, 1000, 3, 64], dims="sample")
    lazy = evaluate_lazy(cfg, isl=isl, concurrency=n, chunks={"sample": 2})
    assert lazy.cost_per_mtok.dims == ("model", "hardware", "sample")
    assert_same(lazy, model.evaluate(cfg, isl=isl, concurrency=n))

    subset = ["feasible", "systems", "cost_per_mtok"]
    assert_same(model.evaluate(cfg, variables=subset, chunks={"isl": 4}),
                model.evaluate(cfg, variables=subset))


def test_write_netcdf_chunked_round_trip(tmp_path):
    cfg = model.load_config(["grid.isl_points=30"])  # 1.1 M cells
    lazy = model.evaluate(cfg, chunks={"model": 1, "hardware": -1, "isl": 7, "concurrency": 300})
    path = tmp_path / "grid.nc"
    write_netcdf_chunked(lazy, path)
    with h5py.File(path, "r") as f:
        assert f["cost_per_mtok"].chunks == (1, 7, 7, 300)
        assert f["feasible"].chunks == (1, 7, 7, 300)
        assert f["kv_cache_bytes"].chunks == (1, 7, 300)
    with xr.open_dataset(path, engine="h5netcdf") as back:
        back = back.load()
        assert back.attrs.pop("Conventions") == "CF-1.8"
        xr.testing.assert_identical(back, model.evaluate(cfg))


def test_distributed_cluster(grid):
    cfg = model.load_config(["grid.isl_points=4", "grid.concurrency_max=256"])
    lazy = model.evaluate(cfg, chunks={"hardware": 2, "isl": 3, "concurrency": 100})
    from distributed import get_task_stream

    with dask_client(None, n_workers=2) as client:
        workers = client.scheduler_info()["workers"]
        assert len(workers) == 2
        assert os.getpid() not in client.run(os.getpid).values()  # separate processes
        with get_task_stream(client) as stream:
            computed = client.compute(lazy).result()
    xr.testing.assert_identical(computed, model.evaluate(cfg))
    kernel_tasks = [t for t in stream.data if "cell-kernel" in str(t["key"])]
    assert kernel_tasks and {t["worker"] for t in kernel_tasks} <= set(workers)


BIG_SCRIPT = """
import pickle, resource, sys, time
start = time.perf_counter()
import dask, numpy as np, xarray as xr
import model
from tests.model.test_lazy import BIG_GRID, summarize
lazy = model.evaluate(model.load_config(BIG_GRID), chunks={})
rng = np.random.default_rng(2026)
cells = {d: xr.DataArray(rng.integers(0, n, 200), dims="cell") for d, n in lazy.sizes.items()}
summary, sample = dask.compute(summarize(lazy), lazy.isel(cells), scheduler="threads")
result = {"nbytes": sum(v.size * v.dtype.itemsize for v in lazy.data_vars.values()),
          "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
          "seconds": time.perf_counter() - start, "summary": summary, "sample": sample}
with open(sys.argv[1], "wb") as f:
    pickle.dump(result, f)
"""


# Linux carries a process's peak RSS across exec: a child of this (large) test process would
# report this process's peak as its own ru_maxrss.  A small launcher in between keeps the
# measured process's ru_maxrss its own.
LAUNCHER = "import subprocess, sys; sys.exit(subprocess.run([sys.executable, *sys.argv[1:]]).returncode)"


@pytest.mark.cli
def test_grid_larger_than_memory_streams_in_bounded_memory(tmp_path):
    """4.7 GB of results reduced and sampled in a subprocess that never holds them."""
    out = tmp_path / "big.pickle"
    proc = subprocess.run(python_cmd("-c", LAUNCHER, "-c", BIG_SCRIPT, str(out)), cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    result = pickle.loads(out.read_bytes())
    print(f"big grid: {result['nbytes'] / 1e9:.2f} GB of results, peak RSS "
          f"{result['peak_rss_kib'] / 1024:.0f} MiB, {result['seconds']:.1f} s")
    assert result["nbytes"] > 4e9
    assert result["peak_rss_kib"] * 1024 < 2e9

    cfg = model.load_config(BIG_GRID)
    sample = result["sample"]
    # The sampled cells, evaluated in memory on a grid of exactly their ISL and concurrency values.
    isl, n = np.unique(sample.isl.values), np.unique(sample.concurrency.values)
    small = model.evaluate(cfg, isl=xr.DataArray(isl, dims="isl", coords={"isl": isl}),
                           concurrency=xr.DataArray(n, dims="concurrency", coords={"concurrency": n}))
    at = {d: xr.DataArray(sample[d].values, dims="cell") for d in ("model", "hardware", "isl", "concurrency")}
    xr.testing.assert_identical(sample, small.sel(at))

    summary = result["summary"]
    assert set(summary.data_vars) == set(summarize(small).data_vars)
    # Full (isl, concurrency) planes of two (model, hardware) pairs, in memory.
    for m, h in [("deepseek_v4", "cerebras_wse3"), ("gpt_oss_120b", "h200")]:
        plane = model.evaluate(model.load_config([*BIG_GRID, f"select.models=[{m}]",
                                                  f"select.hardware=[{h}]"]))
        xr.testing.assert_identical(summary.sel(model=[m], hardware=[h]), summarize(plane))
