"""The GPU decode model calibrated on InferenceX (issue: MoE streaming, per-layer cost, compute
bound, pinned replica size, cache-read ratio from TTFT)."""
import math

import numpy as np
import pytest
import xarray as xr
from omegaconf import OmegaConf

import model
from model import calibration
from model.app.calibrate import benchmark_config
from model.app.config import REPO_DIR
from model.parameters import raw_parameters, streamed_weight_bytes


@pytest.fixture(scope="module")
def cal_cfg():
    return model.load_config(config_name="calibrate")


@pytest.fixture(scope="module")
def points(cal_cfg):
    """The benchmark points with each one's stack KV bits, as :func:`model.calibration.calibrate` reads them."""
    c = cal_cfg.calibration
    return calibration.with_kv_bits(calibration.load_points(str(REPO_DIR / c.data)), c.stacks.kv_bits)


def _weights(cal_cfg):
    return OmegaConf.to_container(cal_cfg.calibration.weights_gb)


def test_committed_catalog_meets_the_error_bars(cal_cfg, points):
    """The docs/model.md §8 targets in sample: median |error| <= 10% for interactivity and <= 20% for TTFT
    (and <= 30% for throughput per GPU), using the values committed in
    conf/hardware/gpu_calibration.yaml (no refit)."""
    predicted = calibration.predict(benchmark_config(cal_cfg), points, _weights(cal_cfg),
                                    cal_cfg.calibration.length_factor)
    stats = calibration.summary(calibration.error_table(points, predicted))
    assert stats["interactivity"]["points"] == 36 and stats["throughput_per_gpu"]["points"] == 34
    assert stats["ttft"]["points"] == 29
    assert stats["interactivity"]["median_abs_pct"] <= 10
    assert stats["ttft"]["median_abs_pct"] <= 20
    assert stats["throughput_per_gpu"]["median_abs_pct"] <= 30


def test_stack_kv_bits_let_the_b200_tp4_point_hold_its_users(cal_cfg, points):
    """Point id 12: DeepSeek-R1 FP8 on 4 B200 under SGLang, 8k/1k prompts, 32 users.  The 671 GB
    checkpoint leaves each 180 GB GPU about 12 GB, and MLA's latent KV (61 layers x 576 values per
    token) sits whole on every GPU under tensor parallelism: a request of ~8,700 tokens holds
    0.31 GB at SGLang's FP8 KV (32 users: 9.8 GB, they fit) and 0.61 GB at BF16 (19.6 GB: they do
    not).  With its stack's KV bits the point admits all 32; without, fewer, and its TTFT
    becomes a queue (what drove the B200's fitted efficiencies to their bound 1)."""
    cfg = benchmark_config(cal_cfg)
    one = points.isel(point=np.flatnonzero(points.id.values == 12))
    assert one.sizes["point"] == 1 and float(one.kv_cache_bits[0]) == 8
    with_bits = calibration.predict(cfg, one, _weights(cal_cfg), cal_cfg.calibration.length_factor)
    without = calibration.predict(cfg, one.drop_vars("kv_cache_bits"), _weights(cal_cfg),
                                  cal_cfg.calibration.length_factor)
    assert int(with_bits.admitted_requests[0]) == 32
    assert int(without.admitted_requests[0]) < 32


def test_committed_cache_read_ratios_are_those_of_the_data(cal_cfg, points):
    """The catalog's GPU cache_read_ratio values are the data's (calibration.cache_read_ratios).
    That a refit reproduces conf/hardware/gpu_calibration.yaml to the last character is checked
    by the calibrate command's test, run from a built wheel (tests/app/test_signals_cli.py)."""
    c = cal_cfg.calibration
    ratios = calibration.cache_read_ratios(points, c.length_factor)
    for hw, ratio in ratios.cache_read_ratio.items():
        assert float(cal_cfg.hardware[hw].cache_read_ratio) == pytest.approx(ratio, rel=1e-3)


def test_cache_read_ratio_of_b200_by_hand(points):
    """b200's lowest concurrency with a TTFT is 1 (ids 8, 10, 15):
    0.9 x 1,024 / 0.157 s / 139.2 = 42.17; 0.9 x 8,192 / 0.314 s / 135.3 = 173.54;
    0.9 x 1,024 / 0.165 s / 170.3 = 32.80; geometric mean 62.15."""
    ratios = calibration.cache_read_ratios(points, 0.9)
    expected = (921.6 / 0.157 / 139.2 * 7372.8 / 0.314 / 135.3 * 921.6 / 0.165 / 170.3) ** (1 / 3)
    assert ratios.loc["b200", "cache_read_ratio"] == pytest.approx(expected, rel=1e-12)
    assert round(expected, 2) == 62.15 and ratios.loc["b200", "points"] == 3


def test_cerebras_keeps_the_seed_ratio(cal_cfg):
    assert float(model.load_config().hardware.cerebras_wse3.cache_read_ratio) == 10


@pytest.mark.parametrize("name", ["deepseek_v4", "kimi_k2_6", "gpt_oss_120b", "glm_4_7", "deepseek_v3", "deepseek_r1"])
def test_moe_streaming_from_active_to_total(cfg, name):
    raw = raw_parameters(cfg)
    m = raw.sel(model=name)
    weights = m.weight_gb * 1e9 if not math.isnan(float(m.weight_gb)) else m.total_params_b * 1e9 * m.weight_bits / 8
    n = xr.DataArray(np.arange(1, 100_001, dtype=float), dims="concurrency")
    streamed = streamed_weight_bytes(m, weights, n)
    active = float(weights * m.active_params_b / m.total_params_b)
    assert float(streamed[0]) == pytest.approx(active, rel=1e-12)
    assert (streamed.diff("concurrency") >= 0).all()
    assert float(streamed[-1]) == pytest.approx(float(weights), rel=0.02)  # architecture counts add up within 2%


def test_moe_streaming_reaches_the_total_exactly_when_counts_are_consistent(cfg):
    """A model with total = dense + routed: 40 B total, E = 64, k = 4, routed 32 B, so
    active = 8 + 32 x 4/64 = 10 B; at N = 1: 10 GB at 1 B/param; N -> inf: 40 GB."""
    raw = raw_parameters(cfg).sel(model="deepseek_v3").copy()
    raw["total_params_b"], raw["active_params_b"] = 40.0, 10.0
    raw["routed_experts"], raw["experts_per_token"], raw["routed_expert_params_b"] = 64.0, 4.0, 32.0
    n = xr.DataArray([1.0, 2.0, 10.0, 1e4], dims="concurrency")
    streamed = streamed_weight_bytes(raw, xr.DataArray(40e9), n)
    expected = [(8 + (1 - (1 - 1 / 16) ** k) * 32) * 1e9 for k in (1, 2, 10, 1e4)]
    np.testing.assert_allclose(streamed.values, expected, rtol=1e-12)
    assert streamed.values[0] == pytest.approx(10e9) and streamed.values[-1] == pytest.approx(40e9)


def test_dense_model_streams_all_weights(cfg):
    ds = model.evaluate(model.load_config(["select.models=[llama_3_3_70b]", "select.hardware=[h100_sxm]",
                                           "hardware.h100_sxm.layer_overhead_s=0", "hardware.h100_sxm.min_systems=2"]),
                        isl=xr.DataArray([1000], dims="isl"), concurrency=xr.DataArray([1, 64], dims="concurrency"))
    kv = ds.kv_cache_bytes.squeeze()
    assert list(ds.systems.squeeze().values) == [2, 4]  # pinned at 2; 141 GB + 64 x 328 MB of KV needs 4
    bw = 3.35e12 * float(model.load_config().hardware.h100_sxm.bandwidth_efficiency)
    expected = (141.2e9 + kv) / (ds.systems.squeeze() * bw)
    np.testing.assert_allclose(ds.step_time.squeeze().values, expected.values, rtol=1e-12)


def test_pinning_the_replica_to_8(cfg):
    """min_systems = 8 gives S = 8 wherever memory needs <= 8 GPUs, and the memory need above."""
    gpus = ["h100_sxm", "h200", "b200", "mi300x", "mi355x"]
    pinned = model.load_config([f"hardware.{g}.min_systems=8" for g in gpus])
    free = model.evaluate(cfg).sel(hardware=gpus)
    ds = model.evaluate(pinned).sel(hardware=gpus)
    small = free.systems <= 8
    assert (ds.systems.where(small) == 8).sum() == small.sum() > 0
    assert (ds.systems.where(~small) == free.systems.where(~small)).sum() == (~small).sum()
    assert (ds.systems_for_weights == np.maximum(8, free.systems_for_weights)).all()


