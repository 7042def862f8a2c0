"""Single cells worked by hand, every term written out in the docstring."""
import math

import pytest

import model
from tests.helpers import at


def test_cerebras_point_gpt_oss_measured_rate_plus_hops(cfg):
    """gpt-oss-120b on cerebras_wse3, ISL L = 96,300, N = 250, default catalog.

    KV per request (GQA 8 x 64, 16 bit; 18 full layers, 18 sliding-window layers of 128):
        full:   2 * 18 * 8 * 64 * 2 B = 36,864 B/token -> 96,300 * 36,864 = 3,550,003,200 B
        window: 36,864 B/token * min(128, L) = 4,718,592 B
        per request 3,554,721,792 B; K = 250 * that = 888,680,448,000 B
    memory = 60e9 + K = 948,680,448,000 B -> S = ceil(948.68 / 44) = 22; S0 = ceil(60 / 44) = 2
    step = 1/2059 + 5e-6 * (22 - 2) + K / (22 * 21e15)
         = 4.8567266e-4 + 1.0e-4 + 1.9235508e-6 = 5.8759621e-4 s  ->  I = 1,701.85 tok/s
    O = 96,300 * 0.004817 / 0.995183 = 466.1224 tokens
    T = L / (10 I) + O / I = (9,630 + 466.1224) * step = 5.932443 s
    X = 250 * (96,300 + 466.1224) / T = 4,077,836 tok/s
    cost = 22 * 41.96 $/h / (X * 3600 / 1e6) = 923.12 / 14,680.21 = 0.062882 $/Mtok
    """
    ds = model.evaluate(cfg, **at(96300, 250)).sel(model="gpt_oss_120b", hardware="cerebras_wse3").squeeze()
    kv = 250 * (96300 * 36864 + 36864 * 128)
    assert float(ds.kv_cache_bytes) == kv == 888_680_448_000
    assert int(ds.systems) == 22 and float(ds.systems_for_weights) == 2
    step = 1 / 2059 + 5e-6 * 20 + kv / (22 * 21e15)
    assert float(ds.step_time) == pytest.approx(step, rel=1e-12)
    assert round(float(ds.interactivity), 2) == 1701.85
    osl = 96300 * 0.004817 / (1 - 0.004817)
    assert float(ds.osl) == pytest.approx(osl, rel=1e-12)
    request_time = (9630 + osl) * step
    assert round(float(ds.request_time), 6) == 5.932443
    assert round(float(ds.throughput)) == 4_077_836
    assert round(float(ds.cost_per_mtok), 6) == 0.062882
    by_hand = 22 * 41.96 / (250 * (96300 + osl) / request_time * 3600 / 1e6)
    assert float(ds.cost_per_mtok) == pytest.approx(by_hand, rel=1e-12)


PLAIN_ROOFLINE = ["hardware.b200.bandwidth_efficiency=0.8", "hardware.b200.layer_overhead_s=0",
                  "hardware.b200.peak_dense_tflops=null", "hardware.b200.cache_read_ratio=10",
                  "models.gpt_oss_120b.routed_experts=null", "models.gpt_oss_120b.experts_per_token=null",
                  "models.gpt_oss_120b.routed_expert_params_b=null"] + [
    # docs/model.md §2 decode tests: the seed's ratio prefill and pipeline-style KV (tests/model/test_prefill.py has §8)
    "hardware.b200.prefill_mode=ratio", "hardware.b200.parallelism=pipeline"]
SPEC2_B200 = ["hardware.b200.prefill_mode=ratio", "hardware.b200.parallelism=pipeline"]


def test_gpu_roofline_point_gpt_oss_on_b200():
    """gpt-oss-120b on b200 with the plain roofline of docs/model.md §2.3 (the uncalibrated GPU path: 80%
    bandwidth, no per-layer cost, no compute bound, no MoE streaming), ISL L = 8,192, N = 16.

    KV per request = 8,192 * 36,864 + 4,718,592 = 306,708,480 B; K = 16 * that = 4,907,335,680 B
    memory = 60e9 + K = 64.9 GB <= 180 GB -> S = 1 (an allowed size); S0 = 1
    streamed = active weights = 60e9 * 5.1 / 117 = 2,615,384,615 B
    B = 8.0e12 * 0.8 = 6.4e12 B/s
    step = 0 + 0 + (2,615,384,615 + 4,907,335,680) / (1 * 6.4e12) = 1.1754250e-3 s -> I = 850.76 tok/s
    O = 8,192 * 0.004817 / 0.995183 = 39.6519; T = (819.2 + 39.6519) * step = 1.009516 s
    X = 16 * (8,192 + 39.6519) / T = 130,465 tok/s
    cost = 1 * 2.07 / (X * 0.0036) = 0.0044073 $/Mtok
    """
    cfg = model.load_config(PLAIN_ROOFLINE)
    ds = model.evaluate(cfg, **at(8192, 16)).sel(model="gpt_oss_120b", hardware="b200").squeeze()
    assert int(ds.systems) == 1
    streamed = 60e9 * 5.1 / 117
    kv = 16 * (8192 * 36864 + 36864 * 128)
    step = (streamed + kv) / 6.4e12
    assert float(ds.step_time) == pytest.approx(step, rel=1e-12)
    assert round(float(ds.interactivity), 2) == 850.76
    assert round(float(ds.request_time), 6) == 1.009516
    assert round(float(ds.throughput)) == 130_465
    assert round(float(ds.cost_per_mtok), 7) == 0.0044073


def test_infeasible_cells_are_flagged_and_nan(cfg):
    """glm_4_7 (710 GB BF16 + 250 x 96,300 x 376,832 B of KV ≈ 9.8 TB) needs 123 H100s: above the
    largest allowed size (64), so the cell is infeasible; systems keeps the memory need."""
    ds = model.evaluate(cfg, **at(96300, 250)).sel(model="glm_4_7", hardware="h100_sxm").squeeze()
    assert not bool(ds.feasible) and not bool(ds.meets_sla)
    memory = 710e9 + 250 * 96300 * 2 * 92 * 8 * 128 * 2
    assert float(ds.memory_bytes) == memory
    assert int(ds.systems) == math.ceil(memory / 80e9) == 123
    for name in ("interactivity", "throughput", "cost_per_mtok", "cost_per_hour", "request_time",
                 "requests_per_second", "cost_per_output_mtok", "margin_per_mtok", "step_time"):
        assert math.isnan(float(ds[name])), name


def test_isl_beyond_max_context_is_infeasible(cfg):
    ds = model.evaluate(cfg, **at(200_000, 1)).sel(model="gpt_oss_120b")
    assert not ds.feasible.any() and ds.cost_per_mtok.isnull().all()


def test_calibrated_gpu_point_deepseek_r1_on_8_b200():
    """DeepSeek R1 (FP8) on b200 pinned to TP8, ISL L = 8,192, N = 32, every term of the extended
    GPU step (docs/model.md §2.3 as extended by the calibration issue), with round parameters set here:
    bandwidth_efficiency 0.6, layer_overhead_s 100 µs, compute_efficiency 0.5, peak 4,500 TFLOP/s.

    systems: memory (671 GB + 32 x 8,192 x 70,272 B = 689.4 GB) needs 4 GPUs; pinned: S = 8; S0 = 8
    MoE: k/E = 8/256; touched = 1 - (1 - 1/32)**32 = 0.63794; dense = 37 - 653.9/32 = 16.5656 B
         streamed = (16.5656 + 0.63794 x 653.9) B params x 1 B/param = 433.72 GB
    KV:  K = 32 x 8,192 x 61 x 576 x 2 B = 18.4214 GB
    memory time   = (433.72e9 + 18.4214e9) / (8 x 8e12 x 0.6) = 11.7745 ms
    fixed cost    = 61 layers x 100 µs = 6.1 ms
    compute bound = 32 x 2 x 37e9 / (8 x 4.5e15 x 0.5) = 0.13156 ms (does not bind)
    step = max(6.1 + 11.7745, 0.13156) ms = 17.8745 ms  ->  I = 55.946 tok/s
    """
    cfg = model.load_config(["hardware.b200.min_systems=8", "hardware.b200.bandwidth_efficiency=0.6",
                             "hardware.b200.layer_overhead_s=1e-4", "hardware.b200.compute_efficiency=0.5",
                             "select.models=[deepseek_r1]", "select.hardware=[b200]", *SPEC2_B200])
    ds = model.evaluate(cfg, **at(8192, 32)).squeeze()
    assert int(ds.systems) == 8 and float(ds.systems_for_weights) == 8
    touched = 1 - (1 - 8 / 256) ** 32
    streamed = (37 - 653.9 * 8 / 256 + touched * 653.9) * 1e9
    kv = 32 * 8192 * 61 * 576 * 2
    step = 61 * 1e-4 + (streamed + kv) / (8 * 8e12 * 0.6)
    assert round(touched, 5) == 0.63794 and round(streamed / 1e9, 2) == 433.72
    assert float(ds.kv_cache_bytes) == kv
    assert float(ds.step_time) == pytest.approx(step, rel=1e-12)
    assert round(float(ds.step_time) * 1e3, 4) == 17.8745
    assert round(float(ds.interactivity), 3) == 55.946
    assert 32 * 2 * 37e9 / (8 * 4.5e15 * 0.5) < step  # the compute bound does not bind here


def test_compute_bound_binds_at_large_batch():
    """gpt-oss-120b on b200 at N = 4,096, ISL 1,000, compute_efficiency 0.05: memory (60 GB + 170.4 GB
    of KV) needs S = 2; the compute bound 4,096 x 2 x 5.1e9 / (2 x 4.5e15 x 0.05) = 92.843 ms
    exceeds the memory step (about 30 ms), so I = 10.771 tok/s."""
    cfg = model.load_config(["hardware.b200.compute_efficiency=0.05", "hardware.b200.min_systems=1",
                             "select.models=[gpt_oss_120b]", "select.hardware=[b200]",
                             *SPEC2_B200])
    ds = model.evaluate(cfg, **at(1000, 4096)).squeeze()
    assert int(ds.systems) == 2
    bound = 4096 * 2 * 5.1e9 / (2 * 4.5e15 * 0.05)
    assert float(ds.step_time) == pytest.approx(bound, rel=1e-12)
    assert round(float(ds.interactivity), 3) == 10.771
