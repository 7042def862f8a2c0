"""Properties that must hold on any grid (hypothesis)."""

import numpy as np
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import model
from model.app.config import with_values
from model.pointwise import cell
from tests.helpers import assert_matches_oracle

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

isl_values = st.lists(st.integers(1_000, 1_000_000), min_size=1, max_size=6, unique=True).map(sorted)
concurrency_values = st.lists(st.integers(1, 2048), min_size=1, max_size=8, unique=True).map(sorted)
hardware_names = st.sampled_from(["cerebras_wse3", "h100_sxm", "h200", "b200", "gb200_nvl72", "mi300x", "mi355x"])


def _axis(values, dim):
    return xr.DataArray(values, dims=dim, coords={dim: values})


def _eval(cfg, isl, conc, params=None):
    return model.evaluate(cfg, params, isl=_axis(isl, "isl"), concurrency=_axis(conc, "concurrency"))


@SETTINGS
@given(isl=isl_values, conc=concurrency_values, hw=hardware_names,
       factor=st.floats(0.01, 100, allow_nan=False))
def test_cost_scales_exactly_with_price_per_hour(cfg, isl, conc, hw, factor):
    base = _eval(cfg, isl, conc).sel(hardware=hw)
    price = float(cfg.hardware[hw].price_per_hour)
    scaled = _eval(cfg, isl, conc, {f"hardware.{hw}.price_per_hour": price * factor}).sel(hardware=hw)
    ok = base.feasible.values
    assert (scaled.feasible.values == ok).all()
    np.testing.assert_allclose(scaled.cost_per_mtok.values[ok], factor * base.cost_per_mtok.values[ok], rtol=1e-12)
    np.testing.assert_array_equal(scaled.interactivity.values[ok], base.interactivity.values[ok])


@SETTINGS
@given(isl=isl_values, conc=concurrency_values,
       ratios=st.lists(st.floats(0.5, 50), min_size=2, max_size=2, unique=True).map(sorted)
       .filter(lambda r: r[1] > r[0] * (1 + 1e-9)))
def test_cost_falls_as_cache_read_ratio_rises(cfg, isl, conc, ratios):
    """One call: the ratio arrives as a DataArray along its own dim, for every hardware type (all in
    the ratio prefill mode, where the ratio prices the non-output tokens).  Ratios one ulp apart
    (49.99999999999999 and 50) give the same cost to the last bit, so the pair differs by more."""
    cfg = _with(cfg, {f"hardware.{h}.prefill_mode": "ratio" for h in cfg.select.hardware})
    ratio = xr.DataArray(ratios, dims="ratio")
    params = {f"hardware.{h}.cache_read_ratio": ratio for h in cfg.select.hardware}
    cost = _eval(cfg, isl, conc, params).cost_per_mtok
    low, high = cost.isel(ratio=0), cost.isel(ratio=1)
    ok = low.notnull()
    assert (high.where(ok) < low.where(ok)).sum() == ok.sum()


@SETTINGS
@given(isl=isl_values, conc=concurrency_values)
def test_systems_never_fall_as_n_or_isl_rise(cfg, isl, conc):
    """Everywhere on the wafer (pipeline: the memory need, buildable or not); on tensor-parallel
    GPUs wherever a replica holds the requests (past that no number of GPUs does: MLA's
    latent KV sits whole on every GPU, docs/model.md §8)."""
    ds = _eval(cfg, isl, conc)
    wafer = ds.sel(hardware="cerebras_wse3")
    assert (wafer.systems.diff("concurrency") >= 0).all()
    assert (wafer.systems.diff("isl") >= 0).all()
    for dim in ("concurrency", "isl"):
        rise = ds.systems.diff(dim, label="upper")
        both = (ds.feasible & ds.feasible.shift({dim: 1}, fill_value=False)).isel({dim: slice(1, None)})
        assert (rise.where(both, 0) >= 0).all()
    assert (ds.memory_bytes.diff("concurrency") > 0).all()


@SETTINGS
@given(isl=isl_values, conc=concurrency_values)
def test_throughput_is_n_times_tokens_over_request_time(cfg, isl, conc):
    ds = _eval(cfg, isl, conc)
    expected = ds.concurrency * (ds.isl + ds.osl) / ds.request_time
    np.testing.assert_allclose(ds.throughput, expected.transpose(*ds.throughput.dims), rtol=1e-12)
    np.testing.assert_allclose(ds.output_throughput,
                               (ds.concurrency * ds.osl / ds.request_time).transpose(*ds.throughput.dims), rtol=1e-12)


def _with(cfg, updates):
    """A validated copy of ``cfg`` with dotted keys set: ``with_values`` copies the typed config
    (0.05 s) where rebuilding it from a plain container took 1.1 s, twice composing anew."""
    return with_values(cfg, updates)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(model_name=st.sampled_from(["deepseek_v4", "kimi_k2_6", "gpt_oss_120b", "glm_4_7", "deepseek_v3"]),
       hw=hardware_names, isl=st.integers(1, 1_100_000), n=st.integers(1, 4096),
       memory=st.floats(10, 400), hop=st.floats(0, 1e-4), ratio=st.floats(1, 30),
       mode=st.sampled_from(["ratio", "physical"]), parallelism=st.sampled_from(["pipeline", "tensor"]),
       pinned=st.sampled_from([None, 1, 4, 8, 32]), context=st.sampled_from(["isl", "mean"]),
       tier=st.sampled_from(["host", "device"]), max_ttft=st.sampled_from([None, 0.5, 30.0]))
def test_grid_equals_the_pointwise_equations(cfg, model_name, hw, isl, n, memory, hop, ratio, mode, parallelism,
                                             pinned, context, tier, max_ttft):
    """The vectorized model and the plain-Python equations agree on any cell: either prefill mode,
    either parallelism, pinned replicas (admission) or not, either KV context and tier."""
    updates = {f"hardware.{hw}.memory_gb": memory, f"hardware.{hw}.hop_latency_s": hop,
               f"hardware.{hw}.cache_read_ratio": ratio, f"hardware.{hw}.prefill_mode": mode,
               f"hardware.{hw}.parallelism": parallelism, "workload.decode_context": context,
               "workload.kv_tier": tier, "sla.max_ttft_s": max_ttft}
    if pinned is not None:
        updates.update({f"hardware.{hw}.min_systems": pinned, f"hardware.{hw}.max_systems": pinned,
                        f"hardware.{hw}.allowed_sizes": None})
    cfg = _with(cfg, updates)
    ds = _eval(cfg, [isl], [n]).sel(model=model_name, hardware=hw, isl=isl, concurrency=n)
    assert_matches_oracle(ds, cell(cfg, model_name, hw, isl, n))


def test_a_swept_parameter_equals_separate_runs(cfg):
    """A DataArray along an extra dim gives, slice by slice, the runs with each value."""
    prices = [20.0, 41.96, 80.0]
    isl, conc = [32000, 96300], [1, 64, 250]
    swept = _eval(cfg, isl, conc, {"hardware.cerebras_wse3.price_per_hour": xr.DataArray(prices, dims="price")})
    assert swept.cost_per_mtok.dims == ("model", "hardware", "price", "isl", "concurrency")
    for i, price in enumerate(prices):
        single = _eval(model.load_config([f"hardware.cerebras_wse3.price_per_hour={price}"]), isl, conc)
        xr.testing.assert_allclose(swept.cost_per_mtok.isel(price=i, drop=True), single.cost_per_mtok, rtol=1e-13)
