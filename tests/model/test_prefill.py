"""The prefill phase of docs/model.md §8: physical mode, tensor parallelism, admission, the ratio mode unchanged."""
import hashlib
import math

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import model
from model.app.config import with_values
from tests.helpers import at

# A workload with round token counts: L_c = L * 0.5 / (1 - 0.2) = 0.625 L, O = L * 0.2 / 0.8 = L / 4
ROUND_MIX = ["workload.mix.cache_read=0.5", "workload.mix.cache_write=0.1", "workload.mix.input=0.2",
             "workload.mix.output=0.2"]


def assert_aggregated_cell(ds: xr.Dataset, n: int, busy: float, step: float, overhead: float = 0.1,
                           output_tokens: int = 2000) -> None:
    """One cell's docs/model.md §8 aggregated-serving rates from its worked busy time and decode step:
    ``t_pf = overhead + busy``, ``T = O step + N busy``, ``queued = busy (1 + (N - 1) busy / (2 T))``,
    requests/s ``= N / T``, ``ttft = overhead + queued + step / 2``, ``I = O / (T - queued)``."""
    assert float(ds.prefill_time) == pytest.approx(overhead + busy, rel=1e-12)
    assert float(ds.step_time) == pytest.approx(step, rel=1e-12)
    request_time = output_tokens * step + n * busy
    queued = busy * (1 + (n - 1) * busy / (2 * request_time))
    assert float(ds.requests_per_second) == pytest.approx(n / request_time, rel=1e-12)
    assert float(ds.ttft) == pytest.approx(overhead + queued + step / 2, rel=1e-12)
    assert float(ds.interactivity) == pytest.approx(output_tokens / (request_time - queued), rel=1e-12)


def test_physical_cell_gqa_on_one_b200():
    """gpt-oss-120b on one B200 (pinned TP1), physical prefill, L = 8,000, N = 8, the round mix:
    L_c = 5,000 cached, L_n = 3,000 new, O = 2,000; prefill_efficiency 0.5, overhead 0.1 s,
    bandwidth_efficiency 0.5, layer_overhead_s 100 µs, no MoE streaming detail (dense read),
    KV prefix on the host at 64 GB/s.

    attention: pair = 2 x 64 heads x (64 + 64) = 16,384 FLOPs per layer; 18 full layers see
               L_c + L_n / 2 = 6,500 tokens, 18 sliding layers min(128, 6,500) = 128
    F    = 3,000 x (2 x 5.1e9 + 16,384 x 18 x 6,500 + 16,384 x 18 x 128) = 3.6464e13 FLOPs
    busy = F / (4,500e12 x 0.5) + kv(L_c) / 64e9, kv(L_c) = 5,000 x 36,864 + 36,864 x 128 B
         = 16.2062 ms + 2.9537 ms = 19.160 ms;  t_pf = 0.1 + busy = 119.160 ms
    step = 36 x 100 µs + (60e9 x 5.1 / 117 + 8 x kv(8,000)) / (8e12 x 0.5) = 4.8531 ms
    T    = O x step + N x busy = 9.7062 + 0.15328 = 9.8595 s;  requests/s = N / T = 0.81140
    queued = busy (1 + 7 busy / (2 T)) = 19.2903 ms;  ttft = 0.1 + queued + step / 2 = 121.717 ms
    I    = O / (T - queued) = 203.25 tok/s  (<= 1 / step = 206.05)
    """
    cfg = model.load_config(ROUND_MIX + [
        "hardware.b200.min_systems=1", "hardware.b200.max_systems=1", "hardware.b200.prefill_efficiency=0.5",
        "hardware.b200.prefill_overhead_s=0.1", "hardware.b200.bandwidth_efficiency=0.5",
        "hardware.b200.layer_overhead_s=1e-4", "models.gpt_oss_120b.routed_experts=null",
        "models.gpt_oss_120b.experts_per_token=null", "models.gpt_oss_120b.routed_expert_params_b=null",
        "select.models=[gpt_oss_120b]", "select.hardware=[b200]"])
    ds = model.evaluate(cfg, **at(8000, 8)).squeeze()
    kv_token, window = 2 * 18 * 8 * 64 * 2, 2 * 18 * 8 * 64 * 2 * 128
    assert float(ds.cached_tokens) == pytest.approx(5000) and float(ds.new_tokens) == pytest.approx(3000)
    flops = 3000 * (2 * 5.1e9 + 16384 * 18 * 6500 + 16384 * 18 * 128)
    assert float(ds.prefill_flops) == pytest.approx(flops, rel=1e-12)
    assert round(flops / 1e13, 4) == 3.6464
    busy = flops / (4500e12 * 0.5) + (5000 * kv_token + window) / 64e9
    step = 36 * 1e-4 + (60e9 * 5.1 / 117 + 8 * (8000 * kv_token + window)) / (8e12 * 0.5)
    assert_aggregated_cell(ds, 8, busy, step)
    assert round(float(ds.prefill_time) * 1e3, 3) == 119.160
    assert round(float(ds.ttft) * 1e3, 3) == 121.717
    assert round(float(ds.interactivity), 2) == 203.25
    assert round(float(ds.requests_per_second), 5) == 0.81140
    assert float(ds.implied_cache_read_ratio) == pytest.approx(8000 / (0.1 + busy) / float(ds.interactivity))


def test_physical_cell_mla_on_eight_b200():
    """DeepSeek V3 (FP8, MLA) on 8 B200 under tensor parallelism, L = 8,000, N = 16, the round
    mix, KV prefix kept on the device (no load); prefill_efficiency 0.5, overhead 0.1 s,
    bandwidth_efficiency 0.5, layer_overhead_s 100 µs, compute bound off.

    F    = L_n (2 x 37e9 + 2 x 128 x (192 + 128) x 61 x 6,500) = 3,000 x 1.064813e11 = 3.19444e14
    busy = F / (8 x 4,500e12 x 0.5) = 17.747 ms;  t_pf = 117.747 ms
    KV   = 61 x 576 x 2 = 70,272 B/token: K = 16 x 8,000 x 70,272 = 8.995 GB, whole on each GPU (MLA:
           one latent head), so a GPU reads K, not K / 8, per step
    MoE  = dense 37 - 653.9 x 8 / 256 = 16.5656 B + touched (1 - (31/32)**16 = 0.39829) x 653.9 B
           = 277.007 GB streamed per step
    step = 61 x 100 µs + streamed / (8 x 4e12) + K / 4e12 = 6.1 + 8.6565 + 2.2487 = 17.005 ms
    T    = 2,000 x step + 16 x busy = 34.294 s;  requests/s = 0.46655
    ttft = 0.1 + busy (1 + 15 busy / (2 T)) + step / 2 = 126.318 ms;  I = O / (T - queued) = 58.35 tok/s
    """
    cfg = model.load_config(ROUND_MIX + [
        "workload.kv_tier=device", "hardware.b200.min_systems=8", "hardware.b200.max_systems=8",
        "hardware.b200.prefill_efficiency=0.5", "hardware.b200.prefill_overhead_s=0.1",
        "hardware.b200.bandwidth_efficiency=0.5", "hardware.b200.layer_overhead_s=1e-4",
        "hardware.b200.peak_dense_tflops=4500", "hardware.b200.compute_efficiency=1e-9",
        "select.models=[deepseek_v3]", "select.hardware=[b200]"])
    ds = model.evaluate(cfg, {"hardware.b200.compute_efficiency": 1.0}, **at(8000, 16)).squeeze()
    flops = 3000 * (2 * 37e9 + 2 * 128 * 320 * 61 * 6500)
    assert float(ds.prefill_flops) == pytest.approx(flops, rel=1e-12)
    busy = flops / (8 * 4500e12 * 0.5)
    touched = 1 - (31 / 32) ** 16
    streamed = (37 - 653.9 * 8 / 256 + touched * 653.9) * 1e9
    kv = 16 * 8000 * 70272
    step = 61e-4 + streamed / (8 * 4e12) + kv / 4e12
    assert_aggregated_cell(ds, 16, busy, step)
    assert round(float(ds.step_time) * 1e3, 3) == 17.005
    assert round(float(ds.ttft) * 1e3, 3) == 126.318
    assert round(float(ds.interactivity), 2) == 58.35
    assert round(float(ds.requests_per_second), 5) == 0.46655


# Values of conf/hardware/gpu_calibration.yaml before the prefill phase, and a fingerprint of every
# variable of the default grid that the code of that time (40e8e76) computed with them
# (:func:`grid_fingerprint`).
OLD_CALIBRATION = {
    "h100_sxm": (0.593009, 9.03181e-05, 283.0), "h200": (0.669273, 0.000106625, 165.4),
    "b200": (0.562419, 9.82023e-05, 62.15), "gb200_nvl72": (0.562419, 9.82023e-05, 62.15),
    "mi300x": (0.371891, 0.000119376, 113.2), "mi355x": (0.448549, 0.000134496, 136.8)}
OLD_GRID_FINGERPRINT = {
    "base_interactivity": {"nan": "4b5118bd738edee0", "sum": 7160.0,
        "weighted": 6545.67724996825, "magnitude": 7160.0},
    "cache_read_throughput": {"nan": "f2285b1ad69960f6", "sum": 2037195721.035586,
        "weighted": 1528048814.190305, "magnitude": 2037195721.035586},
    "capex": {"nan": "daf5beddee0234af", "sum": 5434461000000.0,
        "weighted": 4076317892031.8237, "magnitude": 5434461000000.0},
    "cost_per_hour": {"nan": "f2285b1ad69960f6", "sum": 239882676.68,
        "weighted": 179931919.5570848, "magnitude": 239882676.68},
    "cost_per_mtok": {"nan": "f2285b1ad69960f6", "sum": 37510.04583941147,
        "weighted": 28127.34085458991, "magnitude": 37510.04583941147},
    "cost_per_output_mtok": {"nan": "f2285b1ad69960f6", "sum": 7787013.875734165,
        "weighted": 5839182.240936249, "magnitude": 7787013.875734165},
    "feasible": {"sha": "350f18434253c3f7"},
    "interactivity": {"nan": "f2285b1ad69960f6", "sum": 84992696.4691069,
        "weighted": 63752205.549304746, "magnitude": 84992696.4691069},
    "kv_bytes_per_request": {"nan": "6a3a9301bb8dd782", "sum": 1881588713424.0,
        "weighted": 1450302400864.7808, "magnitude": 1881588713424.0},
    "kv_cache_bytes": {"nan": "2234d503605ea0f6", "sum": 9.874577568049152e+17,
        "weighted": 7.407221415634089e+17, "magnitude": 9.874577568049152e+17},
    "layers_per_system": {"nan": "66b74b08d9be9f52", "sum": 3072743.5815408756,
        "weighted": 2304324.034807781, "magnitude": 3072743.5815408756},
    "margin_per_mtok": {"nan": "f2285b1ad69960f6", "sum": 1301147.0596705887,
        "weighted": 975865.2777771334, "magnitude": 1315847.8898695575},
    "meets_sla": {"sha": "deccbe04ed8f11e6"},
    "memory_bytes": {"nan": "2234d503605ea0f6", "sum": 1.0365831328049152e+18,
        "weighted": 7.775680048460831e+17, "magnitude": 1.0365831328049152e+18},
    "osl": {"nan": "0a88111852095cae", "sum": 16140.463827255891,
        "weighted": 13351.591760079671, "magnitude": 16140.463827255891},
    "output_throughput": {"nan": "f2285b1ad69960f6", "sum": 3279825774.983768,
        "weighted": 2460006735.244721, "magnitude": 3279825774.983768},
    "power_law_a": {"nan": "9e115b7590ca176a", "sum": 3321.614208990204,
        "weighted": 1660.807104495102, "magnitude": 3321.614208990204},
    "power_law_b": {"nan": "9e115b7590ca176a", "sum": 0.293529673849452,
        "weighted": 0.146764836924726, "magnitude": 0.293529673849452},
    "price_per_mtok": {"nan": "6e340b9cffb37a98", "sum": 3.0748986000000005,
        "weighted": 1.5374493000000002, "magnitude": 3.0748986000000005},
    "request_time": {"nan": "f2285b1ad69960f6", "sum": 22181015.528992925,
        "weighted": 16634599.299280401, "magnitude": 22181015.528992925},
    "requests_per_second": {"nan": "f2285b1ad69960f6", "sum": 49371187.36363972,
        "weighted": 37031353.1154102, "magnitude": 49371187.36363972},
    "step_time": {"nan": "f2285b1ad69960f6", "sum": 17190.965033970017,
        "weighted": 12892.31944819222, "magnitude": 17190.965033970017},
    "systems": {"sha": "3013b609303cb7fb"},
    "systems_for_weights": {"nan": "0d5535e13cc9708d", "sum": 231.0,
        "weighted": 179.0331819004543, "magnitude": 231.0},
    "throughput": {"nan": "f2285b1ad69960f6", "sum": 680885566739.4163,
        "weighted": 510692699863.9654, "magnitude": 680885566739.4163},
    "weight_bytes": {"nan": "8855508aade16ec5", "sum": 2822000000000.0,
        "weighted": 1894590833227.5002, "magnitude": 2822000000000.0},
}


def grid_fingerprint(values: np.ndarray) -> dict:
    """What of a grid variable is the same on every CPU: an integer or boolean variable's bytes
    (SHA-256, first 16 hex digits); a float variable's NaN cells (the same hash of its NaN mask) and
    the exactly rounded sums (``math.fsum``) of its finite values, plain, weighted by a fixed
    pseudo-random weight in [0.5, 1) per cell (a change confined to a few cells, or cells swapped,
    moves it) and of their magnitudes (the scale the sums are compared at)."""
    values = np.ascontiguousarray(values)
    if values.dtype.kind != "f":
        return {"sha": hashlib.sha256(values.tobytes()).hexdigest()[:16]}
    flat = values.ravel()
    finite = np.isfinite(flat)
    weights = 0.5 + ((np.arange(flat.size, dtype=np.int64) * 2654435761) % 1000003) / 2000006.0
    return {"nan": hashlib.sha256(np.isnan(values).tobytes()).hexdigest()[:16],
            "sum": math.fsum(flat[finite]), "weighted": math.fsum(flat[finite] * weights[finite]),
            "magnitude": math.fsum(np.abs(flat[finite]))}


def test_ratio_mode_reproduces_the_old_grid():
    """Every GPU in the ratio mode with pipeline-style KV and its old calibration: the default grid
    (5 models x 7 hardware x 17 ISL x 1,024 N) is what the code gave before docs/model.md §8.

    Bit for bit on one machine (checked on an AVX2 AMD EPYC: the code of 40e8e76 and today's give
    the same bytes), but not across machines: numpy's SIMD paths for exp, log and power differ by
    CPU (AVX2 against AVX-512) in the last bit, so the same code hashes differently on two.  So the
    NaN cells and the integer and boolean variables are compared exactly, and each float variable's
    sums within 1e-12 of its magnitude: a last-bit difference per cell moves them by about 1e-16;
    a change of 1e-8 across one model on one GPU type, of 1e-6 in one cell, or two cells swapped
    by more than 1e-12 (each checked on step_time)."""
    overrides = []
    for gpu, (efficiency, layer, ratio) in OLD_CALIBRATION.items():
        overrides += [f"hardware.{gpu}.prefill_mode=ratio", f"hardware.{gpu}.parallelism=pipeline",
                      f"hardware.{gpu}.bandwidth_efficiency={efficiency}",
                      f"hardware.{gpu}.layer_overhead_s={layer}", f"hardware.{gpu}.cache_read_ratio={ratio}"]
    grid = model.evaluate(model.load_config(overrides))
    for name, old in OLD_GRID_FINGERPRINT.items():
        now = grid_fingerprint(grid[name].values)
        assert now.keys() == old.keys(), name
        if "sha" in old:
            assert now["sha"] == old["sha"], name
            continue
        assert now["nan"] == old["nan"], name
        for key in ("sum", "weighted", "magnitude"):
            assert abs(now[key] - old[key]) <= 1e-12 * old["magnitude"], (name, key)


def test_ratio_mode_prefill_is_l_over_r(cfg):
    """On the wafer (ratio mode): t_pf = ttft = L / (cache_read_ratio x I); the implied ratio is the ratio."""
    ds = model.evaluate(cfg, **at(96300, 250)).sel(hardware="cerebras_wse3").squeeze()
    expected = 96300 / (10 * ds.interactivity)
    np.testing.assert_allclose(ds.prefill_time, expected, rtol=1e-12)
    np.testing.assert_array_equal(ds.ttft.values, ds.prefill_time.values)
    np.testing.assert_allclose(ds.implied_cache_read_ratio, 10, rtol=1e-12)


SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
GPUS = st.sampled_from(["h100_sxm", "h200", "b200", "gb200_nvl72", "mi300x", "mi355x"])
MODELS = st.sampled_from(["deepseek_v4", "kimi_k2_6", "gpt_oss_120b", "glm_4_7", "deepseek_v3"])


def _grid(overrides, isl, concurrency, hw, m):
    return _evaluate(model.load_config(overrides), isl, concurrency, hw, m)


def _grid_with(cfg, values, isl, concurrency, hw, m):
    """As :func:`_grid`, from the session's composed config with dotted keys set (``with_values``
    validates the copy as ``load_config`` does, in a tenth of the time of composing anew)."""
    return _evaluate(with_values(cfg, values), isl, concurrency, hw, m)


def _evaluate(cfg, isl, concurrency, hw, m):
    return model.evaluate(cfg, isl=xr.DataArray(isl, dims="isl", coords={"isl": isl}),
                          concurrency=xr.DataArray(concurrency, dims="concurrency",
                                                   coords={"concurrency": concurrency})).sel(hardware=hw, model=m)


@SETTINGS
@given(hw=GPUS, m=MODELS, n=st.integers(1, 512), isl=st.lists(st.integers(1000, 130_000), min_size=2, max_size=5,
                                                              unique=True).map(sorted))
def test_prefill_rises_faster_than_linearly_without_a_cache(cfg, hw, m, n, isl):
    """Nothing cached (mix.cache_read = 0), no fixed overhead, a replica of fixed size (8 GPUs):
    attention makes the prefill time of a request grow faster than its ISL, t_pf(L2) / t_pf(L1) > L2 / L1."""
    ds = _grid_with(cfg, {"workload.mix.cache_read": 0.0, "workload.mix.cache_write": 0.5,
                          "workload.mix.input": 0.495183, f"hardware.{hw}.prefill_overhead_s": 0.0,
                          f"hardware.{hw}.min_systems": 8, f"hardware.{hw}.max_systems": 8},
                    isl, [n], hw, m).squeeze("concurrency")
    per_token = (ds.prefill_time / ds.isl).values
    fine = np.isfinite(per_token)
    assert (np.diff(per_token[fine]) > 0).all()


@SETTINGS
@given(hw=GPUS, m=MODELS, n=st.integers(1, 512), isl=st.integers(1000, 130_000),
       shares=st.lists(st.floats(0, 0.95), min_size=2, max_size=5, unique=True).map(sorted),
       tier=st.sampled_from(["device", "host"]))
def test_more_cached_tokens_never_raise_prefill_time(cfg, hw, m, n, isl, shares, tier):
    """At the same L, a larger cached share never makes prefill slower: the cached tokens are not
    recomputed, and loading their KV back (host tier) costs less than computing them."""
    times = []
    for share in shares:
        values = {"workload.mix.cache_read": share * 0.99, "workload.mix.cache_write": 0.0,
                  "workload.mix.input": 0.99 - share * 0.99, "workload.mix.output": 0.01, "workload.kv_tier": tier}
        times.append(float(_grid_with(cfg, values, [isl], [n], hw, m).prefill_time.squeeze()))
    times = np.array(times)
    fine = np.isfinite(times)
    assert (np.diff(times[fine]) <= 1e-15).all()


@SETTINGS
@given(hw=GPUS, m=MODELS, isl=st.lists(st.integers(1000, 260_000), min_size=1, max_size=4, unique=True),
       n=st.lists(st.integers(1, 1024), min_size=1, max_size=6, unique=True))
def test_ttft_at_least_prefill_and_interactivity_at_most_decode(cfg, hw, m, isl, n):
    """TTFT >= t_pf and interactivity <= 1 / step, in every cell, both prefill modes."""
    for mode in ("physical", "ratio"):
        ds = _grid_with(cfg, {f"hardware.{hw}.prefill_mode": mode}, sorted(isl), sorted(n), hw, m)
        ok = ds.feasible.values
        assert (ds.ttft.values[ok] >= ds.prefill_time.values[ok]).all()
        assert (ds.interactivity.values[ok] <= (1 / ds.step_time.values[ok]) * (1 + 1e-12)).all()


def test_mla_kv_is_replicated_under_tensor_parallelism():
    """DeepSeek-R1 on 8 B200: under tensor parallelism each GPU holds and reads the whole latent KV,
    so a step is slower and a large batch needs more GPUs than with the KV split eight ways."""
    isl = [8192]
    n = [1, 32, 64, 128]
    base = ["select.models=[deepseek_r1]", "select.hardware=[b200]"]
    tensor = _grid(base + ["hardware.b200.min_systems=8"], isl, n, "b200", "deepseek_r1").squeeze("isl")
    split = _grid(base + ["hardware.b200.min_systems=8", "hardware.b200.parallelism=pipeline"], isl, n, "b200",
                  "deepseek_r1").squeeze("isl")
    assert (tensor.step_time.values > split.step_time.values).all()
    kv = np.array(n) * 8192 * 61 * 576 * 2
    extra = kv / 8e12 / float(model.load_config().hardware.b200.bandwidth_efficiency) * (1 - 1 / 8)
    np.testing.assert_allclose(tensor.step_time - split.step_time, extra, rtol=1e-9)
    # N = 16 at 96,300 tokens: K = 108.3 GB. Split: (671 + 108.3) / 180 -> 5 -> 8 GPUs. Whole on each
    # GPU: 671 / S + 108.3 <= 180 -> S >= 9.4 -> 16 GPUs.
    free = _grid(base, [96300], [16], "b200", "deepseek_r1").squeeze()
    free_split = _grid(base + ["hardware.b200.parallelism=pipeline"], [96300], [16], "b200", "deepseek_r1").squeeze()
    assert (int(free.systems), int(free_split.systems)) == (16, 8)


def test_a_full_pinned_replica_admits_what_fits_and_the_rest_wait():
    """Llama-3.3-70B (FP8, 70.6 GB, as benchmarked) on one H200 at 8k: 128 requests need
    128 x 8,192 x 327,680 B = 343.6 GB of KV, the 70.4 GB left hold 26; the replica admits those and
    the others wait: the cell is feasible and its TTFT (tens of seconds at N = 128) grows with N."""
    n = [64, 128, 256, 512]
    ds = _grid(["hardware.h200.min_systems=1", "hardware.h200.max_systems=1", "models.llama_3_3_70b.weight_gb=70.6",
                "select.models=[llama_3_3_70b]", "select.hardware=[h200]"], [8192], n, "h200",
               "llama_3_3_70b").squeeze("isl")
    assert ds.feasible.all()
    admitted = ds.admitted_requests.values
    assert (admitted < np.array(n)).all() and (admitted == admitted[0]).all()
    assert admitted[0] == (141e9 - 70.6e9) // (8192 * 327680) == 26
    assert np.isfinite(ds.ttft).all() and (np.diff(ds.ttft.values) > 0).all()
    assert float(ds.ttft.sel(concurrency=128)) > 20  # the 102 waiting requests: tens of seconds
    np.testing.assert_allclose(ds.requests_per_second, float(ds.requests_per_second[0]))
