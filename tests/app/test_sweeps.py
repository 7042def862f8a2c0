"""Collected sweeps: a multirun's headline results in one dataset at the sweep root."""
import json
import subprocess

import numpy as np
import pytest
import xarray as xr
import yaml

import model
from model.app.sweep import collect, dim_name
from tests.app.test_outputs_netcdf import assert_labelled
from tests.helpers import ROOT, python_cmd

pytestmark = pytest.mark.cli

SMALL = ["grid.isl_points=2", "grid.concurrency_max=64", "plots.enabled=false"]
SWEEP = ["hardware.cerebras_wse3.price_per_hour=30,60", "workload.isl=32000,96300"]


def multirun(app, tmp_path, *overrides, launcher=None, name="sweep"):
    sweep_dir = tmp_path / name
    args = ["-m", app, "--multirun", *overrides, f"hydra.sweep.dir={sweep_dir}"]
    if launcher:
        args.append(f"hydra/launcher={launcher}")
    result = subprocess.run(python_cmd(*args), cwd=ROOT, capture_output=True, text=True, timeout=600)
    return result, sweep_dir


@pytest.fixture(scope="module")
def basic_sweep(tmp_path_factory):
    result, sweep_dir = multirun("model", tmp_path_factory.mktemp("basic"), *SWEEP, *SMALL)
    assert result.returncode == 0, result.stderr
    return xr.load_dataset(sweep_dir / "sweep.nc", engine="h5netcdf"), sweep_dir


def test_two_by_two_sweep_has_two_dims_equal_to_single_runs(basic_sweep):
    ds, sweep_dir = basic_sweep
    assert ds.sizes["hardware_cerebras_wse3_price_per_hour"] == 2 and ds.sizes["workload_isl"] == 2
    assert (ds.job_status == "ok").all()
    for price in (30, 60):
        for isl in (32000, 96300):
            cfg = model.load_config([f"hardware.cerebras_wse3.price_per_hour={price}", f"workload.isl={isl}", *SMALL])
            at = model.evaluate(cfg, isl=xr.DataArray([isl], dims="isl", coords={"isl": [isl]}),
                                concurrency=xr.DataArray([250], dims="concurrency", coords={"concurrency": [250]}))
            point = at.isel(isl=0, concurrency=0, drop=True)
            cell = ds.sel(hardware_cerebras_wse3_price_per_hour=price, workload_isl=isl)
            np.testing.assert_array_equal(cell.cost_per_mtok.values, point.cost_per_mtok.values)
            np.testing.assert_array_equal(cell.systems.values, point.systems.values)
    assert (sweep_dir / "sweep.csv").read_text().count("\n") == 1 + 4  # one row per job
    assert (sweep_dir / "sweep_by_model_hardware.csv").read_text().count("\n") == 1 + 4 * 5 * 7
    assert (sweep_dir / "sweep.png").stat().st_size > 0
    assert (sweep_dir / "0" / "grid.nc").exists()  # single-job outputs stay as they are
    assert_labelled(sweep_dir / "sweep.nc")


def test_swept_dims_are_identifiers_that_keep_their_dotted_key(basic_sweep):
    ds, _ = basic_sweep
    price = ds.hardware_cerebras_wse3_price_per_hour
    assert price.attrs["key"] == "hardware.cerebras_wse3.price_per_hour"
    assert price.attrs["units"] == "$/h" and "cost of one system-hour" in price.attrs["long_name"]
    assert ds.workload_isl.attrs["units"] == "tokens" and ds.workload_isl.attrs["key"] == "workload.isl"
    cell = ds.sel(hardware_cerebras_wse3_price_per_hour=60, workload_isl=32000)  # keyword .sel
    assert cell.cost_per_mtok.dims == ("model", "hardware")
    assert ds.attrs["swept_keys"] == "hardware.cerebras_wse3.price_per_hour, workload.isl"
    assert ds.attrs["swept_dims"] == "hardware_cerebras_wse3_price_per_hour, workload_isl"


def test_dim_names_are_unique_identifiers():
    assert dim_name("hardware.b200.price_per_hour", set()) == "hardware_b200_price_per_hour"
    assert dim_name("a.b_c", {"a_b_c"}) == "a_b_c_2"
    assert dim_name("lambda", set()) == "lambda_" and dim_name("1x.y", set()) == "_1x_y"
    for key in ("a-b.c", "hardware.wafer-2.price_per_hour", "x y"):
        assert dim_name(key, set()).isidentifier()


@pytest.mark.parametrize("launcher", ["joblib", "submitit_local"])
def test_parallel_launchers_give_the_same_values(basic_sweep, tmp_path, launcher):
    """Two of the basic sweep's jobs (both prices at ISL 32,000) in parallel: every variable as the
    sequential sweep has it, values, units and labels (the job numbers aside: 0-1 here, 0-3 there)."""
    result, sweep_dir = multirun("model", tmp_path, SWEEP[0], "workload.isl=32000", *SMALL, launcher=launcher)
    assert result.returncode == 0, result.stderr
    ds = xr.load_dataset(sweep_dir / "sweep.nc", engine="h5netcdf")
    sequential = basic_sweep[0].sel(workload_isl=32000, drop=True)
    assert set(ds.data_vars) == set(sequential.data_vars)
    for name in ds.data_vars:
        if name != "job_num":
            xr.testing.assert_identical(ds[name], sequential[name])


def test_a_failed_job_is_reported_and_the_others_collected(tmp_path):
    """grid.isl_points=0 with no extra ISL is an empty grid: exactly one of four jobs, the last,
    fails.  (Each value is valid beside the other key's first value, so the sweep passes the
    check made before any job starts.)"""
    result, sweep_dir = multirun("model", tmp_path, "grid.isl_points=2,0", "grid.isl_extra=[96300],[]",
                                 "grid.concurrency_max=64", "plots.enabled=false")
    assert result.returncode == 1, result.stderr
    assert "job 3 failed: error: grid.isl_points=0: empty ISL grid" in result.stderr
    ds = xr.load_dataset(sweep_dir / "sweep.nc", engine="h5netcdf")
    assert int((ds.job_status == "failed").sum()) == 1 and int((ds.job_status == "ok").sum()) == 3
    failed = ds.where(ds.job_status == "failed", drop=True)
    assert failed.cost_per_mtok.isnull().all()
    ok = ds.sel(grid_isl_points=2)
    assert ok.cost_per_mtok.notnull().any()


def test_not_a_full_product_gives_a_job_dim(tmp_path, grid):
    """Three jobs over (a, b) = (1, x), (2, x), (2, y): not a product, so a job dim with a and b
    as coordinates."""
    headline = grid[["cost_per_mtok"]].isel(isl=0, concurrency=0, drop=True)
    headline.attrs["headline_metric"] = "cost_per_mtok"
    for num, (a, b) in enumerate([(1, "x"), (2, "x"), (2, "y")]):
        job = tmp_path / str(num)
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"a={a}", f"b={b}"]))
        (headline * (num + 1)).to_netcdf(job / "headline.nc", engine="h5netcdf")
        (job / "job.json").write_text(json.dumps({"status": "ok"}))
    ds = collect(tmp_path)
    assert ds.cost_per_mtok.dims[0] == "job" and ds.sizes["job"] == 3
    assert list(ds.a.values) == ["1", "2", "2"] and list(ds.b.values) == ["x", "x", "y"]
    xr.testing.assert_allclose(ds.cost_per_mtok.isel(job=2).reset_coords(drop=True),
                               headline.cost_per_mtok * 3)
