"""``evaluate``: the cost model of docs/model.md §2 over model × hardware × ISL × concurrency.

Terms that depend on few dims (weights, KV per request, S0, ...) are computed with xarray at
their own size; the per-cell terms run through :mod:`model.engine` in cache-sized blocks.
Every variable carries ``units`` and ``long_name``.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from model import engine
from model.equations import cell_kernel
from model.errors import ConfigError
from model.parameters import grid_sizes, parameters
from model.prefix_cache import cell_cached_share, replica_cache_tokens
from model.quantities import CELL_OUTPUTS
from model.results import VARIABLES, assemble, cell_outputs, kernel_inputs
from model.schema import ModelConfig
from model.validate import ensure_valid

__all__ = ["evaluate", "VARIABLES"]


def evaluate(config: ModelConfig, params: Mapping[str, Any] | None = None, *,
             isl: Any = None, concurrency: Any = None, variables: Any = None,
             block_cells: int = engine.BLOCK_CELLS, workers: int | None = None,
             chunks: Mapping[str, int] | None = None,
             progress: engine.Progress | None = None) -> xr.Dataset:
    """Evaluate the cost model on the config's grid.

    Parameters
    ----------
    config
        Validated config from :func:`model.load_config`.
    params
        Replacements by dotted config key (``hardware.<name>.<field>``, ``models.<name>.<field>``,
        ...), numbers or DataArrays along extra dims, which every output then carries.
    isl, concurrency
        Replace the grid's ISL or concurrency values (e.g. a DataArray along ``sample``).
    variables
        Per-cell variables to compute (default: all of them).
    block_cells, workers, progress
        Block size in cells, thread count and a ``(done, total)`` block callback of the blocked
        evaluation (unused with ``chunks``).
    chunks
        If given, evaluate lazily (:func:`model.lazy.evaluate_lazy`): chunk length by dim
        (``-1`` for the whole dim, ``{}`` for the defaults), and every variable is returned as
        a dask array, computed only when asked for (``.compute()``, a reduction, a write).

    Returns
    -------
    xarray.Dataset
        Dims ``model``, ``hardware``, ``isl``, ``concurrency`` (plus any from ``params``); the
        variables of docs/model.md §2 (see :data:`VARIABLES`), each with ``units`` and ``long_name``.
        Cells that cannot be served have ``feasible == False`` and NaN rates and costs.
        In memory, or dask-backed with the same contents when ``chunks`` is given.
    """
    config = ensure_valid(config)
    if chunks is not None:
        cache = getattr(config.workload, "cache", "mix")
        if str(getattr(cache, "value", cache)) == "trace":
            raise ConfigError("dask.enabled", True, "workload.cache=trace is evaluated in memory; use "
                              "workload.cache=mix on dask, or a grid that fits in memory")
        from model.lazy import evaluate_lazy  # dask is an optional extra: imported when asked for

        return evaluate_lazy(config, params, isl=isl, concurrency=concurrency,
                             variables=variables, chunks=chunks)
    # refused before anything grid-sized is built (a 1e8-value concurrency array once ran 57 s to 9.3 GB)
    check_memory(result_bytes(estimated_sizes(config, params, isl, concurrency), planned_outputs(variables)),
                 float(config.grid.max_memory_fraction))
    p = parameters(config, params, isl=isl, concurrency=concurrency)
    traced = trace_cached_share(config, p, block_cells, workers)
    if traced is not None:
        share, capacity = traced
        p = parameters(config, params, isl=isl, concurrency=concurrency, cached_share=share)
    wanted = cell_outputs(p, variables)
    inputs = kernel_inputs(p)
    dims, sizes = engine.output_dims(inputs)
    check_memory(result_bytes(sizes, wanted), float(config.grid.max_memory_fraction))
    cells = engine.run(cell_kernel, inputs, wanted, dims, sizes, block_cells, workers, progress)
    ds = assemble(config, p, cells, dims, lambda name: p[name])
    if traced is not None:
        ds["cached_share"], ds["cache_capacity_tokens"] = share, capacity
    return ds


def trace_cached_share(config: ModelConfig, p: xr.Dataset, block_cells: int = engine.BLOCK_CELLS,
                       workers: int | None = None) -> tuple[xr.DataArray, xr.DataArray] | None:
    """docs/model.md §12, ``workload.cache=trace``: L_c / L per cell, h(C) at the capacity of the cell's replica
    (its systems from a first pass of the kernel), and that capacity (tokens); None with
    ``workload.cache=mix``.

    The curve is ``workload.cache_curve`` (the apps fill it from ``workload.trace`` at
    ``workload.replicas``); ``workload.routing`` picks its column.
    """
    w = config.workload
    cache = getattr(w, "cache", "mix")
    if str(getattr(cache, "value", cache)) != "trace":
        return None
    curve = getattr(w, "cache_curve", None)
    if curve is None:
        raise ConfigError("workload.cache_curve", None, "workload.cache=trace needs h(C): run an app with "
                          "workload.trace=PATH, or call model.app.prefix.attach_curve(cfg) first")
    routing = str(getattr(w.routing, "value", w.routing))
    inputs = kernel_inputs(p)
    dims, sizes = engine.output_dims(inputs)
    systems = engine.run(cell_kernel, inputs, {"systems": np.float64}, dims, sizes, block_cells, workers)["systems"]
    coords = {d: p[d] for d in dims if d in p.coords}
    capacity = replica_cache_tokens(p, xr.DataArray(systems, dims=dims, coords=coords))
    return cell_cached_share(capacity, np.asarray(curve["capacity_tokens"]), np.asarray(curve[routing])), capacity


def _length(value: Any) -> int:
    return int(value.size) if isinstance(value, (xr.DataArray, np.ndarray)) else len(np.atleast_1d(value))


def estimated_sizes(config: ModelConfig, params: Mapping[str, Any] | None, isl: Any, concurrency: Any
                    ) -> dict[str, int]:
    """The grid's dims and lengths as :func:`evaluate` will build them, from the inputs' sizes alone."""
    sizes = {"model": len(config.select.models), "hardware": len(config.select.hardware), **grid_sizes(config)}
    for name, given in (("isl", isl), ("concurrency", concurrency)):
        if isinstance(given, xr.DataArray):  # its own dims replace the grid's (e.g. one value per sample)
            sizes.pop(name)
            sizes.update({str(d): int(n) for d, n in given.sizes.items()})
        elif given is not None:
            sizes[name] = _length(given)
    for key, value in (params or {}).items():
        if isinstance(value, xr.DataArray):
            sizes.update({str(d): int(n) for d, n in value.sizes.items()})
        elif np.ndim(value) > 0:
            sizes[key] = _length(value)
    return sizes


def planned_outputs(variables: Any) -> dict[str, Any]:
    """The per-cell outputs :func:`evaluate` will allocate for ``variables`` (unknown names are
    refused later, with their own message)."""
    names = [variables] if isinstance(variables, str) else variables
    return dict(CELL_OUTPUTS) if names is None else {v: CELL_OUTPUTS[v] for v in names if v in CELL_OUTPUTS}


# Bytes of the light (per model, hardware, ISL) terms are small; the per-cell outputs and the
# kernel's block temporaries are what a grid costs.
def result_bytes(sizes: Mapping[str, int], outputs: Mapping[str, Any]) -> int:
    """Bytes of the per-cell outputs of a grid of ``sizes``."""
    cells = int(np.prod([int(n) for n in sizes.values()], dtype=np.float64))
    return cells * sum(int(np.dtype(dtype).itemsize) for dtype in outputs.values())


def available_memory() -> int:
    """Bytes of memory available now (Linux ``MemAvailable``; elsewhere free physical pages)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def check_memory(needed: int, fraction: float) -> None:
    """Refuse, before allocating, a result larger than ``fraction`` of the available memory.

    Raises
    ------
    ConfigError
        Naming the size and what to do instead (a lazy evaluation on dask, or a smaller grid).
    """
    available = available_memory()
    if needed > fraction * available:
        raise ConfigError("grid", f"{needed / 1e9:,.1f} GB",
                          f"the result would take more than grid.max_memory_fraction={fraction:g} of the "
                          f"{available / 1e9:,.1f} GB available: evaluate lazily (dask.enabled=true, or "
                          "evaluate(..., chunks={})) or use a smaller grid (grid.isl_points, grid.concurrency_max, "
                          "fewer ISL buckets)")
