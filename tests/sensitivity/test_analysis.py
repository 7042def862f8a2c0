"""The cost model's Sobol analysis (``sensitivity.analysis``): sample -> evaluate -> estimate."""
import numpy as np
import pytest
import xarray as xr

import sensitivity
from model.config import compose_config
from model.errors import ConfigError
from sensitivity.evaluate import evaluate_design, output_names
from sensitivity.sample import problem, sample
from sensitivity.schema import register_schemas
from sensitivity.sobol import indices

ONLY_PRICE = ["~sensitivity.parameters.cache_read_ratio", "~sensitivity.parameters.isl",
              "~sensitivity.parameters.concurrency", "~sensitivity.parameters.interactivity",
              "~sensitivity.parameters.hop_latency", "~sensitivity.parameters.prefill_efficiency_wafer",
              "~sensitivity.parameters.prefill_efficiency_b200"]


def test_price_alone_explains_fixed_concurrency_cost():
    """Cost at a fixed concurrency is price x (something price does not touch): with only
    price_per_hour varied, its S1 is 1 within the interval."""
    ds = sensitivity.analyze(sensitivity.load_config([*ONLY_PRICE, "sensitivity.n=512"]))
    cell = ds.sel(output="cost_per_mtok", model="gpt_oss_120b", parameter="price_per_hour")
    assert abs(float(cell.S1) - 1) <= float(cell.S1_conf) + 1e-9
    assert float(cell.ST) == pytest.approx(1, abs=1e-9)


def test_default_analysis_has_a_model_dim_and_is_deterministic():
    cfg = sensitivity.load_config(["sensitivity.n=256", "sensitivity.all_models=true",
                                   "sla.min_interactivity=100"])
    a, b = sensitivity.analyze(cfg), sensitivity.analyze(cfg)
    xr.testing.assert_identical(a, b)
    assert a.S1.dims == ("output", "model", "parameter") and a.sizes["model"] == 7
    assert a.S2.dims == ("output", "model", "parameter", "parameter_2")
    assert list(a.ST_by_n.n_base.values) == [64, 128, 256]
    different = sensitivity.analyze(sensitivity.load_config(["sensitivity.n=256", "sensitivity.seed=2"]))
    assert not np.allclose(different.S1.sel(model="gpt_oss_120b"), a.S1.sel(model="gpt_oss_120b"))


def test_analyze_is_the_three_steps(small_result):
    """``analyze`` = sample -> evaluate_design -> indices, unstacked into (output, model)."""
    cfg = sensitivity.load_config(["sensitivity.n=16"])
    prob = problem(cfg)
    x = sample(prob, 16, seed=1)
    flat = indices(prob, evaluate_design(cfg, x), seed=1, outputs=output_names(cfg))
    for name in flat.output.values:
        output, model = name.split("|")
        cell = small_result.sel(output=output, model=model).drop_vars(["output", "model"])
        for key in ("S1", "S1_conf", "ST", "ST_conf", "S2", "S2_conf", "ST_by_n", "clipped", "valid_samples"):
            xr.testing.assert_identical(cell[key], flat[key].sel(output=name, drop=True))
    isl = x[:, prob["names"].index("isl")]
    share = (isl > float(cfg.models.gpt_oss_120b.max_context)).mean()
    assert 0 < share < 1 and float(small_result.beyond_context.sel(model="gpt_oss_120b")) == share
    assert list(small_result.key.values) == [p.key for p in cfg.sensitivity.parameters.values()]


@pytest.mark.parametrize("override,message", [
    ("sensitivity.n=1000", "sensitivity.n=1000: must be a power of two"),
    ("sensitivity.seed=0", "sensitivity.seed=0: must be >= 1"),
    ("sensitivity.num_resamples=1", "sensitivity.num_resamples=1: must be >= 2"),
])
def test_unvalidated_config_errors_name_the_key(override, message):
    """The engine's ValueError reaches an unvalidated config's caller as a ConfigError on the key."""
    register_schemas()
    cfg = compose_config("sensitivity", [override])  # composed, not validated
    with pytest.raises(ConfigError) as err:
        sensitivity.analyze(cfg)
    assert str(err.value).startswith(message)
