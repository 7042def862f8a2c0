"""The Python API behaves like xarray and refuses bad input like the command line (issue: newcomer)."""
import numpy as np
import pytest
import xarray as xr

import model

SMALL = ["select.models=[gpt_oss_120b]", "select.hardware=[b200]"]


@pytest.fixture(scope="module")
def small():
    return model.load_config(SMALL)


def test_lists_become_named_grid_dims_with_coordinates(small):
    ds = model.evaluate(small, isl=[50000], concurrency=[1, 8])
    assert dict(ds.sizes) == {"model": 1, "hardware": 1, "isl": 1, "concurrency": 2}
    assert list(ds.concurrency.values) == [1, 8]
    square = model.evaluate(small, isl=[50000, 60000], concurrency=[1, 8])  # equal lengths: a grid, not pairs
    assert square.sizes["isl"] == 2 and square.sizes["concurrency"] == 2
    one = model.evaluate(small, isl=np.array([60000]), concurrency=8).squeeze()
    assert float(one.cost_per_mtok) == float(square.cost_per_mtok.sel(isl=60000, concurrency=8).squeeze())


def test_a_dataarray_without_coordinate_gets_one(small):
    ds = model.evaluate(small, isl=xr.DataArray([50000], dims="isl"), concurrency=[4])
    assert float(ds.sel(isl=50000, concurrency=4).cost_per_mtok.squeeze()) > 0


def test_a_list_parameter_becomes_a_dim_named_after_its_key(small):
    ds = model.evaluate(small, {"hardware.b200.price_per_hour": [2.0, 4.0]}, isl=[50000], concurrency=[4])
    cost = ds.cost_per_mtok.sel(hardware_b200_price_per_hour=[2.0, 4.0]).squeeze().values
    assert cost[1] == pytest.approx(2 * cost[0], rel=1e-12)


@pytest.mark.parametrize("params,key", [
    ({"hardware.b200.price_per_hour": -10}, "hardware.b200.price_per_hour"),
    ({"hardware.b200.memory_gb": [80, -2]}, "hardware.b200.memory_gb"),
    ({"workload.mix.output": 1.5}, "workload.mix.output"),
    ({"hardware.b200.bandwidth_efficiency": 1.5}, "hardware.b200.bandwidth_efficiency"),
    ({"hardware.b200.memory_gb": "lots"}, "hardware.b200.memory_gb"),
    ({"hardware.b200.no_such_field": 1}, "params"),
    ({"models.gpt_oss_120b.layers": 0}, "models.gpt_oss_120b.layers"),
])
def test_parameters_are_checked_like_config_values(small, params, key):
    with pytest.raises(model.ConfigError) as err:
        model.evaluate(small, params, isl=[50000], concurrency=[4])
    assert str(err.value).startswith(key) and "\n" not in str(err.value)


def test_bad_grid_values_and_variable_names_are_config_errors(small):
    with pytest.raises(model.ConfigError, match="^isl=-5.0"):
        model.evaluate(small, isl=[-5], concurrency=[4])
    with pytest.raises(model.ConfigError, match="^variables='cost_per_mtk': not a per-cell output"):
        model.evaluate(small, variables=["cost_per_mtk"])


@pytest.mark.parametrize("key", ["hardware.b200.memory_gb", "hardware.b200.price_per_hour",
                                 "models.gpt_oss_120b.active_params_b", "hardware.b200.bandwidth_efficiency"])
def test_a_nan_input_makes_the_cell_infeasible_never_a_negative_size(small, key):
    ds = model.evaluate(small, {key: np.nan}, isl=[50000], concurrency=[4]).squeeze()
    assert not bool(ds.feasible) and np.isnan(float(ds.cost_per_mtok)) and int(ds.systems) >= 0
