"""Every catalog entry composes, evaluates and records its sources.

The whole catalog is composed once (the session's ``cfg``); each entry is selected on it in memory
(tests.helpers.overridden: the config composing ``select.*=[name]`` gives, checked key for key in
tests/model/test_serving_settings.py and, for every selection below, in a scratch run)."""
import numpy as np
import pytest

import model
from model.schema import HardwareSpec, ModelSpec
from tests.helpers import overridden

HARDWARE = ["cerebras_wse3", "h100_sxm", "h200", "b200", "gb200_nvl72", "mi300x", "mi355x", "b300", "gb300_nvl72",
            "mi325x", "trainium2"]
MODELS = ["deepseek_v4", "kimi_k2_6", "gpt_oss_120b", "glm_4_7", "deepseek_v3", "deepseek_r1", "llama_3_3_70b"]


def test_catalog_holds_every_spec_entry(cfg):
    assert list(cfg.hardware) == HARDWARE
    assert list(cfg.models) == MODELS


@pytest.mark.parametrize("name", HARDWARE)
def test_hardware_entry_evaluates(cfg, name):
    cfg = overridden(cfg, [f"select.hardware=[{name}]"])
    ds = model.evaluate(cfg)
    assert ds.sizes["hardware"] == 1
    assert ds.feasible.any() and np.isfinite(ds.cost_per_mtok.where(ds.feasible)).any()


@pytest.mark.parametrize("name", MODELS)
def test_model_entry_evaluates(cfg, name):
    cfg = overridden(cfg, [f"select.models=[{name}]"])
    ds = model.evaluate(cfg)
    assert ds.sizes["model"] == 1 and ds.feasible.any()


@pytest.mark.parametrize("name", HARDWARE)
def test_hardware_numbers_have_sources(cfg, name):
    entry = cfg.hardware[name]
    for key in ("memory_gb", "memory_bandwidth_tb_s", "price_per_hour", "capex_per_system"):
        assert key in entry.source, key
    assert set(entry.uncertain) <= set(HardwareSpec.__dataclass_fields__)
    assert set(entry.source) <= set(HardwareSpec.__dataclass_fields__)


@pytest.mark.parametrize("name", MODELS)
def test_model_numbers_have_sources(cfg, name):
    entry = cfg.models[name]
    for key in ("total_params_b", "active_params_b", "layers", "max_context", "interactivity"):
        assert key in entry.source, key
    assert ("weight_gb" if entry.weight_gb is not None else "weight_bits") in entry.source
    assert entry.attention.value == "explicit" or "attention" in entry.source
    fields = set(ModelSpec.__dataclass_fields__)
    assert set(entry.uncertain) <= fields and set(entry.source) <= fields


def test_kimi_measured_rate_is_one_override(cfg):
    """docs/model.md §3: the public calculator's later 981 tok/s for Kimi K2.6 is a one-key override."""
    cfg = overridden(cfg, ["models.kimi_k2_6.interactivity.cerebras_wse3.tok_s=981"])
    assert float(model.evaluate(cfg).base_interactivity.sel(model="kimi_k2_6", hardware="cerebras_wse3")) == 981


def test_unmeasured_model_on_the_wafer_uses_the_fitted_power_law(cfg):
    """Without its seed entry, DeepSeek V3 (37 B active) on the wafer gets the curve fitted to
    the two measured anchors: 3,321.6 / 37**0.29353 = 1,150.9 tok/s (the seed bumped it to 1,350)."""
    removed = model.load_config(["~models.deepseek_v3.interactivity.cerebras_wse3"])
    rate = float(model.evaluate(removed).base_interactivity.sel(model="deepseek_v3", hardware="cerebras_wse3"))
    grid = model.evaluate(cfg)
    a, b = float(grid.power_law_a.sel(hardware="cerebras_wse3")), float(grid.power_law_b.sel(hardware="cerebras_wse3"))
    assert rate == pytest.approx(a / 37 ** b, rel=1e-12)
    assert round(rate, 1) == 1150.9


def test_explicit_power_law_overrides_the_fit():
    cfg = model.load_config(["~models.deepseek_v3.interactivity.cerebras_wse3",
                             "hardware.cerebras_wse3.power_law_a=3007", "hardware.cerebras_wse3.power_law_b=0.234"])
    rate = float(model.evaluate(cfg).base_interactivity.sel(model="deepseek_v3", hardware="cerebras_wse3"))
    assert rate == pytest.approx(3007 / 37 ** 0.234, rel=1e-12)
