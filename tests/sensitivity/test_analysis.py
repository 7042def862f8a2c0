"""The cost model's Sobol analysis (``sensitivity.analysis``): sample -> evaluate -> estimate."""
import numpy as np
import pytest
import xarray as xr

import sensitivity
from model.app.config import compose_config
from model.errors import ConfigError
from sensitivity.evaluate import evaluate_design, output_names
from sensitivity.sample import applicable, problem, sample
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
    cfg, _ = applicable(sensitivity.load_config(["sensitivity.n=16"]), ["gpt_oss_120b"])
    prob = problem(cfg)
    x = sample(prob, 16, seed=1)
    flat = indices(prob, evaluate_design(cfg, x), seed=1, outputs=output_names(cfg))
    for name in flat.output.values:
        output, model = name.split("|")
        cell = small_result.sel(output=output, model=model).drop_vars(["output", "model"])
        for key in ("S1", "S1_conf", "ST", "ST_conf", "S2", "S2_conf", "ST_by_n", "clipped", "valid_samples"):
            xr.testing.assert_identical(cell[key], flat[key].sel(output=name, drop=True))
    isl = x[:, prob["names"].index("isl")]
    assert isl.max() <= float(cfg.models.gpt_oss_120b.max_context)  # the ISL range respects the context
    assert float(small_result.beyond_context.sel(model="gpt_oss_120b")) == 0
    assert list(small_result.key.values) == [p.key for p in cfg.sensitivity.parameters.values()]


def test_default_parameters_apply_to_the_analysed_selection():
    """Issue 19: no B200 parameter when only the wafer is analysed (its index would be 0 by
    construction), and no ISL beyond the analysed model's context; the result says both."""
    cfg = sensitivity.load_config(["sensitivity.n=16"])
    narrowed, notes = applicable(cfg, ["gpt_oss_120b"])
    assert "prefill_efficiency_b200" in cfg.sensitivity.parameters  # the declaration itself is untouched
    assert "prefill_efficiency_b200" not in narrowed.sensitivity.parameters
    assert list(narrowed.sensitivity.parameters.isl.bounds) == [32000, 131072]  # gpt-oss-120b's max_context
    assert notes == ["isl (workload.isl) sampled in [32,000, 131,072], not up to 256,000: gpt_oss_120b's "
                     "max_context is 131,072 tokens",
                     "prefill_efficiency_b200 (hardware.b200.prefill_efficiency) left out: b200 is not analysed "
                     "(select.hardware=['cerebras_wse3'])"]
    ds = sensitivity.analyze(cfg)
    assert "prefill_efficiency_b200" not in ds.parameter.values and ds.attrs["scope_notes"] == "\n".join(notes)
    on_gpu, gpu_notes = applicable(sensitivity.load_config(["select.hardware=[b200]"]), ["gpt_oss_120b"])
    assert "prefill_efficiency_wafer" not in on_gpu.sensitivity.parameters
    assert "prefill_efficiency_b200" in on_gpu.sensitivity.parameters
    wide = sensitivity.load_config(["select.models=[deepseek_v3]"])
    context = int(wide.models.deepseek_v3.max_context)
    assert applicable(wide, ["deepseek_v3"])[0].sensitivity.parameters.isl.bounds[1] == min(256000, context)


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
