"""Decisions under uncertainty (sensitivity.uncertainty): scenarios, bands, win probabilities, the app."""
import subprocess

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.stats import qmc, triang, truncnorm

import sensitivity
import sensitivity.uncertainty as U
from model.cheapest import cheapest_under_sla
from model.errors import ConfigError
from model.evaluate import evaluate
from model.price_to_beat import NONE
from sensitivity.schema import Distribution
from sensitivity.uncertainty.bands import evaluate_scenarios
from sensitivity.uncertainty.scenarios import (
    draw,
    inverse_cdf,
    model_error_overrides,
    parameter_names,
    scenario_params,
    unit_design,
)
from sensitivity.uncertainty.win import win_probability
from tests.helpers import ROOT, overridden, point_overrides, python_cmd

SMALL = ["uncertainty.n=16", "grid.concurrency_max=128", "uncertainty.isl=[32000]"]


@pytest.fixture(scope="module")
def cfg():
    return U.load_config(SMALL)


def configured(cfg, overrides):
    """``U.load_config(SMALL + overrides)``, set on the module's composed ``cfg`` in memory
    (tests.helpers.overridden; each config below was checked equal to composing it)."""
    return overridden(cfg, overrides, U.validate)


@pytest.fixture(scope="module")
def low_sla(cfg):
    """An SLA both the wafer and the B200 can meet, so that win probabilities are not trivial."""
    return configured(cfg, ["sla.min_interactivity=100"])


@pytest.fixture(scope="module")
def result(low_sla):
    return U.analyze(low_sla)


def test_collapsed_distributions_give_the_point_estimate(cfg):
    """Every distribution a point and sigma 0: every band (each quantile) equals the catalog value
    to rtol 1e-12, and the win probabilities are 1 on the point estimate's cheapest hardware."""
    point = configured(cfg, point_overrides(cfg) + ["sla.min_interactivity=100"])
    ds = U.analyze(point)
    for name in ("cost_per_mtok", "optimal_cost_per_mtok", "optimal_replica_capex", "price_to_beat"):
        band, at = ds[name], ds[f"{name}_point"].broadcast_like(ds[name])
        finite = np.isfinite(at)
        np.testing.assert_allclose(band.where(finite), at.where(finite), rtol=1e-12, equal_nan=True)
        assert (np.isinf(band) == np.isinf(at)).all() and (band.isnull() == at.isnull()).all(), name
    winner = ds.win_probability.idxmax("winner")
    assert (winner == ds.cheapest_hardware_point).all() and (ds.win_probability.max("winner") == 1).all()


def test_point_scenarios_are_exactly_the_catalog(cfg):
    point = configured(cfg, point_overrides(cfg))
    params = scenario_params(point, draw(point))
    for key, value in params.items():
        if key.startswith("hardware.") and key.count(".") == 2:
            _, hw, field = key.split(".")
            assert (value == float(point.hardware[hw][field])).all(), key


def test_inverse_cdfs_match_scipy():
    u = unit_design(1, 64, 3)[:, 0]
    np.testing.assert_allclose(inverse_cdf(u, Distribution.uniform, 2, 6), 2 + 4 * u, rtol=1e-14)
    np.testing.assert_allclose(inverse_cdf(u, Distribution.loguniform, 1e-6, 1e-5),
                               np.exp(np.log(1e-6) + u * np.log(10)), rtol=1e-12)
    np.testing.assert_allclose(inverse_cdf(u, Distribution.triangular, 0.5, 1.5, mode=1.2),
                               triang.ppf(u, 0.7, loc=0.5, scale=1.0), rtol=1e-12)
    np.testing.assert_allclose(inverse_cdf(u, Distribution.normal, mean=5.0, sd=2.0),
                               truncnorm.ppf(u, -3, 3, loc=5.0, scale=2.0), rtol=1e-12)
    assert (inverse_cdf(u, Distribution.loguniform, 3.0, 3.0) == 3.0).all()
    assert (inverse_cdf(u, Distribution.normal, mean=7.0, sd=0.0) == 7.0).all()


def test_the_truncated_normal_is_truncated_not_clipped():
    """Issue 19: clipping put 0.27% of draws exactly at ±3 sd; truncating spreads that mass inside."""
    n = 1 << 16
    u = (np.arange(n) + 0.5) / n  # an even grid of the unit interval: the draws' distribution, to 1/n
    x = inverse_cdf(u, Distribution.normal, mean=5.0, sd=2.0)
    assert x.min() > 5.0 - 6.0 and x.max() < 5.0 + 6.0
    assert np.count_nonzero(np.isclose(np.abs(x - 5.0), 6.0, rtol=0, atol=1e-9)) == 0  # no atoms at the bounds
    ref = truncnorm(-3, 3, loc=5.0, scale=2.0)
    assert x.mean() == pytest.approx(ref.mean(), abs=1e-4)
    assert x.var() == pytest.approx(ref.var(), rel=1e-3)
    assert ref.var() < 4.0 * 0.975  # truncation narrows the variance (clipping would keep 0.2% more of it)
    # random draws as the scenarios use them: the sample moments match truncnorm's within sampling error
    draws = inverse_cdf(np.random.default_rng(19).random(20_000), Distribution.normal, mean=5.0, sd=2.0)
    assert abs(draws.mean() - ref.mean()) < 4 * ref.std() / np.sqrt(draws.size)
    assert abs(draws.var() / ref.var() - 1) < 4 * np.sqrt(2 / draws.size) * 1.1


def test_scenarios_are_a_scrambled_sobol_design_mapped_by_inverse_cdf(cfg):
    d = draw(cfg, 32)
    expected = qmc.Sobol(len(parameter_names(cfg)) + 2 * d.sizes["error_hardware"], scramble=True,
                         rng=int(cfg.uncertainty.seed)).random_base2(5)
    np.testing.assert_allclose(d.b200_price,
                               inverse_cdf(expected[:, 1], Distribution.triangular, 0.75 * 2.07, 1.25 * 2.07,
                                           mode=2.07), rtol=1e-12)
    assert (draw(cfg, 16).wafer_price.values == d.wafer_price.values[:16]).all()  # a prefix of the same sequence
    sigma = float(cfg.uncertainty.model_error.interactivity.sigma)
    factor = d.interactivity_factor.sel(error_hardware="b200").values
    assert np.isclose(np.median(np.log(factor)), 0, atol=0.1) and np.isclose(np.std(np.log(factor)), sigma, rtol=0.2)


def test_model_error_scales_decode_step_and_prefill_time_exactly(cfg):
    """f_I divides the decode step, f_T multiplies the prefill time, on B200 (physical prefill: f_T < 1
    passes through peak_dense_tflops, as an efficiency may not exceed 1) and in ratio mode."""
    variables = ["step_time", "prefill_time", "prefill_capacity", "interactivity", "ttft"]
    at = {"isl": [32000], "concurrency": [1, 8, 64]}
    for mode in ("physical", "ratio"):
        c = configured(cfg, [f"hardware.b200.prefill_mode={mode}"])
        base = evaluate(c, **at, variables=variables).sel(hardware="b200")
        for f_i, f_t in ((2.0, 3.0), (0.7, 0.5)):
            keys = model_error_overrides(c, {}, xr.DataArray(f_i), xr.DataArray(f_t), "b200")
            moved = evaluate(c, keys, **at, variables=variables).sel(hardware="b200")
            np.testing.assert_allclose(moved.step_time, base.step_time / f_i, rtol=1e-12)
            np.testing.assert_allclose(moved.prefill_time, base.prefill_time * f_t, rtol=1e-12)
            if mode == "ratio":  # both exact: I = 1 / step, TTFT = L / (ratio I)
                np.testing.assert_allclose(moved.interactivity, base.interactivity * f_i, rtol=1e-12)
                np.testing.assert_allclose(moved.ttft, base.ttft * f_t, rtol=1e-12)
            else:
                np.testing.assert_allclose(1 / moved.prefill_capacity, f_t / base.prefill_capacity, rtol=1e-12)


def test_interactivity_multiplier_alone_does_not_move_a_gpu(cfg):
    """Why f_I cannot just multiply interactivity_multiplier: GPUs have no measured rate to scale."""
    base = evaluate(cfg, isl=[32000], variables=["interactivity"]).sel(hardware="b200")
    moved = evaluate(cfg, {"hardware.b200.interactivity_multiplier": 2.0}, isl=[32000],
                     variables=["interactivity"]).sel(hardware="b200")
    np.testing.assert_array_equal(moved.interactivity, base.interactivity)


def test_vectorized_scenarios_equal_one_call_per_scenario(low_sla):
    """The one vectorized pass (in chunks of 4) gives each scenario what a scalar call gives it."""
    d = draw(low_sla, 16)
    params = scenario_params(low_sla, d)
    samples = evaluate_scenarios(low_sla, params, [32000], chunk=4)
    for s in (0, 7, 15):
        one = {k: float(v.isel(scenario=s)) for k, v in params.items()}
        alone = evaluate_scenarios(low_sla, one, [32000])
        for name in ("cost_per_mtok", "optimal_cost_per_mtok", "optimal_concurrency"):
            np.testing.assert_allclose(samples[name].isel(scenario=s), alone[name], rtol=1e-12, equal_nan=True)


def test_trimmed_catalog_changes_no_number(low_sla):
    """evaluate_scenarios derives on the selected catalog only (selected_catalog): the same numbers
    as the cost model on the whole catalog, every model-error key of every GPU included."""
    params = scenario_params(low_sla, draw(low_sla, 16))
    samples = evaluate_scenarios(low_sla, params, [32000])
    whole = cheapest_under_sla(low_sla, params, isl=[32000])
    for name, reduced in (("optimal_cost_per_mtok", "cost_per_mtok"), ("optimal_concurrency", "concurrency")):
        np.testing.assert_allclose(samples[name], whole[reduced].transpose(*samples[name].dims), rtol=1e-14,
                                   equal_nan=True)


def test_bands_are_the_quantiles_of_the_scenarios(low_sla, result):
    params = scenario_params(low_sla, draw(low_sla))
    samples = evaluate_scenarios(low_sla, params, U.isl_values(low_sla))
    expected = samples.optimal_cost_per_mtok.quantile(result["quantile"].values, dim="scenario", skipna=True)
    np.testing.assert_allclose(result.optimal_cost_per_mtok.transpose(*expected.dims), expected, rtol=1e-12,
                               equal_nan=True)


def test_win_probabilities_sum_to_one(result):
    """Per (model, ISL): the hardware and none sum to 1, and where some hardware meets the SLA in
    every scenario, the hardware alone do."""
    total = result.win_probability.sum("winner")
    np.testing.assert_allclose(total, 1.0, rtol=0, atol=1e-12)
    hardware_only = result.win_probability.sel(winner=[h for h in result.winner.values if h != NONE]).sum("winner")
    always = result.win_probability.sel(winner=NONE) == 0
    np.testing.assert_allclose(hardware_only.where(always), 1.0, atol=1e-12)
    assert (result.win_probability.sel(winner="b200") > 0).any()  # the low SLA lets the B200 in


def test_win_probability_by_hand():
    cost = xr.DataArray([[1.0, 2.0], [3.0, 2.0], [np.nan, 5.0], [np.nan, np.nan]], dims=("scenario", "hardware"),
                        coords={"hardware": ["a", "b"]})
    p = win_probability(cost)
    assert list(p.winner.values) == ["a", "b", NONE]
    np.testing.assert_allclose(p, [0.25, 0.5, 0.25])


def test_every_variable_and_coordinate_has_units_and_long_name(result):
    for name in list(result.data_vars) + list(result.coords):
        assert "units" in result[name].attrs and result[name].attrs.get("long_name"), name


def test_the_sensitivity_api_is_unchanged():
    assert set(sensitivity.__all__) == {"sobol", "estimate", "indices", "problem", "analyze", "load_config", "validate",
                                        "register_schemas"}
    assert sensitivity.analyze is not U.analyze


BAD = [
    (["uncertainty.n=1000"], "uncertainty.n=1000"),
    (["uncertainty.n=8"], "uncertainty.n=8"),
    (["uncertainty.robust.n=100"], "uncertainty.robust.n=100"),
    (["uncertainty.robust.q=0"], "uncertainty.robust.q=0"),
    (["uncertainty.robust.q=1.5"], "uncertainty.robust.q=1.5"),
    (["uncertainty.quantiles=[0.5,0.05,0.95]"], "uncertainty.quantiles"),
    (["uncertainty.parameters.wafer_price.bounds=[1.5,0.5]"], "uncertainty.parameters.wafer_price.bounds"),
    (["uncertainty.parameters.b200_compute_efficiency.bounds=[0.5,1.5]"],
     "uncertainty.parameters.b200_compute_efficiency.bounds"),
    (["uncertainty.parameters.wafer_hop_latency.key=hardware.nope.hop_latency_s"],
     "uncertainty.parameters.wafer_hop_latency.key"),
    (["uncertainty.parameters.wafer_capex.distribution=loguniform", "uncertainty.parameters.wafer_capex.bounds=[0,1]"],
     "uncertainty.parameters.wafer_capex.bounds"),
    (["uncertainty.parameters.wafer_price.mode=2"], "uncertainty.parameters.wafer_price.mode"),
    (["uncertainty.parameters.b200_kv_load.key=hardware.cerebras_wse3.price_per_hour"],
     "uncertainty.parameters.b200_kv_load.key"),
    (["uncertainty.parameters.b200_kv_load.key=workload.isl"], "uncertainty.parameters.b200_kv_load.key"),
    (["uncertainty.model_error.ttft.sigma=-0.1"], "uncertainty.model_error.ttft.sigma"),
    (["uncertainty.model_error.hardware=[b200,nope]"], "uncertainty.model_error.hardware"),
    (["select.hardware=[b200]"], "select.hardware"),
    (["uncertainty.price_to_beat.hardware=[h200]"], "uncertainty.price_to_beat.hardware"),
    (["uncertainty.price_to_beat.min_interactivity=[-5]"], "uncertainty.price_to_beat.min_interactivity"),
    (["uncertainty.isl=[0]"], "uncertainty.isl"),
    (["uncertainty.parameters.wafer_price.source=''"], "uncertainty.parameters.wafer_price.source"),
]


@pytest.mark.parametrize("overrides,key", BAD)
def test_bad_input_is_one_line(overrides, key):
    with pytest.raises(ConfigError) as err:
        U.load_config(overrides)
    assert str(err.value).startswith(key) and "\n" not in str(err.value)


def test_equal_bounds_are_a_point_not_an_error():
    U.load_config(["uncertainty.parameters.wafer_hop_latency.bounds=[5.0e-6,5.0e-6]"])


@pytest.mark.cli
def test_cli_writes_the_four_files(tmp_path):
    run_dir = tmp_path / "run"
    args = ["-m", "sensitivity.uncertainty", "uncertainty.n=16", "uncertainty.robust.n=16", "uncertainty.isl=[32000]",
            "grid.concurrency_max=128", f"hydra.run.dir={run_dir}"]
    result = subprocess.run(python_cmd(*args), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "Probability of being the cheapest" not in result.stdout  # the detail waits for output.detail=true
    bands = xr.open_dataset(run_dir / "bands.nc", engine="h5netcdf")
    assert set(bands.optimal_cost_per_mtok.dims) == {"model", "hardware", "isl", "quantile"}
    assert list(bands.isl.values) == [32000, 96300] and bands.sizes["quantile"] == 3
    assert set(bands.win_probability.dims) == {"model", "isl", "winner"}
    wins = pd.read_csv(run_dir / "win_probability.csv")
    assert list(wins.columns) == ["model", "isl [tokens]", "cerebras_wse3 [1]", "b200 [1]", "none [1]"]
    np.testing.assert_allclose(wins.iloc[:, 2:].sum(axis=1), 1.0, atol=1e-12)
    plan = pd.read_csv(run_dir / "robust_plan.csv")
    assert {"plan", "row", "share_meets_demand_and_sla [1]", "premium [1]"} <= set(plan.columns)
    assert set(plan.plan) == {"robust", "point"} and (plan.row == "total").sum() == 2
    # the answer first (issue 19): the robust plan's headline names the models it covers and why the others
    # are out; every summary line fits 100 columns
    lines = result.stdout.splitlines()
    dropped = str(plan.loc[plan.row == "total", "dropped_models"].iloc[0])
    dropped = [] if dropped == "nan" else dropped.split()
    covered = [m for m in ("deepseek_v4", "kimi_k2_6", "gpt_oss_120b", "glm_4_7", "deepseek_v3") if m not in dropped]
    scope = f"{len(covered)} of 5 models ({', '.join(covered)})" if dropped else "all 5 models"
    assert lines[0].startswith(("Robust fleet plan (q = 0.9) for ", "No robust fleet plan (q = 0.9) for "))
    assert scope in " ".join(" ".join(lines[:3]).split())  # the headline may wrap
    for model in dropped:
        assert any(line.startswith(f"  left out of both plans: {model} (") for line in lines[:12])
    assert all(len(line) <= 100 for line in lines if not line.startswith("wrote "))
    ptb = xr.open_dataset(run_dir / "price_to_beat.nc", engine="h5netcdf")
    assert ptb.price_to_beat.dims == ("model", "hardware", "isl", "min_interactivity")
    assert ptb.price_to_beat.attrs["units"] == "$/h" and "switch_min_interactivity" in ptb
    for name in ("bands.png", "price_to_beat.png"):
        assert (run_dir / name).stat().st_size > 0

    bad = subprocess.run(python_cmd("-m", "sensitivity.uncertainty", "uncertainty.robust.q=1",
                                    f"hydra.run.dir={tmp_path / 'bad'}"), cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        "error: uncertainty.robust.q=1.0: must be in (0, 1)"]


def test_the_files_and_figures_are_a_stage(cfg, tmp_path, monkeypatch, capsys):
    """The uncertainty app wrote its files and drew its two figures for 3 s with nothing on stderr
    (2026-12-07): one stage now, counted in files (3 data files without the robust plan, then the two
    figures).  ``LOG_AFTER_S`` 0 so that a fast machine logs it too."""
    from model.app import progress
    from sensitivity.uncertainty.job import run

    monkeypatch.setattr(progress, "LOG_AFTER_S", 0.0)
    run(configured(cfg, ["uncertainty.robust.enabled=false"]), tmp_path)
    err = capsys.readouterr().err.splitlines()
    writing = [line for line in err if line.startswith("writing the files and figures: ")]
    assert writing[0] == "writing the files and figures: 0/5 file after 0 s"
    assert writing[-1].startswith("writing the files and figures: done, 5/5 file in ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bands.nc", "bands.png", "price_to_beat.nc",
                                                          "price_to_beat.png", "win_probability.csv"]
