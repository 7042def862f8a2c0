"""Helpers shared by the tests (fixtures live in conftest.py)."""
import functools
import sys
from pathlib import Path

import xarray as xr

ROOT = Path(__file__).resolve().parents[1]

# the docs/model.md §8 hand-worked cell (tests/model/test_prefill.py): DeepSeek V3 FP8 on 8 B200, L 8,000, N 16
HAND_WORKED_CELL = [
    "workload.mix.cache_read=0.5", "workload.mix.cache_write=0.1", "workload.mix.input=0.2",
    "workload.mix.output=0.2", "workload.kv_tier=device", "hardware.b200.min_systems=8",
    "hardware.b200.max_systems=8", "hardware.b200.prefill_efficiency=0.5", "hardware.b200.prefill_overhead_s=0.1",
    "hardware.b200.bandwidth_efficiency=0.5", "hardware.b200.layer_overhead_s=1e-4",
    "hardware.b200.peak_dense_tflops=4500", "hardware.b200.compute_efficiency=1.0",
    "select.models=[deepseek_v3]", "select.hardware=[b200]"]


def at(isl, concurrency):
    """Keyword arguments that evaluate one ISL and one concurrency."""
    return {"isl": xr.DataArray([isl], dims="isl", coords={"isl": [isl]}),
            "concurrency": xr.DataArray([concurrency], dims="concurrency",
                                        coords={"concurrency": [concurrency]})}


def python_cmd(*args):
    """A subprocess command running this interpreter (the test venv's)."""
    return [sys.executable, *args]


def assert_matches_oracle(ds, expected: dict) -> None:
    """Every quantity the pointwise oracle gives for one cell equals the grid's (``ds``, the cell
    selected): flags exactly, NaN where the oracle has NaN, numbers to 1e-12 relative."""
    import math

    from model.results import ON_REQUEST

    for key, value in expected.items():
        if key in ON_REQUEST and key not in ds:  # computed only when asked for by name
            continue
        got = ds[key].item()
        if isinstance(value, bool):
            assert bool(got) == value, key
        elif math.isnan(value):
            assert math.isnan(got), key
        else:
            assert math.isclose(got, value, rel_tol=1e-12), (key, got, value)


def point_overrides(cfg) -> list[str]:
    """Overrides that collapse every declared uncertainty distribution and the GPU model error of
    ``cfg`` (an uncertainty config) to the catalog value: its scenarios are all the catalog point."""
    from omegaconf import OmegaConf

    out = ["uncertainty.model_error.interactivity.sigma=0", "uncertainty.model_error.ttft.sigma=0"]
    for name, p in cfg.uncertainty.parameters.items():
        k = f"uncertainty.parameters.{name}"
        value = 1.0 if p.relative else float(OmegaConf.select(cfg, p.key))
        out.append(f"{k}.bounds=[{value!r},{value!r}]")
        if p.mode is not None:
            out.append(f"{k}.mode=null")
    return out


def overridden(cfg, overrides, validate_with=None):
    """The config ``load_config(base + overrides)`` gives, built from ``cfg`` (``load_config(base)``)
    in memory: each ``key=value`` is read by Hydra's own override parser and set on a copy, which is
    validated again (:func:`model.app.config.with_values`).  A compose costs ~0.4 s of CPU, this
    ~0.03 s.  Plain changes of existing keys only (no ``+``, ``~`` or sweeps); that the result is the
    composed config is checked in tests/model/test_serving_settings.py."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import OverrideType

    from model.app.config import with_values

    parsed = OverridesParser.create().parse_overrides(list(overrides))
    assert all(o.type is OverrideType.CHANGE and not o.is_sweep_override() for o in parsed), overrides
    values = {o.key_or_group: o.value() for o in parsed}
    return with_values(cfg, values) if validate_with is None else with_values(cfg, values, validate_with)


@functools.cache
def _hand_worked_base():
    import model

    return model.load_config(HAND_WORKED_CELL)


def hand_worked(overrides=()):
    """``model.load_config(HAND_WORKED_CELL + overrides)``: the cell's config is composed once per
    process and ``overrides`` set on it in memory (:func:`overridden`)."""
    return overridden(_hand_worked_base(), overrides)
