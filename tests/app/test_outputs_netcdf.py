"""Every netCDF file the apps write labels every coordinate and variable with ``units`` and
``long_name``.  :func:`assert_labelled` is called on grid.nc, best_concurrency.nc, sobol.nc and
sweep.nc by the apps' CLI tests (test_model_cli, test_optimize_cli, test_sensitivity_cli,
test_sweeps); the tests here check it on a collected sweep without starting an app."""
import json

import xarray as xr
import yaml

from model.app.sweep import collect, write


def unlabelled(path) -> list[str]:
    """Coordinates and data variables of the netCDF file ``path`` missing ``units`` or ``long_name``."""
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return [f"{name}: no {attr}" for name in [*ds.coords, *ds.data_vars] for attr in ("units", "long_name")
                if attr not in ds[name].attrs]


def assert_labelled(path) -> None:
    """Every coordinate and data variable of ``path`` has ``units`` and ``long_name``."""
    missing = unlabelled(path)
    assert not missing, f"{path}: {missing}"


def fake_sweep(tmp_path, grid, overrides):
    """Job directories as a multirun leaves them: overrides, a headline per job, job.json."""
    headline = grid[["cost_per_mtok"]].isel(isl=0, concurrency=0, drop=True)
    headline.attrs["headline_metric"] = "cost_per_mtok"
    for num, items in enumerate(overrides):
        job = tmp_path / str(num)
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(items))
        (headline * (num + 1)).to_netcdf(job / "headline.nc", engine="h5netcdf")
        (job / "job.json").write_text(json.dumps({"status": "ok"}))


def test_collected_sweep_nc_is_labelled(tmp_path, grid):
    fake_sweep(tmp_path, grid, [[f"hardware.b200.price_per_hour={p}", f"workload.isl={i}"]
                                for p in (5, 9) for i in (32000, 96300)])
    write(collect(tmp_path), tmp_path)
    assert_labelled(tmp_path / "sweep.nc")
    ds = xr.load_dataset(tmp_path / "sweep.nc", engine="h5netcdf")
    price = ds.hardware_b200_price_per_hour
    assert price.attrs["units"] == "$/h" and price.attrs["key"] == "hardware.b200.price_per_hour"
    assert ds.workload_isl.attrs["units"] == "tokens" and ds.workload_isl.attrs["key"] == "workload.isl"


def test_a_sweep_that_is_not_a_product_is_labelled(tmp_path, grid):
    fake_sweep(tmp_path, grid, [["a=1", "b=x"], ["a=2", "b=x"], ["a=2", "b=y"]])
    write(collect(tmp_path), tmp_path)
    assert_labelled(tmp_path / "sweep.nc")
    ds = xr.load_dataset(tmp_path / "sweep.nc", engine="h5netcdf")
    assert ds.a.attrs["key"] == "a" and ds.a.dims == ("job",)
