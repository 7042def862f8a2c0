"""The Python API refuses what the command line refuses, before allocating anything large."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import xarray as xr
from omegaconf import OmegaConf

import model
from model.errors import ConfigError

SMALL = ["grid.isl_points=2", "grid.concurrency_max=8"]


@pytest.fixture(scope="module")
def cfg():
    return model.load_config(SMALL)


@pytest.mark.parametrize("patch, says", [
    ({"price_per_hour": -5.0}, "hardware.cerebras_wse3.price_per_hour=-5.0"),
    ({"memory_gb": float("nan")}, "hardware.cerebras_wse3.memory_gb=nan"),
    ({"memory_gb": 1e-300}, "hardware.cerebras_wse3.memory_gb=1e-300"),
])
def test_a_merged_config_is_checked_like_a_composed_one(cfg, patch, says):
    bad = OmegaConf.merge(cfg, {"hardware": {"cerebras_wse3": patch}})
    with pytest.raises(ConfigError, match="^" + says.replace(".", r"\.").replace("+", r"\+")):
        model.evaluate(bad)


def test_systems_never_wrap_when_a_parameter_array_leaves_the_countable_range(cfg):
    """44 GB wafers are buildable; a 1e-300 GB one would need ~1e311 systems: infeasible, 0 systems
    (no size can be said), never a negative wrapped integer."""
    ds = model.evaluate(cfg, {"hardware.cerebras_wse3.memory_gb": xr.DataArray([44, 1e-300], dims="memory")})
    wafer = ds.sel(hardware="cerebras_wse3")
    assert (wafer.systems >= 0).all()
    assert bool(wafer.feasible.isel(memory=0).any()) and not bool(wafer.feasible.isel(memory=1).any())
    assert (wafer.systems.isel(memory=1) == 0).all()


def test_a_huge_concurrency_array_is_refused_before_it_is_evaluated(cfg):
    """1e9 concurrencies, held as a broadcast view (no memory): the result would be ~100 TB."""
    huge = np.broadcast_to(np.int64(1), (10**9,))
    with pytest.raises(ConfigError, match=r"^grid='[\d,.]+ GB'"):
        model.evaluate(cfg, concurrency=huge)


def test_load_config_from_eight_threads():
    with ThreadPoolExecutor(8) as pool:
        configs = list(pool.map(lambda i: model.load_config([f"workload.isl={1000 + i}"]), range(8)))
    assert [c.workload.isl for c in configs] == list(range(1000, 1008))


def test_the_readmes_dask_chunks_key_needs_no_plus():
    cfg = model.load_config(["dask.chunks.isl=8"])
    assert cfg.dask.chunks.isl == 8 and cfg.dask.chunks.concurrency is None
