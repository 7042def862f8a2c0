"""docs/model.md §10 serving settings in the per-cell kernel, the pointwise oracle and the lazy path:
EP all-to-all, dp-attention, MTP, the stack's KV bits, FP4 math, the prefill busy time, the memory
reserve, the prefill pool's speed and latency, the prefill chunk and the decode attention."""

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

import model
from model import serving
from model.app.config import with_values
from model.parameters import parameters
from model.pointwise import cell
from model.results import CELL_OUTPUTS
from tests.helpers import HAND_WORKED_CELL as CELL
from tests.helpers import assert_matches_oracle, at, hand_worked, overridden

# Each test sets its keys on the hand-worked cell's config, composed once (tests.helpers.hand_worked:
# the same config as composing CELL + overrides, test_the_in_memory_overrides_are_the_composed_config).
_config = hand_worked


def _cell(*extra, isl=8000, n=16):
    return model.evaluate(_config(list(extra)), **at(isl, n)).squeeze()


@pytest.mark.parametrize("base", [CELL, []], ids=["hand-worked cell", "default"])
def test_the_in_memory_overrides_are_the_composed_config(base):
    """The tests of this module compose one config and set their keys on it in memory
    (:func:`tests.helpers.overridden`); that is only a faster way to the config Hydra composes from
    the same overrides: equal key for key, in value and type (YAML: 8 is not 8.0), for each kind
    of value they set (int, float in exponent form, bool, null, enum, list)."""
    overrides = ["hardware.b200.ep=8", "hardware.b200.layer_overhead_s=2e-4", "hardware.b200.prefill_busy_s=0.05",
                 "hardware.b200.attention_data_parallel=true", "hardware.b200.kv_cache_bits=8",
                 "hardware.b200.max_systems=null", "hardware.b200.min_systems=1", "hardware.b200.allowed_sizes=null",
                 "hardware.b200.prefill_mode=ratio", "models.deepseek_v3.hidden_size=null",
                 "workload.decode_context=mean", "sla.percentile=p90", "select.models=[gpt_oss_120b,deepseek_v3]"]
    fast = overridden(model.load_config(base), overrides)
    assert OmegaConf.to_yaml(fast) == OmegaConf.to_yaml(model.load_config(base + overrides))
    assert OmegaConf.is_readonly(fast) and fast.hardware.b200.ep == 8 and fast.hardware.b200.min_systems == 1


def test_hand_worked_ep_cell():
    """EP 8 on the 8 B200 of the cell, N = 16: t = 16 / 8 = 2 tokens per GPU, each sent to k = 8
    experts, hidden 7,168, 1.5 bytes per value, 7/8 of them leave the GPU:
    2 x 2 x 8 x 7,168 x 1.5 x 7 / 8 = 301,056 bytes per GPU and MoE layer (dispatch + combine).
    NVLink (900 GB/s, domain 8): 0.3345 µs + 7 peers x 3.6 µs latency per layer, x 58 MoE layers =
    1.481001 ms.  Over the 50 GB/s NIC (a domain of 4 GPUs): 6.0211 µs + 25.2 µs, x 58 = 1.810825 ms.
    The step with EP is the step without it plus exactly that."""
    assert serving.ep_alltoall_bytes(2.0, 8, 7168, 1.5, 8) == 301_056.0
    off = _cell()
    nvlink = _cell("hardware.b200.ep=8")
    network = _cell("hardware.b200.ep=8", "hardware.b200.scaleup_domain=4")
    assert float(nvlink.step_time - off.step_time) == pytest.approx(1.4810013866666666e-3, rel=1e-9)
    assert float(network.step_time - off.step_time) == pytest.approx(1.81082496e-3, rel=1e-9)
    assert float(nvlink.interactivity) < float(off.interactivity)
    # EP 1 (the default) moves nothing; a dense model has no all-to-all whatever ep says
    assert float(_cell("hardware.b200.ep=1").step_time) == float(off.step_time)


def test_dp_attention_splits_mla_kv_by_the_dp_width():
    """MLA's latent KV is one head: under TP every one of the S = 8 GPUs reads all of it, K; under
    dp-attention each reads its own requests', K / 8.  With the attention weights left out
    (attention_params_b null) the step falls by exactly K (1 - 1/8) / B; with them, every GPU also
    reads the 11.4 B attention parameters whole: + A (S - 1) / (S B)."""
    tp = _cell("models.deepseek_v3.attention_params_b=null")
    dp = _cell("models.deepseek_v3.attention_params_b=null", "hardware.b200.attention_data_parallel=true")
    kv = float(tp.kv_bytes_per_request) * 16
    bandwidth = 8.0e12 * 0.5
    assert float(tp.step_time - dp.step_time) == pytest.approx(kv * (1 - 1 / 8) / bandwidth, rel=1e-9)
    with_weights = _cell("hardware.b200.attention_data_parallel=true")
    attention = 11.4e9 * 1.0  # FP8: 1 byte per parameter (weight_bits 8)
    assert float(with_weights.step_time - dp.step_time) == pytest.approx(attention * 7 / (8 * bandwidth), rel=1e-9)


@pytest.mark.parametrize("accepted", [1.0, 1.7, 2.0, 4.0])
def test_mtp_tokens_per_step_scale_interactivity_exactly(accepted):
    """With the draft fixed (3 tokens: the step verifies 4 per request and runs the one-layer draft
    3 times, 1 + 3/61 of a step), a step emitting a tokens per request takes 1/a of the time per
    token: step_time and, in ratio mode, interactivity scale by exactly a."""
    base = ["hardware.b200.mtp_draft_tokens=3", "hardware.b200.prefill_mode=ratio"]
    one = _cell(*base, "hardware.b200.accepted_tokens_per_step=1")
    more = _cell(*base, f"hardware.b200.accepted_tokens_per_step={accepted}")
    assert float(more.step_time) == pytest.approx(float(one.step_time) / accepted, rel=1e-14)
    assert float(more.interactivity) == pytest.approx(float(one.interactivity) * accepted, rel=1e-14)
    # the draft itself: a step of 4 verified tokens per request times (1 + 3 / 61)
    plain = _cell("hardware.b200.prefill_mode=ratio", "hardware.b200.compute_efficiency=1e-3")
    four = _cell("hardware.b200.prefill_mode=ratio", "hardware.b200.compute_efficiency=1e-3",
                 "hardware.b200.mtp_draft_tokens=3")
    # compute-bound (tiny efficiency): 4x the FLOPs, times the draft's share
    assert float(four.step_time) == pytest.approx(float(plain.step_time) * 4 * (1 + 3 / 61), rel=1e-12)


def test_mtp_acceptance_gives_the_chains_accepted_tokens():
    """Three drafts each accepted with probability 0.65 once the ones before are: a step emits
    1 + 0.65 + 0.4225 + 0.274625 = (1 - 0.65^4) / 0.35 = 2.347125 tokens per request, the same step as
    ``accepted_tokens_per_step`` at that count."""
    base = ["hardware.b200.mtp_draft_tokens=3", "hardware.b200.prefill_mode=ratio"]
    assert float(serving.accepted_tokens(0.65, 3.0)) == pytest.approx(2.347125, rel=1e-12)
    chain = _cell(*base, "hardware.b200.mtp_acceptance=0.65")
    fixed = _cell(*base, "hardware.b200.accepted_tokens_per_step=2.347125")
    assert float(chain.step_time) == pytest.approx(float(fixed.step_time), rel=1e-12)


@pytest.mark.parametrize(("n", "drafts"), [(1, 3), (4, 2), (16, 3), (64, 1)])
def test_mtp_drafts_per_batch_are_the_fastest_count_at_each_batch(n, drafts):
    """``mtp_draft_per_batch``: each cell runs the draft count of 1 to 3 whose step emits the most
    tokens per second, so its time per output token is the least of the three fixed counts' (the
    hand-worked cell at 1% of the FLOP peak, 1k prompts, acceptance 0.65: 0.65^d more tokens for the
    d-th draft, one more verified token's FLOPs and reads).  Alone, a request's step reads the
    weights whatever it verifies: three drafts.  At 64 the FLOPs of four verified tokens bind: one
    draft.  Between, the routed experts a batch touches and the FLOPs cross: two at 4, three at 16.
    The kernel and the oracle agree."""
    base = ["hardware.b200.mtp_acceptance=0.65", "hardware.b200.prefill_mode=ratio",
            "hardware.b200.compute_efficiency=0.01"]
    fixed = {d: float(model.evaluate(_config(base + [f"hardware.b200.mtp_draft_tokens={d}"]), **at(1000, n))
                      .squeeze().step_time) for d in (1, 2, 3)}
    chosen = _config(base + ["hardware.b200.mtp_draft_tokens=3", "hardware.b200.mtp_draft_per_batch=true"])
    step = float(model.evaluate(chosen, **at(1000, n)).squeeze().step_time)
    assert step == pytest.approx(min(fixed.values()), rel=1e-12)
    assert min(fixed, key=fixed.get) == drafts
    assert cell(chosen, "deepseek_v3", "b200", 1000, n)["step_time"] == pytest.approx(step, rel=1e-12)
    # without the choice the worker runs three: slower wherever three is not the fastest
    three = _config(base + ["hardware.b200.mtp_draft_tokens=3"])
    assert (float(model.evaluate(three, **at(1000, n)).squeeze().step_time) > step * (1 + 1e-3)) == (drafts != 3)


def test_fp4_math_and_kv_bits_and_prefill_busy_time():
    """FP4 math: gpt-oss-120b (MXFP4 experts) on B200 prefills at 9,000 rather than 4,500 TFLOP/s:
    its busy time halves exactly; DeepSeek V3 (FP8 checkpoint) is unchanged.  KV bits 8 halve the
    KV of a BF16-KV model.  prefill_busy_s adds to the replica's busy time (1 / prefill_capacity),
    not to the fixed latency."""
    oss = ["select.models=[gpt_oss_120b]"]
    fp8, fp4 = _cell(*oss), _cell(*oss, "hardware.b200.fp4_compute=true")
    assert pytest.approx(0.5 / float(fp8.prefill_capacity), rel=1e-12) == 1 / float(fp4.prefill_capacity)
    assert float(_cell("hardware.b200.fp4_compute=true").step_time) == float(_cell().step_time)
    assert float(_cell("hardware.b200.kv_cache_bits=8").kv_bytes_per_request) == \
        float(_cell().kv_bytes_per_request) / 2
    busy = _cell("hardware.b200.prefill_busy_s=0.05")
    assert pytest.approx(1 / float(_cell().prefill_capacity) + 0.05, rel=1e-12) == 1 / float(busy.prefill_capacity)
    assert float(busy.prefill_time) == pytest.approx(float(_cell().prefill_time) + 0.05, rel=1e-12)


def test_memory_reserve_caps_the_kv_a_pinned_replica_holds():
    """DeepSeek V3 (671 GB FP8) on the pinned 8 B200 (180 GB each), L = 100,000, N = 64: one
    request's MLA KV is 100,000 x 61 x 576 x 2 B = 7.0272 GB, whole on every GPU under TP.  A GPU
    keeps 180 - 671 / 8 = 96.125 GB for KV: 13.68, 13 requests.  A 20 GB reserve leaves 76.125 GB:
    10.83, 10 requests (model.serving.kv_capacity, the calibration's cap); the other 54 users wait
    54 / X, X the replica's request rate at 10."""
    assert serving.kv_capacity(180e9, 20e9, 671e9 / 8, 7.0272e9, 8, False) == pytest.approx(76.125 / 7.0272,
                                                                                           rel=1e-12)
    off = _cell(isl=100_000, n=64)
    on = _cell("hardware.b200.memory_reserve_gb=20", isl=100_000, n=64)
    assert float(on.kv_bytes_per_request) == 7.0272e9
    assert (int(off.admitted_requests), int(on.admitted_requests)) == (13, 10)
    ten = _cell("hardware.b200.memory_reserve_gb=20", isl=100_000, n=10)
    assert int(ten.admitted_requests) == 10 and float(ten.step_time) == float(on.step_time)
    assert float(on.ttft) == pytest.approx(float(ten.ttft) + 54 / float(ten.requests_per_second), rel=1e-12)
    # under dp-attention the latent KV splits 8 ways: 76.125 / (7.0272 / 8) = 86.7, all 64 fit
    dp = _cell("hardware.b200.memory_reserve_gb=20", "hardware.b200.attention_data_parallel=true",
               isl=100_000, n=64)
    assert int(dp.admitted_requests) == 64
    # a replica free to grow grows: 2 requests' KV, 14.0544 GB, is on every GPU, so without a reserve
    # ceil(671 / (180 - 14.0544)) = 5 GPUs, built as 8 (B200's allowed sizes); a 100 GB reserve leaves
    # 80 GB: ceil(671 / 65.9456) = 11, built as 16
    free = _config(["hardware.b200.max_systems=null", "hardware.b200.min_systems=1"])
    grown = _config(["hardware.b200.max_systems=null", "hardware.b200.min_systems=1",
                                      "hardware.b200.memory_reserve_gb=100"])
    sizes = [int(model.evaluate(c, **at(100_000, 2)).systems.squeeze()) for c in (free, grown)]
    assert sizes == [8, 16]
    with pytest.raises(model.ConfigError, match="memory_reserve_gb"):
        model.load_config(CELL + ["hardware.b200.memory_reserve_gb=180"])


def test_dp_attention_holds_the_whole_attention_weights_on_every_gpu():
    """DeepSeek V3 (671 GB FP8, 1 byte a parameter: its 11.4 B attention parameters are A = 11.4 GB)
    on B200 (180 GB), L = 100,000: one request's MLA KV is 7.0272 GB, split 8 ways under
    dp-attention, 0.8784 GB per GPU of 8.  Every GPU holds A whole and (W - A) / S of the rest.

    - The pinned 8 at N = 128: a GPU holds (671 - 11.4) / 8 = 82.45 GB of the rest + 11.4 GB of
      attention = 93.85 GB of weights, 86.15 GB for KV: 86.15 / 0.8784 = 98.08, 98 requests
      (with the attention split like the rest, 671 / 8 = 83.875 GB, 96.125 / 0.8784 = 109.43: 109).
    - A free replica (sizes unrestricted) at N = 100, 702.72 GB of KV:
      S = ceil((671 - 11.4 + 702.72) / (180 - 11.4)) = ceil(8.080) = 9 GPUs, each 73.29 + 11.4 +
      78.08 = 162.77 GB (ceil((671 + 702.72) / 180) = 8 before, but 8 GPUs would each hold 82.45 +
      11.4 + 87.84 = 181.69 GB > 180).
    - The weights alone with a 12 GB reserve (168 GB a GPU): S0 = ceil(659.6 / 156.6) = ceil(4.212) = 5
      (ceil(671 / 168) = ceil(3.994) = 4 before: 4 GPUs would each hold 164.9 + 11.4 = 176.3 GB > 168).
    - A 170 GB reserve leaves 10 GB a GPU, less than A: no size fits (68 GPUs before).
    The kernel equals the pointwise oracle on each."""
    dp = "hardware.b200.attention_data_parallel=true"
    free = ["hardware.b200.max_systems=null", "hardware.b200.min_systems=1", "hardware.b200.allowed_sizes=null"]

    def both(*extra, n):
        cfg = _config([dp, *extra])
        ds = model.evaluate(cfg, variables=list(CELL_OUTPUTS), **at(100_000, n)).squeeze()
        assert_matches_oracle(ds, cell(cfg, "deepseek_v3", "b200", 100_000, n))
        return ds

    pinned = both(n=128)
    assert float(pinned.kv_bytes_per_request) == 7.0272e9
    assert serving.kv_capacity(180e9, 0.0, (671e9 - 11.4e9) / 8 + 11.4e9, 7.0272e9, 8, True) == \
        pytest.approx(86.15 / 0.8784, rel=1e-12)
    assert int(pinned.admitted_requests) == 98 and bool(pinned.feasible)
    grown = both(*free, n=100)
    assert (int(grown.systems), int(grown.systems_for_weights)) == (9, 4) and bool(grown.feasible)
    assert int(both(*free, "hardware.b200.memory_reserve_gb=12", n=1).systems_for_weights) == 5
    full = both(*free, "hardware.b200.memory_reserve_gb=170", n=1)
    assert not bool(full.feasible)
    # without dp-attention nothing changes: the tensor-parallel replica keeps W / S (its own test above)
    assert int(model.evaluate(_config(free), **at(100_000, 1)).systems.squeeze()) == 4


def test_prefill_pool_speed_and_latency_share():
    """DeepSeek V3 on the 8 B200 at L = 8,000 (5,000 cached, 3,000 new): the new tokens' FLOPs are
    3,000 x (2 x 37e9 + 4,997,120 x 6,500) = 3.1944384e14 (A = 2 x 128 x (192 + 128) x 61), busy
    3.1944384e14 / (8 x 4,500e12 x 0.5) = 17.74688 ms, t_pf = 0.1 + 0.01774688 s.  The same replica
    in a disaggregated prefill pool at prefill_stack_speed 2 is busy 8.87344 ms (capacity
    112.6959 req/s: the speed is the pool's throughput) while a request's own prefill stays the
    replica's 17.74688 ms, and its fixed latency is 0.4 x 0.1 s: pool t_pf = 0.05774688 s.  The
    aggregated replica's outputs do not move; both pool outputs are the aggregated ones at 1 and 1."""
    names = ["prefill_time", "prefill_capacity", "pool_prefill_time", "pool_prefill_capacity", "ttft"]

    def pool(*extra):
        return model.evaluate(_config(list(extra)), variables=names, **at(8000, 16)).squeeze()

    off, on = pool(), pool("hardware.b200.prefill_stack_speed=2", "hardware.b200.pool_latency_share=0.4")
    assert float(off.prefill_time) == pytest.approx(0.11774688, rel=1e-12)
    assert (float(off.pool_prefill_time), float(off.pool_prefill_capacity)) == \
        (float(off.prefill_time), float(off.prefill_capacity))
    assert float(on.pool_prefill_time) == pytest.approx(0.05774688, rel=1e-12)
    assert pytest.approx(0.00887344, rel=1e-12) == 1 / float(on.pool_prefill_capacity)
    for name in ("prefill_time", "prefill_capacity", "ttft"):
        assert float(on[name]) == float(off[name])
    assert "pool_prefill_time" not in model.evaluate(_config(), **at(8000, 16))  # asked for by name


def test_weight_pass_per_prefill_forward():
    """DeepSeek V3's weights, dense + routed = (37 - 8/256 x 653.9) + 653.9 = 670.465625 B params at
    1 byte, streamed by the 8 B200 at 8 TB/s x 0.5: W = 670.465625e9 / 32e12 = 20.952050781 ms per
    forward.  The 3,000 new tokens of L = 8,000 in chunks of C = 2,048: the busy time carries
    min(3,000 / 2,048, 1) = 1 pass, 17.74688 + 20.952051 = 38.698931 ms; the request's own prefill
    ceil(3,000 / 2,048) = 2 passes, t_pf = 0.1 + 0.01774688 + 0.041904102 = 0.159650982 s.  With
    C = 8,192: busy 17.74688 + 3,000 / 8,192 x 20.952051 ms, t_pf 0.1 + 0.01774688 + 0.020952051 s.
    T = O step + N b (O = 2,000)."""
    names = ["prefill_time", "prefill_capacity", "request_time", "step_time", "ttft"]

    def chunked(*extra):
        return model.evaluate(_config(list(extra)), variables=names, **at(8000, 16)).squeeze()

    w = 670.465625e9 / 32e12
    for chunk, shared, alone in ((2048, w, 2 * w), (8192, 3000 / 8192 * w, w)):
        on = chunked(f"hardware.b200.prefill_chunk_tokens={chunk}")
        assert pytest.approx(0.01774688 + shared, rel=1e-12) == 1 / float(on.prefill_capacity)
        assert float(on.prefill_time) == pytest.approx(0.1 + 0.01774688 + alone, rel=1e-12)
        assert float(on.request_time) == pytest.approx(2000 * float(on.step_time) + 16 * (0.01774688 + shared),
                                                       rel=1e-12)
    assert float(chunked("hardware.b200.prefill_chunk_tokens=2048").prefill_time) == \
        pytest.approx(0.15965098156, rel=1e-10)
    assert float(chunked().prefill_time) == pytest.approx(0.11774688, rel=1e-12)  # null: no weight pass


def test_decode_attention_by_hand(cfg):
    """DeepSeek V3 (MLA: 128 heads, kv_lora_rank 512, rope 64, 61 layers) on the 8 B200, L = 8,000
    (the decode context, workload.decode_context = isl), N = 16.  Absorbed MLA scores and weights
    each cached latent: F_dec = 2 x 128 x (2 x 512 + 64) x 61 = 16,990,208 FLOPs per context token,
    1.35921664e11 per verified token over 8,000 tokens.  At 0.2 of the 4,500 TFLOP/s FP8 peak one
    GPU takes 1.35921664e11 / 9e14 = 151.024071 µs per token; the 16 requests' tokens spread over
    the 8 GPUs, + 2 x 151.024071 = 302.048142 µs serial to the reads: the step goes from 17.005181
    ms (memory-bound; the compute bound is 16 x 74e9 / 3.6e16 = 32.9 µs) to 17.307229 ms.  With MTP
    (3 drafted, 4 verified per request, 1 accepted) the term counts 4 tokens per request and sits
    inside the draft factor: + 4 x 302.048142 µs x (1 + 3/61) = 1.267612 ms.  At the mean context
    (L + O / 2 = 9,000) it is 9/8 as large.  gpt-oss-120b (GQA, 64 heads of 64 + 64, 36 layers, 18
    of them over a 128-token window): 2 x 64 x 128 = 16,384 FLOPs per layer and context token,
    16,384 x (18 x 8,000 + 18 x 128) = 2,397,044,736 per token, 2.663383 µs at 9e14 FLOP/s: + 2 x
    2.663383 µs.  The wafer's decode rate is measured (its step holds the attention): no change."""
    on = "hardware.b200.decode_attention_efficiency=0.2"
    per_token = 16_990_208 * 8000 / 9e14
    assert per_token == pytest.approx(151.024071e-6, rel=1e-8)
    off = _cell()
    assert float(off.step_time) == pytest.approx(17.005181e-3, rel=1e-7)
    assert float(_cell(on).step_time) == pytest.approx(17.307229e-3, rel=1e-7)
    assert float(_cell(on).step_time - off.step_time) == pytest.approx(2 * per_token, rel=1e-9)
    mtp = "hardware.b200.mtp_draft_tokens=3"
    assert float(_cell(mtp, on).step_time - _cell(mtp).step_time) == \
        pytest.approx(4 * 2 * per_token * (1 + 3 / 61), rel=1e-9)
    assert 4 * 2 * per_token * (1 + 3 / 61) == pytest.approx(1.267612e-3, rel=1e-6)
    mean = "workload.decode_context=mean"
    assert float(_cell(mean, on).step_time - _cell(mean).step_time) == pytest.approx(2 * per_token * 9 / 8, rel=1e-9)
    oss = "select.models=[gpt_oss_120b]"
    assert float(_cell(oss, on).step_time - _cell(oss).step_time) == pytest.approx(2 * 2_397_044_736 / 9e14,
                                                                                   rel=1e-9)
    wafer = ["select.hardware=[cerebras_wse3]", "hardware.cerebras_wse3.decode_attention_efficiency=0.2"]
    steps = [float(model.evaluate(overridden(cfg, ["select.models=[deepseek_v3]", *extra]), **at(8000, 16))
                   .step_time.squeeze()) for extra in (wafer[:1], wafer)]
    assert steps[0] == steps[1]


def test_dp_attention_prefill_runs_the_request_attention_on_one_rank():
    """DeepSeek V3 at L = 8,000 (5,000 cached, 3,000 new) on the 8 B200: the new tokens' attention
    is 3,000 x 4,997,120 x (5,000 + 1,500) = 9.744384e13 FLOPs.  Under dp-attention a request's
    attention runs on its one rank at 4,500e12 x 0.5 FLOP/s, 43.308373 ms, instead of on all 8:
    its own prefill (t_pf) takes (1 - 1/8) x 43.308373 = 37.894827 ms more (model.serving.prefill_own),
    while the replica's busy time (1 / prefill_capacity) is unchanged: the other ranks prefill other
    requests meanwhile.  The TTFT carries the same 37.894827 ms at N = 1 (no Poisson queue; beside
    the ranks' round, 7 / (2 X))."""
    names = ["prefill_time", "prefill_capacity", "ttft", "step_time", "request_time"]

    def dp(flag, n=16):
        return model.evaluate(_config([f"hardware.b200.attention_data_parallel={flag}"]),
                              variables=names, **at(8000, n)).squeeze()

    extra = 0.875 * 9.744384e13 / 2.25e15
    assert float(dp(True).prefill_time - dp(False).prefill_time) == pytest.approx(extra, rel=1e-9)
    assert float(dp(True).prefill_capacity) == float(dp(False).prefill_capacity)
    one_on, one_off = dp(True, 1), dp(False, 1)
    # one user waits for no other rank (model.serving.rank_balance_wait: a round holds at most the
    # N users), so the two TTFTs differ by the request's own attention alone
    assert float(one_on.ttft - 0.5 * one_on.step_time) - float(one_off.ttft - 0.5 * one_off.step_time) \
        == pytest.approx(extra, rel=1e-9)


def test_attention_dp_rank_wait_on_an_aggregated_replica():
    """The 8 B200 under dp-attention, N = 16, L = 8,000: O = 2,000 tokens at step 17.531315 ms plus
    16 prefills of b = 17.74688 ms make T = 35.346580 s, X = 16 / T = 0.452660 req/s.  The 8 ranks
    prefill a round together: a new request waits (8 - 1) / (2 X) = 7 T / 32 = 7.732064 s
    (model.serving.rank_balance_wait).  TTFT = 0.1 + own 0.055641707 + Poisson wait
    b^2 15 / (2 T) = 6.6828e-5 + step / 2 + 7.732064 = 7.896538 s.  At p90 the whole queue
    (Poisson + rank wait) spreads by 2 x 0.9 - 1 = 0.8 of itself."""
    names = ["prefill_time", "prefill_capacity", "ttft", "step_time", "request_time", "requests_per_second"]
    on = model.evaluate(_config(["hardware.b200.attention_data_parallel=true"]),
                        variables=names, **at(8000, 16)).squeeze()
    t, b = float(on.request_time), 1 / float(on.prefill_capacity)
    assert t == pytest.approx(2000 * float(on.step_time) + 16 * 0.01774688, rel=1e-12)
    wait = 7 / (2 * float(on.requests_per_second))
    assert wait == pytest.approx(7 * t / 32, rel=1e-12) and wait == pytest.approx(7.732064, rel=1e-6)
    own = float(on.prefill_time) - 0.1
    assert float(on.ttft) == pytest.approx(0.1 + own + b * 15 * b / (2 * t) + float(on.step_time) / 2 + wait,
                                           rel=1e-12)
    assert float(on.ttft) == pytest.approx(7.896538, rel=1e-6)
    # at p90 the SLA sees ttft + 0.8 (Poisson + rank wait): a limit between the two splits them
    limit = float(on.ttft) + 0.5 * 0.8 * (b * 15 * b / (2 * t) + wait)
    meets = {q: bool(model.evaluate(_config([
        "hardware.b200.attention_data_parallel=true", f"sla.percentile={q}", f"sla.max_ttft_s={limit}",
        "sla.min_interactivity=1"]), variables=["meets_sla"], **at(8000, 16)).meets_sla.squeeze())
        for q in ("p50", "p90")}
    assert meets == {"p50": True, "p90": False}


def test_percentiles_are_ordered_with_the_new_terms_on(cfg):
    """p99 >= p90 >= p50 in TTFT and TPOT: the cells meeting an SLA at p99 are among those meeting
    it at p90, and those among p50's."""
    terms = ["hardware.b200.ep=8", "hardware.b200.mtp_draft_tokens=3", "hardware.b200.accepted_tokens_per_step=2.2",
             "hardware.b200.prefill_busy_s=0.02", "hardware.b200.attention_data_parallel=true",
             "hardware.b200.kv_cache_bits=8", "select.hardware=[b200]", "sla.min_interactivity=40",
             "sla.max_ttft_s=2"]
    meets = {p: model.evaluate(overridden(cfg, terms + [f"sla.percentile={p}"]), variables=["meets_sla"])
             .meets_sla.values for p in ("p50", "p90", "p99")}
    assert (meets["p99"] <= meets["p90"]).all() and (meets["p90"] <= meets["p50"]).all()
    assert meets["p99"].sum() < meets["p50"].sum()


GPUS = ["h100_sxm", "b200", "gb200_nvl72", "mi355x", "b300", "gb300_nvl72", "mi325x"]


# 30 random cells: each evaluates the kernel and the oracle with every §10 setting drawn (~0.15 s a cell)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(model_name=st.sampled_from(["deepseek_v4", "kimi_k2_6", "gpt_oss_120b", "glm_4_7", "deepseek_v3"]),
       hw=st.sampled_from(GPUS), isl=st.integers(1, 300_000), n=st.integers(1, 2048),
       ep=st.sampled_from([1, 2, 8, 16, 72]), dp=st.booleans(), draft=st.integers(0, 3),
       accepted=st.floats(0, 1), acceptance=st.sampled_from([None, 0.4, 0.9]), per_batch=st.booleans(),
       kv_bits=st.sampled_from([None, 8, 16]), fp4=st.booleans(),
       busy=st.sampled_from([0.0, 0.003, 0.2]), mode=st.sampled_from(["ratio", "physical"]),
       pinned=st.sampled_from([None, 8, 16]), percentile=st.sampled_from(["p50", "p90", "p99"]),
       max_ttft=st.sampled_from([None, 0.5, 30.0]), reserve=st.sampled_from([0.0, 5.0, 40.0]),
       speed=st.sampled_from([1.0, 0.4, 2.5]), share=st.sampled_from([1.0, 0.0, 0.3]),
       chunk=st.sampled_from([None, 512, 8192]), attention=st.sampled_from([None, 0.03, 0.7]),
       context=st.sampled_from(["isl", "mean"]), fp4_speed=st.sampled_from([1.0, 0.6, 2.1]))
def test_kernel_equals_the_oracle_with_the_new_terms_on(cfg, model_name, hw, isl, n, ep, dp, draft, accepted,
                                                       acceptance, per_batch, kv_bits, fp4, busy, mode, pinned,
                                                       percentile, max_ttft, reserve, speed, share, chunk, attention,
                                                       context, fp4_speed):
    updates = {f"hardware.{hw}.ep": ep, f"hardware.{hw}.attention_data_parallel": dp,
               f"hardware.{hw}.mtp_draft_tokens": draft,
               f"hardware.{hw}.accepted_tokens_per_step": 1 + accepted * draft,
               f"hardware.{hw}.mtp_acceptance": acceptance,
               f"hardware.{hw}.mtp_draft_per_batch": per_batch and acceptance is not None,
               f"hardware.{hw}.kv_cache_bits": kv_bits, f"hardware.{hw}.fp4_compute": fp4,
               f"hardware.{hw}.prefill_busy_s": busy, f"hardware.{hw}.prefill_mode": mode,
               f"hardware.{hw}.memory_reserve_gb": reserve, f"hardware.{hw}.prefill_stack_speed": speed,
               f"hardware.{hw}.pool_latency_share": share, f"hardware.{hw}.prefill_chunk_tokens": chunk,
               f"hardware.{hw}.decode_attention_efficiency": attention, "workload.decode_context": context,
               f"hardware.{hw}.fp4_prefill_speed": fp4_speed,
               "sla.percentile": percentile,
               "sla.max_ttft_s": max_ttft, "sla.min_interactivity": 20.0,
               "select.models": [model_name], "select.hardware": [hw]}
    if pinned is not None:
        updates.update({f"hardware.{hw}.min_systems": pinned, f"hardware.{hw}.max_systems": pinned,
                        f"hardware.{hw}.allowed_sizes": None})
    cfg = with_values(cfg, updates)  # a copy of the composed config, validated again
    ds = model.evaluate(cfg, variables=list(CELL_OUTPUTS), **at(isl, n)).sel(model=model_name, hardware=hw).squeeze()
    assert_matches_oracle(ds, cell(cfg, model_name, hw, isl, n))


def test_lazy_equals_in_memory_with_the_new_terms_on(cfg):
    attention = ["hardware.b200.decode_attention_efficiency=0.3",
                 "hardware.gb200_nvl72.decode_attention_efficiency=0.05"]
    terms = [
        "hardware.b200.ep=8", "hardware.b200.mtp_draft_tokens=3", "hardware.b200.mtp_acceptance=0.7",
        "hardware.b200.mtp_draft_per_batch=true",
        "hardware.b200.attention_data_parallel=true", "hardware.b200.kv_cache_bits=8",
        "hardware.b200.fp4_compute=true", "hardware.b200.fp4_prefill_speed=2.08",
        "hardware.b200.prefill_busy_s=0.01", "hardware.gb200_nvl72.ep=72",
        "hardware.b200.memory_reserve_gb=12", "hardware.gb200_nvl72.memory_reserve_gb=30",
        "hardware.b200.prefill_stack_speed=1.7", "hardware.b200.pool_latency_share=0.3",
        "hardware.b200.prefill_chunk_tokens=4096", "hardware.gb200_nvl72.prefill_chunk_tokens=16384",
        "hardware.gb200_nvl72.mtp_draft_tokens=1", "sla.percentile=p90", "sla.max_ttft_s=3",
        "grid.isl_points=6", "grid.concurrency_max=300", "grid.concurrency_step=7"]
    on = overridden(cfg, terms + attention)
    eager = model.evaluate(on, variables=list(CELL_OUTPUTS))
    lazy = model.evaluate(on, variables=list(CELL_OUTPUTS), chunks={"isl": 2, "concurrency": 11}).compute()
    xr.testing.assert_identical(lazy, eager)
    off = model.evaluate(overridden(cfg, ["grid.isl_points=6", "grid.concurrency_max=300", "grid.concurrency_step=7"]))
    assert not np.array_equal(off.step_time.sel(hardware="b200").values, eager.step_time.sel(hardware="b200").values)
    # the decode attention is among the terms: every feasible GPU cell's step is longer with it
    without = model.evaluate(overridden(cfg, terms), variables=["step_time"])
    for hw in ("b200", "gb200_nvl72"):
        longer, shorter = eager.step_time.sel(hardware=hw).values, without.step_time.sel(hardware=hw).values
        known = np.isfinite(shorter)
        assert known.any() and (longer[known] > shorter[known]).all()


def test_decode_attention_needs_the_attention_shape():
    """The decode attention of a model without attention_heads is an unknown input: the cell is
    infeasible with the setting on (kernel and oracle), and served without it."""
    shapeless = ["hardware.b200.prefill_mode=ratio", "models.deepseek_v3.attention_heads=null"]
    for extra, served in (([], True), (["hardware.b200.decode_attention_efficiency=0.2"], False)):
        cfg = _config(shapeless + extra)
        assert bool(model.evaluate(cfg, **at(8000, 16)).feasible.squeeze()) is served
        assert cell(cfg, "deepseek_v3", "b200", 8000, 16)["feasible"] is served


def test_ep_needs_the_model_and_link_terms():
    """EP > 1 on a MoE model without hidden_size is an unknown input: the cell is infeasible."""
    cfg = _config(["hardware.b200.ep=8", "models.deepseek_v3.hidden_size=null"])
    assert not bool(model.evaluate(cfg, **at(8000, 16)).feasible.squeeze())
    assert not cell(cfg, "deepseek_v3", "b200", 8000, 16)["feasible"]
    p = parameters(_config(["hardware.b200.ep=8"]))
    assert float(p.ep_width.sel(model="deepseek_v3", hardware="b200")) == 8


def test_fp4_prefill_speed_scales_the_prefill_efficiency_of_fp4_math_only():
    """``hardware.<gpu>.fp4_prefill_speed`` multiplies ``prefill_efficiency`` where the math runs at
    FP4 (DeepSeek-V4's FP4 checkpoint on B200 with ``fp4_compute``): one B200 then prefills at
    9,000 TFLOP/s x eta_p x 2 instead of x 1, and its prefill compute takes half as long.  Without
    FP4 math (the FP8 peak, 4,500 TFLOP/s) the factor changes nothing, and neither does it on
    DeepSeek-V3's FP8 checkpoint with FP4 math asked for."""
    base = ["select.models=[deepseek_v4,deepseek_v3]"]

    def at_speed(extra):
        p = parameters(_config(base + extra))
        return p.prefill_flops_per_s.sel(hardware="b200"), p.prefill_compute_seconds.sel(hardware="b200")

    eta = float(_config(base).hardware.b200.prefill_efficiency)
    fp4_1, seconds_1 = at_speed(["hardware.b200.fp4_compute=true"])
    fp4_2, seconds_2 = at_speed(["hardware.b200.fp4_compute=true", "hardware.b200.fp4_prefill_speed=2"])
    assert float(fp4_1.sel(model="deepseek_v4")) == pytest.approx(9000e12 * eta, rel=1e-12)
    assert float(fp4_2.sel(model="deepseek_v4")) == pytest.approx(2 * 9000e12 * eta, rel=1e-12)
    assert np.allclose(2 * seconds_2.sel(model="deepseek_v4").values, seconds_1.sel(model="deepseek_v4").values,
                       rtol=1e-12, atol=0)
    # DeepSeek-V3 (FP8 checkpoint) under fp4_compute, and both models without it: the FP8 peak, unscaled
    assert float(fp4_2.sel(model="deepseek_v3")) == float(fp4_1.sel(model="deepseek_v3")) == 4500e12 * eta
    fp8_1, _ = at_speed([])
    fp8_2, _ = at_speed(["hardware.b200.fp4_prefill_speed=2"])
    assert np.array_equal(fp8_1.values, fp8_2.values) and (fp8_2.values == 4500e12 * eta).all()
