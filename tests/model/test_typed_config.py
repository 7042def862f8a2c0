"""The core reads typed inputs: a plain :class:`model.schema.ModelConfig` (no OmegaConf in it) gives
the same numbers as the composed config, and the catalog is read once per validated config."""
import dataclasses

import numpy as np
import pytest
import xarray as xr
from omegaconf import OmegaConf, open_dict

import model
from model.parameters import raw_parameters, read_catalog
from model.price_to_beat import price_to_beat
from model.schema import HardwareSpec, ModelConfig
from model.validate import check_config, is_valid

SMALL = ["select.models=[gpt_oss_120b,deepseek_v3]", "select.hardware=[cerebras_wse3,b200,h100_sxm]",
         "grid.isl_points=3", "grid.concurrency_max=48", "grid.concurrency_step=7"]


@pytest.fixture(scope="module")
def cfg():
    return model.load_config(SMALL)


@pytest.fixture(scope="module")
def typed(cfg):
    """The same config as plain dataclasses: what an app edge may build once (OmegaConf.to_object)."""
    out = OmegaConf.to_object(cfg)
    assert isinstance(out, ModelConfig) and type(out.hardware["b200"]) is HardwareSpec
    return out


def test_the_core_gives_the_same_dataset_from_plain_dataclasses(cfg, typed):
    xr.testing.assert_identical(model.evaluate(typed), model.evaluate(cfg))
    xr.testing.assert_identical(model.cheapest_under_sla(typed), model.cheapest_under_sla(cfg))
    xr.testing.assert_identical(price_to_beat(typed), price_to_beat(cfg))


def test_plain_dataclasses_are_checked_as_the_command_line_checks(typed):
    """No OmegaConf validation ran on them: the core's own checks refuse a negative price."""
    assert not is_valid(typed)
    check_config(typed)  # the defaults pass
    bad = dataclasses.replace(typed, hardware={**typed.hardware, "b200": dataclasses.replace(
        typed.hardware["b200"], price_per_hour=-1.0)})
    with pytest.raises(model.ConfigError, match=r"hardware\.b200\.price_per_hour=-1\.0"):
        model.evaluate(bad)


def test_the_catalog_is_read_once_per_validated_config(cfg):
    first = raw_parameters(cfg)
    xr.testing.assert_identical(first, read_catalog(cfg))
    first["price_per_hour"].values[:] = -7.0  # a caller's copy: the next call does not see it
    second = raw_parameters(cfg)
    xr.testing.assert_identical(second, read_catalog(cfg))
    assert (second.price_per_hour > 0).all()


def test_a_config_validated_again_after_a_change_is_read_again():
    cfg = model.load_config(SMALL)
    before = float(raw_parameters(cfg).price_per_hour.sel(hardware="b200"))
    OmegaConf.set_readonly(cfg, False)
    with open_dict(cfg):
        cfg.hardware.b200.price_per_hour = 2 * before
    OmegaConf.set_readonly(cfg, True)
    cfg = model.validate(cfg)
    assert float(raw_parameters(cfg).price_per_hour.sel(hardware="b200")) == 2 * before
    ds = model.evaluate(cfg).sel(hardware="b200")
    per_system = (ds.cost_per_hour / ds.systems).values
    assert np.isfinite(per_system).any()
    assert np.allclose(per_system[np.isfinite(per_system)], 2 * before, rtol=1e-12)
