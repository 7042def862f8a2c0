"""docs/model.md §10 equations of model.serving, against hand-worked cells and the §8 kernel."""
import dataclasses

import numpy as np
import pytest
from omegaconf import OmegaConf

import model
from model import configurations, serving
from model.app.config import load_config
from tests.helpers import ROOT, at

# DeepSeek V3/R1 shapes (config.json)
ARCH = dict(layers=61.0, moe_layers=58.0, experts_per_token=8.0, hidden_size=7168.0)
SHARE = 8 / 256


def _step(n, **over):
    """decode_step of the hand-worked cells: B200 numbers, everything off unless ``over`` sets it."""
    args = dict(gpus=8.0, dp_attention=False, ep=1.0, tokens_per_step=1.0, mtp_draft=0.0, kv_bytes_request=0.0,
                dense_bytes=0.0, attention_bytes=0.0, routed_bytes=0.0, expert_share=SHARE, flops_per_token=0.0,
                activation_bytes=2.0, bandwidth_bytes_s=8e12, peak_flops=4500e12, bandwidth_efficiency=0.5,
                compute_efficiency=1.0, layer_overhead_s=0.0, ep_latency_s=0.0, scaleup_bytes_s=900e9,
                scaleup_domain=8.0, scaleout_bytes_s=50e9, **ARCH)
    args.update(over)
    return float(serving.decode_step(n, **args))


def test_ep_cell_by_hand():
    """512 requests on 8 B200, one token each: 64 tokens per GPU.  Per MoE layer a GPU sends
    2 x 64 x 8 x 7,168 x 2 B x 7/8 = 12,845,056 B (EP 8, NVLink 900 GB/s: 14.272 µs); at EP 16
    (beyond the 8-GPU NVLink domain, 50 GB/s per GPU) 2 x 64 x 8 x 7,168 x 2 x 15/16 = 13,762,560 B,
    275.25 µs.  Over 58 MoE layers with 10 µs per peer (7 peers at EP 8, 15 at EP 16):
    58 x (14.2723 + 70) µs = 4.88779 ms on NVLink, 58 x (275.251 + 150) µs = 24.6646 ms on the
    network.  Step: 61 x 100 µs + 10 GB / 8 / 4 TB/s = 6.1 + 0.3125 = 6.4125 ms without EP,
    11.30029 ms with EP 8."""
    assert float(serving.ep_alltoall_bytes(64, 8, 7168, 2, 8)) == 12_845_056
    assert float(serving.ep_alltoall_bytes(64, 8, 7168, 2, 16)) == 13_762_560
    assert float(serving.ep_alltoall_bytes(64, 8, 7168, 2, 1)) == 0
    nvlink = float(serving.ep_alltoall_seconds(64, 8, 7168, 2, 8, 58, 900e9, 8, 50e9, 1e-5))
    network = float(serving.ep_alltoall_seconds(64, 8, 7168, 2, 16, 58, 900e9, 8, 50e9, 1e-5))
    assert nvlink == pytest.approx(58 * (12_845_056 / 900e9 + 7 * 1e-5), rel=1e-12)
    assert round(nvlink * 1e3, 5) == 4.88779
    assert round(network * 1e3, 4) == 24.6646
    common = dict(dense_bytes=10e9, layer_overhead_s=1e-4, ep_latency_s=1e-5)
    without = _step(512.0, **common)
    with_ep = _step(512.0, ep=8.0, **common)
    assert round(without * 1e3, 4) == 6.4125
    assert with_ep - without == pytest.approx(nvlink, rel=1e-12)
    assert round(with_ep * 1e3, 5) == 11.30029


def test_dp_attention_divides_mla_kv_per_gpu_by_the_dp_width():
    """64 requests of 1,000 tokens of MLA KV (61 x 576 x 2 B = 70,272 B/token): under TP every
    GPU reads all 4.49741 GB (1.12435 ms at 4 TB/s); under DP attention over 8 GPUs 1/8 of it."""
    kv = 1000 * 70272.0
    tp = _step(64.0, kv_bytes_request=kv)
    dp = _step(64.0, kv_bytes_request=kv, dp_attention=True)
    assert round(tp * 1e3, 5) == 1.12435
    assert dp == pytest.approx(tp / 8, rel=1e-12)
    # weights stay sharded except attention, whole on each DP rank
    w = _step(64.0, dense_bytes=16e9, attention_bytes=11.4e9, dp_attention=True)
    assert w == pytest.approx((4.6e9 / 8 + 11.4e9) / 4e12, rel=1e-12)


@pytest.mark.parametrize("accepted", [1.0, 1.7, 2.5, 4.0])
def test_mtp_accepted_tokens_scale_interactivity_exactly(accepted):
    step = _step(32.0, dense_bytes=20e9, layer_overhead_s=1e-4, tokens_per_step=4.0, mtp_draft=3.0)
    _, _, inter, _ = serving.aggregated(32.0, 1000.0, lambda n: (step, accepted), 0.0, 0.0)
    _, _, base, _ = serving.aggregated(32.0, 1000.0, lambda n: (step, 1.0), 0.0, 0.0)
    assert inter == pytest.approx(accepted * base, rel=1e-12)
    assert inter == pytest.approx(accepted / step, rel=1e-12)
    # the draft adds its layer's share: 3 drafts of one of 61 layers
    plain = _step(32.0, dense_bytes=20e9, layer_overhead_s=1e-4, tokens_per_step=4.0)
    assert step == pytest.approx(plain * (1 + 3 / 61), rel=1e-12)


def test_mtp_drafts_emit_the_geometric_chain_of_accepted_tokens():
    """Each of d drafts is accepted with probability a once the ones before it are, and the target
    adds its own token: (1 - a^(d + 1)) / (1 - a).  a = 0.5: 1 + 0.5 = 1.5 tokens with one draft,
    1 + 0.5 + 0.25 + 0.125 = 1.875 with three, 1 with none."""
    got = serving.accepted_tokens(0.5, np.array([0.0, 1.0, 3.0]))
    assert got.tolist() == pytest.approx([1.0, 1.5, 1.875], rel=1e-12)


def test_a_stack_that_picks_its_draft_count_per_batch_runs_the_fastest():
    """a = 0.5, at most 3 drafts.  A step that only reads weights (10 ms whatever the drafts) emits
    the most per second with all three: 1.875 / 10 ms.  A step that computes, 10 ms per verified
    token per request, takes 10 (d + 1) ms: one draft 1.5 / 20 ms = 75 tok/s, two 1.75 / 30 ms =
    58.3, three 1.875 / 40 ms = 46.9, so one.  A worker with a fixed count runs three either way,
    and a run without MTP none."""
    most, per_batch = np.array([3.0, 3.0, 0.0]), np.array([True, False, True])
    drafts = serving.draft_counts(most, per_batch)
    assert drafts.tolist() == [[1.0, 3.0, 0.0], [2.0, 3.0, 0.0], [3.0, 3.0, 0.0]]
    accepted = serving.accepted_tokens(0.5, drafts)
    for step_at, picked in ((lambda d: 0.01 + 0.0 * d, 3.0), (lambda d: 0.01 * (1.0 + d), 1.0)):
        step, emitted = serving.fastest_draft(step_at(drafts), accepted)
        assert step.tolist() == pytest.approx([step_at(picked), step_at(3.0), step_at(0.0)], rel=1e-12)
        assert emitted.tolist() == pytest.approx([serving.accepted_tokens(0.5, picked), 1.875, 1.0], rel=1e-12)
    # no worker chooses: one candidate, its own count
    assert serving.draft_counts(most, False).tolist() == [[3.0, 3.0, 0.0]]
    # brute force: on steps a + b (d + 1), the pick emits at least as much per second as every count
    rng = np.random.default_rng(7)
    a, b, alpha = rng.uniform(0.001, 0.05, 200), rng.uniform(0.0, 0.02, 200), rng.uniform(0.05, 0.95, 200)
    drafts = serving.draft_counts(np.full(200, 3.0), True)
    step, emitted = serving.fastest_draft(a + b * (drafts + 1.0), serving.accepted_tokens(alpha, drafts))
    best = np.max([serving.accepted_tokens(alpha, d) / (a + b * (d + 1.0)) for d in (1.0, 2.0, 3.0)], axis=0)
    assert emitted / step == pytest.approx(best, rel=1e-12)


def test_p50_ttft_is_todays_ttft_where_the_new_terms_are_off():
    """The §8 hand-worked cell (DeepSeek V3 FP8 on 8 B200, L 8,000, N 16; tests/model/test_prefill.py)
    through model.serving with EP, DP attention and MTP off equals the kernel's step and TTFT."""
    cfg = model.load_config([
        "workload.mix.cache_read=0.4", "workload.mix.cache_write=0.2", "workload.mix.input=0.1",
        "workload.mix.output=0.3", "workload.osl=2000",
        "workload.kv_tier=device", "hardware.b200.min_systems=8", "hardware.b200.max_systems=8",
        "hardware.b200.prefill_efficiency=0.5", "hardware.b200.prefill_overhead_s=0.1",
        "hardware.b200.bandwidth_efficiency=0.5", "hardware.b200.layer_overhead_s=1e-4",
        "hardware.b200.peak_dense_tflops=4500", "select.models=[deepseek_v3]", "select.hardware=[b200]"])
    ds = model.evaluate(cfg, {"hardware.b200.compute_efficiency": 1.0}, **at(8000, 16)).squeeze()
    step = _step(16.0, dense_bytes=(37 - 653.9 * SHARE) * 1e9, routed_bytes=653.9e9,
                 kv_bytes_request=8000 * 70272.0, layer_overhead_s=1e-4, flops_per_token=2 * 37e9)
    assert step == pytest.approx(float(ds.step_time), rel=1e-12)
    busy = float(ds.prefill_time) - 0.1
    _, ttft, inter, queue = serving.aggregated(16.0, float(ds.osl), lambda n: (step, 1.0), busy, 0.1)
    assert ttft == pytest.approx(float(ds.ttft), rel=1e-12)
    assert inter == pytest.approx(float(ds.interactivity), rel=1e-12)
    assert float(serving.ttft_percentile(ttft, queue, 0.5)) == ttft


@pytest.fixture(scope="module")
def runs():
    c = configurations.serving_catalog(OmegaConf.to_container(load_config(config_name="calibrate"), resolve=True))
    table = configurations.load_configurations(str(ROOT / "model/data/inferencex/inferencex-dsr1.csv"))
    return table, configurations.configuration_inputs(table, c, 0.9)


def test_percentiles_are_ordered_on_every_run(runs):
    table, x = runs
    rng = np.random.default_rng(7)
    for _ in range(5):
        params = {k: rng.uniform(lo if lo > 0 else hi / 100, hi, len(table))
                  for k, (lo, hi) in configurations.CONFIG_BOUNDS.items()}
        pred = configurations.predict_configurations(x, params)
        assert np.isfinite(pred["ttft_p50"]).all() and (pred["ttft_p50"] > 0).all()
        assert (pred["ttft_p99"] >= pred["ttft_p90"]).all() and (pred["ttft_p90"] >= pred["ttft_p50"]).all()
        assert np.array_equal(pred["ttft_p50"], pred["ttft"])
        assert (pred["tpot_p99"] >= pred["tpot_p90"]).all() and (pred["tpot_p90"] >= pred["tpot_p50"]).all()
        assert np.allclose(pred["tpot_p50"], 1 / pred["interactivity"], rtol=1e-12)


def test_disaggregated_closed_loop_holds_the_users(runs):
    """The solved decode batch keeps N users in the loop: X (TTFT + decode time) = N."""
    table, x = runs
    params = {k: np.full(len(table), v) for k, v in configurations.CONFIG_START.items()}
    pred = configurations.predict_configurations(x, params)
    rps = pred["output_tput_per_gpu_all"] * x.total_gpus / x.output_tokens
    dis = ~x.aggregated
    # interactivity = accepted / step, so decode time is O / interactivity (plus the KV move)
    kv = x.kv_bytes_input / (x.decode_gpus * x.scaleout_bytes_s)
    users = rps * (pred["ttft"] + x.output_tokens / pred["interactivity"] + kv)
    assert users[dis] == pytest.approx(x.users[dis], rel=1e-6)


def test_kv_capacity_by_hand():
    """A B200 (180 GB) of an 8-GPU worker holding 84 GB of weights with a 4 GB reserve has 92 GB
    for KV: 184 requests of 0.5 GB under TP (MLA's latent KV whole on every GPU), 8 x 184 = 1,472
    under DP attention over the 8 GPUs; none where the weights alone overflow."""
    cap = serving.kv_capacity(180e9, 4e9, 84e9, 0.5e9, 8.0, np.array([False, True]))
    assert cap.tolist() == [184.0, 1472.0]
    assert float(serving.kv_capacity(180e9, 4e9, 178e9, 0.5e9, 8.0, False)) == 0.0


def test_users_beyond_the_kv_capacity_wait_for_a_place():
    """300 users on a worker that holds 184: the 184 run as 184 users would (step 20 ms, 1,000
    output tokens, 10 ms prefill busy: T = 20 + 1.84 = 21.84 s, X = 184 / 21.84 = 8.4249 req/s) and
    the other 116 wait 116 / X = 13.7687 s more for their first token."""
    def step_of(n):
        return 0.02 + 0.0 * n, 1.0

    capped = serving.aggregated(300.0, 1000.0, step_of, 0.01, 0.05, capacity=184.0)
    free = serving.aggregated(184.0, 1000.0, step_of, 0.01, 0.05)
    assert float(capped[0]) == pytest.approx(184 / 21.84, rel=1e-12)
    assert float(capped[1] - free[1]) == pytest.approx(116 * 21.84 / 184, rel=1e-12)
    assert round(float(capped[1] - free[1]), 4) == 13.7687
    assert float(capped[2]) == float(free[2])
    # a decode pool holds at most its capacity per worker; the loop still holds every user
    rate, ttft, inter, queue, batch = serving.disaggregated(
        np.array([1000.0]), 1000.0, step_of, 0.01, 0.05, 2.0, 2.0, 0.0, capacity=184.0)
    assert float(batch[0]) == pytest.approx(184.0)
    assert float(rate[0] * (ttft[0] + 1000 * 0.02)) == pytest.approx(1000.0, rel=1e-9)


def test_dp_attention_prefill_runs_a_requests_attention_on_its_own_rank():
    """DeepSeek-R1's attention, A = 2 x 128 x (192 + 128) x 61 = 4,997,120 FLOPs per token pair:
    an 8,000-token prompt's attention is A L^2 / 2 = 1.599078e14 FLOPs (1.5990784e14), 0.355351 s on one GPU at
    4.5 PFLOP/s x 0.1.  Under DP attention over 8 GPUs its own prefill takes 7/8 of that
    (0.310932 s) longer than the worker's busy time; under TP not at all."""
    busy = np.array([0.2, 0.2])
    own = serving.prefill_own(busy, 8000.0, gpus=8.0, dp_attention=np.array([False, True]),
                              attention_flops=4_997_120.0, peak_flops=4.5e15, prefill_efficiency=0.1)
    assert own[0] == 0.2
    assert round(float(own[1] - 0.2), 6) == 0.310932


def test_each_prefill_forward_streams_the_weights_once():
    """Weights read in 10 ms per forward of at most 8,192 tokens: a 1,024-token prompt alone
    takes one pass (10 ms), and a loaded worker packing 8 such prompts per forward spends
    1,024 / 8,192 x 10 = 1.25 ms of busy time on each; a 20,000-token prompt takes 3 passes alone
    (30 ms) and a whole pass of busy time per request."""
    busy, alone = serving.prefill_weight_passes(np.array([1024.0, 20000.0]), 0.01, 8192.0)
    assert busy.tolist() == pytest.approx([0.00125, 0.01], rel=1e-12)
    assert alone.tolist() == pytest.approx([0.01, 0.03], rel=1e-12)


def test_attention_dp_worker_waits_for_a_request_on_every_rank():
    """64 users on an aggregated worker (step 20 ms, 1,000 output tokens, 10 ms prefill busy):
    T = 20 + 0.64 = 20.64 s, X = 64 / 20.64 = 3.10078 req/s.  With 8 attention-DP ranks prefilling
    together an arrival waits for the 7 others, 7 / (2 X) = 7 x 20.64 / 128 = 1.12875 s more TTFT;
    the rate and the interactivity do not change."""
    def step_of(n):
        return 0.02 + 0.0 * n, 1.0

    assert float(serving.rank_balance_wait(8.0, 64 / 20.64)) == pytest.approx(1.12875, rel=1e-12)
    assert float(serving.rank_balance_wait(8.0, 64 / 20.64, 64.0)) == pytest.approx(1.12875, rel=1e-12)
    dp = serving.aggregated(64.0, 1000.0, step_of, 0.01, 0.05, ranks=8.0)
    tp = serving.aggregated(64.0, 1000.0, step_of, 0.01, 0.05)
    assert float(dp[1] - tp[1]) == pytest.approx(1.12875, rel=1e-12)
    assert float(dp[3] - tp[3]) == pytest.approx(1.12875, rel=1e-12)
    assert (float(dp[0]), float(dp[2])) == (float(tp[0]), float(tp[2]))


def test_recipe_batch_is_the_largest_named_batch_at_or_below_the_users_per_rank():
    """Powers of two and one and a half times them, whole batches only (1, 2, 3, 4, 6, 8, 12, ...):
    75.9 users a rank -> 64 (``dep8_batch64`` at 1,214 users on two 8-rank workers), 543 -> 512
    (``dep4_batch512``, 10,860 on five 4-rank workers), 200 -> 192 (``dep8_batch192``), 100 -> 96,
    1.9 -> 1 (1.5 is no batch), fewer than one user -> 1."""
    got = serving.recipe_batch(np.array([1214 / 16, 10860 / 20, 200.0, 100.0, 1.9, 0.4, 3.0, 5.9, 6.0, 768.0]))
    assert got.tolist() == [64.0, 512.0, 192.0, 96.0, 1.0, 1.0, 3.0, 4.0, 6.0, 768.0]


def test_tensorrt_llm_attention_dp_decode_workers_run_their_recipe_batch(runs):
    """Run 343 (B200 TensorRT-LLM FP4 MTP, 1k/1k, 1,214 users on two attention-DP decode workers of 8
    ranks): 64 a rank, 512 a worker, so 1,214 - 1,024 = 190 users wait for a place before their
    first token.  Measured by Little's law it holds 508.1 per worker (0.8% under 512).  Run 344
    (10,860 users, five 4-rank workers: 543 a rank) runs 2,048 a worker (measured 1,988).  No cap on
    SGLang's workers (run 319), a tensor-parallel TensorRT-LLM decode worker (run 350) or an
    aggregated run; the cap reaches the solved decode batch (all its users fit the KV)."""
    table, x = runs
    at = {i: int(np.flatnonzero((table.id == i).to_numpy())[0]) for i in (343, 344, 319, 350, 1)}
    assert x.decode_batch_cap[at[343]] == 512.0 and x.decode_batch_cap[at[344]] == 2048.0
    assert np.isinf(x.decode_batch_cap[[at[319], at[350], at[1]]]).all()
    running = configurations.measured_running(x, table)
    assert round(float(running[at[343]]), 1) == 508.1 and round(float(running[at[344]])) == 1988
    # the starts, with a prefill pool fast enough that the decode side limits (efficiency 0.5, speed 3)
    params = {k: np.full(len(table), v) for k, v in configurations.CONFIG_START.items()}
    params["prefill_efficiency"][:], params["prefill_stack_speed"][:] = 0.5, 3.0
    assert configurations.decode_capacity(x, params)[at[343]] == 512.0  # the KV holds more
    pred = configurations.predict_configurations(x, params)
    assert pred["decode_batch"][at[343]] == pytest.approx(512.0, rel=1e-9)
    assert (pred["decode_batch"] <= x.decode_batch_cap * (1 + 1e-9)).all()
    # the 190 users the two workers do not hold wait before their first token (Little: X TTFT >= 190)
    assert 190 <= float(pred["requests_per_second"][at[343]] * pred["ttft"][at[343]]) < 200
    # without the recipe's cap the batch grows past 512 (to 534: the pool limits) and the TTFT falls 0.73 s
    free = dataclasses.replace(x, decode_batch_cap=np.full(len(table), np.inf))
    loose = configurations.predict_configurations(free, params)
    assert loose["decode_batch"][at[343]] > 512.0 and loose["ttft"][at[343]] < pred["ttft"][at[343]] - 0.5


RECIPES = ROOT / "model/data/inferencex/inferencex-dsr1-recipes.csv"


def test_every_recipe_row_agrees_with_its_recipe_name():
    """The recipes' table (``inferencex-dsr1-recipes.csv``, from the benchmark's config file) names
    each recipe ``ctx<prefill workers>_gen<decode workers>_<tep|dep|tp><GPUs per decode worker>_batch<B>``:
    every row's columns say the same as its name."""
    import re

    import pandas as pd

    recipes = pd.read_csv(RECIPES)
    assert len(recipes) == 382 and set(recipes.framework) == {"dynamo-trt"}
    for row in recipes.itertuples():
        ctx, gen, gpus, batch = map(int, re.search(r"ctx(\d+)_gen(\d+)_(?:tep|dep|tp|dp)(\d+)_batch(\d+)_",
                                                  row.recipe).groups())
        assert (ctx, gen, gpus, batch) == (row.prefill_num_workers, row.decode_num_workers,
                                           row.decode_gpus_per_worker, row.decode_max_batch), row.recipe


def test_a_decode_worker_runs_at_most_its_recipes_max_batch():
    """The runs' recipes cap their decode workers (docs/accuracy.md, tenth round):
    - run 641 (GB200 TensorRT-LLM FP8, 8k/1k, one TP8 prefill worker, three tensor-parallel decode
      workers of 8 GPUs, ``ctx1_gen3_tep8_batch1``, 6 users): 1 request a worker, so 3 of the 6
      users wait for a place before their first token; Little's law on the run gives 0.96 in
      decode a worker (its TTFT is 7.1 s);
    - run 454 (B300 FP8, 1k/1k, 16,384 users on one attention-DP worker of 8 ranks,
      ``ctx1_gen1_dep8_batch1024``): 8 x 1,024 = 8,192, below the rule's 8 x 2,048 (the largest
      named batch under 2,048 users a rank); measured 8,403;
    - run 343 (``dep8_batch64`` at 1,214 users on two 8-rank workers): 8 x 64 = 512, the rule's too;
    - run 350 (B200 FP8 1k/1k, ``ctx1_gen3_tep8_batch1024``, 4 users): no cap below its users;
    - SGLang's runs (319) and aggregated runs (1) have no recipe in the table: no cap.
    Without the table (``recipes=None``) only the rule caps (run 641 free, run 454 at 16,384)."""
    c = configurations.serving_catalog(OmegaConf.to_container(load_config(config_name="calibrate"), resolve=True))
    path = str(ROOT / "model/data/inferencex/inferencex-dsr1.csv")
    table = configurations.load_configurations(path, str(RECIPES))
    x = configurations.configuration_inputs(table, c, 0.9)
    at = {i: int(np.flatnonzero((table.id == i).to_numpy())[0]) for i in (641, 454, 343, 350, 319, 1)}
    assert table.decode_max_batch.iloc[[at[641], at[454], at[343], at[350]]].tolist() == [1, 1024, 64, 1024]
    assert table.decode_max_batch.iloc[[at[319], at[1]]].isna().all()
    assert x.decode_batch_cap[[at[641], at[454], at[343], at[350]]].tolist() == [1.0, 8192.0, 512.0, 1024.0]
    assert np.isinf(x.decode_batch_cap[[at[319], at[1]]]).all()
    running = configurations.measured_running(x, table)
    assert round(float(running[at[641]]), 2) == 0.96 and round(float(running[at[454]])) == 8403
    assert int(np.isfinite(table.decode_max_batch).sum()) == 140  # of the 208 TensorRT-LLM disaggregated runs
    plain = configurations.load_configurations(path)
    rule = configurations.configuration_inputs(plain, c, 0.9).decode_batch_cap
    assert np.isinf(rule[at[641]]) and rule[at[454]] == 16384.0 and plain.decode_max_batch.isna().all()
    # the starts: run 641's workers hold one request each, the other three users wait for a place
    params = {k: np.full(len(table), v) for k, v in configurations.CONFIG_START.items()}
    pred = configurations.predict_configurations(x, params)
    assert pred["decode_batch"][at[641]] == pytest.approx(1.0, rel=1e-9)
    assert 3 <= float(pred["requests_per_second"][at[641]] * pred["ttft"][at[641]]) < 3.1


def test_requests_in_decode_by_littles_law():
    """Id 319 (B200 SGLang, 1 prefill TP8 + 5 dp-attention decode workers of 8, 1k/1k at 0.9 x
    1,024 = 921.6 output tokens, 4,096 users): 678.231902 output tok/s per decode GPU x 40 GPUs
    / 921.6 = 29.43715 req/s, each decoding 920.6 tokens at a median TPOT of 18.458 ms:
    29.43715 x 920.6 x 0.018458 = 500.209 requests in decode, 100.04 per worker.  That rate is over
    the whole run, whose last requests trail (4,096 clients of 10 requests:
    serving.benchmark_duration_excess 5.998%); the steady state is 31.20286 req/s, 530.212 in decode,
    106.04 per worker: the other 3,566 users wait for a first token (TTFT 122 s)."""
    rate = 678.231902 * 40 / 921.6
    assert round(rate, 5) == 29.43715
    assert round(float(serving.requests_in_decode(rate, 921.6, 0.018458)), 3) == 500.209
    steady = rate * (1 + float(serving.benchmark_duration_excess(4096.0, 10.0, 0.8)))
    assert round(steady, 5) == 31.20286
    assert round(float(serving.requests_in_decode(steady, 921.6, 0.018458)), 3) == 530.212


def test_the_run_table_carries_measured_and_predicted_requests_in_decode(runs):
    """``configurations.csv``'s ``running_per_worker`` is the Little's-law count per decode worker
    (:func:`model.configurations.measured_running`; id 319: 106.04, the test above) and
    ``running_per_worker_pred`` the model's decode batch: at most the users per worker, and in a
    disaggregated run the batch the loop solves for, X D per worker (D the decode time with the
    KV move)."""
    table, x = runs
    params = {k: np.full(len(table), v) for k, v in configurations.CONFIG_START.items()}
    pred = configurations.predict_configurations(x, params)
    assert (pred["decode_batch"] <= x.users / x.decode_workers * (1 + 1e-9)).all()
    assert (pred["decode_batch"] > 0).all()
    rate = pred["requests_per_second"]
    dis = ~x.aggregated
    decode = x.output_tokens / pred["interactivity"] + x.kv_bytes_input / (x.decode_gpus * x.scaleout_bytes_s)
    assert (rate * decode / x.decode_workers)[dis] == pytest.approx(pred["decode_batch"][dis], rel=1e-6)
    running = configurations.measured_running(x, table)
    assert round(float(running[(table.id == 319).to_numpy()][0]), 2) == 106.04


def test_prefill_pool_latency_and_speed_by_hand():
    """A pool on a GPU type whose aggregated prefill latency is 0.1 s, pools' share 2.4, the GPU
    type's factor 0.5: a request waits 0.1 x 2.4 x 0.5 = 0.12 s there, and 0.12 x 1.8 = 0.216 s where
    the pool's workers run dp-attention at a dp latency factor 1.8.  A stack speed 0.72 with
    dp-attention speed 1.19: 0.72 on a tensor-parallel prefill worker, 0.72 x 1.19 = 0.8568 on a
    dp-attention one."""
    assert float(serving.pool_latency(0.1, 2.4, 0.5)) == pytest.approx(0.12, rel=1e-12)
    dp = serving.pool_latency(0.1, 2.4, 0.5, np.array([False, True]), 1.8)
    assert dp.tolist() == pytest.approx([0.12, 0.216], rel=1e-12)
    speed = serving.pool_prefill_speed(0.72, np.array([False, True]), 1.19)
    assert speed.tolist() == pytest.approx([0.72, 0.8568], rel=1e-12)


def test_the_pool_terms_reach_the_disaggregated_prediction(runs):
    """Through model.configurations: halving a GPU type's pool latency factor takes
    0.09 x 2 x 0.5 = 0.09 s off the plan's prefill TTFT of its runs (latency 0.09 s, share 2); a
    dp-attention latency factor of 2 adds 0.09 x 2 x (2 - 1) = 0.18 s to the runs whose prefill
    workers run dp-attention and nothing to the others;
    doubling the dp-attention prefill speed shortens the busy time of the runs whose prefill
    workers run dp-attention only; the stack's speed likewise shortens its pools' busy time.  Both
    are the pool's throughput: a request's own prefill (the prefill TTFT without its M/D/1 wait,
    0.5 / (2 x 0.5) = 0.5 services at utilization 0.5) does not move."""
    table, x = runs
    base = {k: np.full(len(table), v) for k, v in configurations.CONFIG_START.items()}
    base.update(prefill_latency_s=np.full(len(table), 0.09), pool_latency_share=np.full(len(table), 2.0))
    half = dict(base, pool_latency_factor=np.full(len(table), 0.5))
    a, b = configurations.plan_columns(x, base, 0.5), configurations.plan_columns(x, half, 0.5)
    assert (a["prefill_ttft"] - b["prefill_ttft"]) == pytest.approx(np.full(len(table), 0.09), rel=1e-9)
    slow = configurations.plan_columns(x, dict(base, dp_pool_latency=np.full(len(table), 2.0)), 0.5)
    assert (slow["prefill_ttft"] - a["prefill_ttft"]) == pytest.approx(np.where(x.prefill_dp_attention, 0.18, 0.0),
                                                                        abs=1e-12)
    fast = dict(base, dp_prefill_speed=np.full(len(table), 2.0))
    c = configurations.plan_columns(x, fast, 0.5)
    dp_pool = x.prefill_dp_attention & ~x.aggregated
    assert (c["prefill_rate"][dp_pool] > a["prefill_rate"][dp_pool]).all()
    assert np.array_equal(c["prefill_rate"][~dp_pool], a["prefill_rate"][~dp_pool])
    stack = dict(base, prefill_stack_speed=np.full(len(table), 2.0))
    d = configurations.plan_columns(x, stack, 0.5)
    pools = ~x.aggregated
    assert (d["prefill_rate"][pools] > a["prefill_rate"][pools]).all()

    def own_prefill(columns):
        return columns["prefill_ttft"] - 0.5 / columns["prefill_rate"]

    for faster in (c, d):
        assert own_prefill(faster) == pytest.approx(own_prefill(a), rel=1e-12)


def test_benchmark_duration_excess_by_hand():
    """Lengths all equal (``length_low`` 1): residuals are uniform on [0, 1], ``E[R] = 1/2`` and the
    longest of N is ``N / (N + 1)``, so with 10 requests per client the run is 0 longer for one
    client, (3/4 - 1/2) / 10 = 2.5% for three, (0.99 - 0.5) / 10 = 4.9% for 99."""
    excess = serving.benchmark_duration_excess(np.array([1.0, 3.0, 99.0]), 10.0, 1.0)
    assert excess.tolist() == pytest.approx([0.0, 0.025, 0.049], abs=1e-12)


def test_benchmark_duration_excess_matches_a_monte_carlo_of_the_residuals():
    """InferenceX's lengths (uniform on [0.8, 1] x nominal): the equilibrium residual of a cycle is
    ``U x L*``, ``L*`` the length-biased length (density ∝ l) and ``U`` uniform; the excess is
    ``(E[max of N residuals] - E[R]) / 10``.  Seeded draws (1,000,000 of 4 clients, 100,000 of 64)
    agree with the quadrature to 6e-5, about twice the draws' standard error (3e-5 and 1e-5); taking
    ``E[R]`` as 1/2 (lengths ignored) would be 2e-4 off, the ``lo^(N+1)`` term dropped 1e-2 at 4 clients."""
    rng = np.random.default_rng(29)
    lo, hi = 0.8 / 0.9, 1.0 / 0.9
    for n, draws in ((4, 1_000_000), (64, 100_000)):
        lengths = np.sqrt(lo ** 2 + rng.uniform(size=(draws, n)) * (hi ** 2 - lo ** 2))
        residuals = rng.uniform(size=lengths.shape) * lengths
        monte_carlo = (residuals.max(axis=1).mean() - residuals.mean()) / 10.0
        assert float(serving.benchmark_duration_excess(n, 10.0, 0.8)) == pytest.approx(monte_carlo, abs=6e-5)


def test_benchmark_duration_excess_explains_the_disaggregated_runs_shortfall(runs):
    """A closed-loop run holds N users: N = X (mean end-to-end latency) in its steady state, X its
    request rate.  The disaggregated runs' reported output tok/s per GPU (X from it x decode GPUs /
    0.9 osl) fall short of that by a median 3.0% at 4 users, where 10 requests per client give
    3.06% (checked to 0.3 points), and 4.6% from 16 to 2,048 users, where they give 5.6%: there the
    form overstates the shortfall by about a point (checked: 0 to 1.5 points), as clients that
    started together have not fully drifted apart after 10 requests and the emptying batch decodes
    its last requests faster (docs/accuracy.md)."""
    table, x = runs
    dis = ~x.aggregated & table.mean_e2el.notna().to_numpy()
    rate = table.output_tput_per_gpu * x.measured_gpus / x.output_tokens
    shortfall = (table.concurrency / (rate * table.mean_e2el) - 1)[dis]
    users = table.concurrency[dis]
    predicted = serving.benchmark_duration_excess(users.to_numpy(float), 10.0, 0.8)
    four, many = (users == 4).to_numpy(), ((users >= 16) & (users <= 2048)).to_numpy()
    assert float(shortfall[four].median()) == pytest.approx(float(np.median(predicted[four])), abs=0.003)
    assert 0.0 <= float(np.median(predicted[many]) - shortfall[many].median()) <= 0.015


def test_rank_wait_waits_for_no_more_users_than_there_are():
    """A round of 4 attention-DP ranks holds at most the worker's users: one user (rate 1 / 5.3 s)
    waits for nobody, 0 s (the uncapped form gave 3 x 5.3 / 2 = 7.95 s); two users at 2 / 5.3 req/s
    wait for the other, 1 x 5.3 / 4 = 1.325 s; 8 users fill the round, 3 / (2 x 8 / 5.3) = 0.99375 s."""
    rates = np.array([1.0, 2.0, 8.0]) / 5.3
    waits = serving.rank_balance_wait(4.0, rates, np.array([1.0, 2.0, 8.0]))
    assert waits.tolist() == pytest.approx([0.0, 1.325, 0.99375], rel=1e-12)
    assert float(serving.rank_balance_wait(4.0, 1 / 5.3)) == pytest.approx(7.95, rel=1e-12)


def test_the_configuration_fit_counts_its_predictions_and_is_the_same_without(runs):
    """The configuration fit reports its predictions to ``progress`` (the Jacobian's included, total
    unknown: 0) for serving-calibrate's stage, which was silent for its 46 s (2026-12-07).  The
    count only watches: the fitted values are the same with and without it.  One GPU type's
    parameters refitted on its own runs (as a leave-one-out fold does) keep the test to seconds."""
    table, x = runs
    names = configurations.parameter_names(x)
    start = np.array([configurations.CONFIG_START[k] for k, _ in names])
    keep = (table.gpu == "h100_sxm").to_numpy()
    free = np.array([g == "h100_sxm" for _, g in names])
    seen = []
    _, counted, info = configurations.fit_configurations(
        configurations.subset(x, keep), table[keep], start=start, free=free, names=names,
        progress=lambda done, total: seen.append((done, total)))
    _, plain, _ = configurations.fit_configurations(configurations.subset(x, keep), table[keep], start=start,
                                                    free=free, names=names)
    np.testing.assert_array_equal(counted, plain)
    assert not np.array_equal(counted, start)  # the fit moved
    assert seen == [(done, 0) for done in range(1, len(seen) + 1)]
    assert len(seen) > info["evaluations"]  # least_squares' count leaves out the Jacobian's predictions


def test_an_fp4_run_prefills_at_its_stacks_fp4_speed(runs):
    """``fp4_prefill_speed`` multiplies the prefill efficiency of the FP4 runs (at the FP4 peak)
    and of no other.  Run 1 (DeepSeek-R1 FP4 on 8 B200 under SGLang, 1,024-token prompts at the
    length factor 0.9: L = 921.6) prefills F = L (2 x 37e9 + 4,997,120 L / 2) = 7.0321e13 FLOPs,
    3.2556 ms at 8 x 9 PFLOP/s x 0.3; at a speed of 2 its own prefill is 1.6278 ms shorter, and
    the pool's rate higher.  An FP8 run's prefill does not move.  The fit gives each stack with
    FP4 runs its own factor."""
    table, x = runs
    base = {k: np.full(len(table), v) for k, v in configurations.CONFIG_START.items()}
    fast = dict(base, fp4_prefill_speed=np.full(len(table), 2.0))
    a, b = configurations.plan_columns(x, base, 0.5), configurations.plan_columns(x, fast, 0.5)

    def own_prefill(columns):
        return columns["prefill_ttft"] - 0.5 / columns["prefill_rate"]

    first = int(np.flatnonzero(table.id.to_numpy() == 1)[0])
    assert table.precision.iloc[first] == "fp4" and x.fp4[first] and not x.prefill_dp_attention[first]
    assert round(float(own_prefill(a)[first] - own_prefill(b)[first]) * 1e3, 4) == 1.6278
    assert (b["prefill_rate"][x.fp4] > a["prefill_rate"][x.fp4]).all()
    assert x.fp4.sum() == (table.precision == "fp4").sum() == 495
    assert np.array_equal(own_prefill(a)[~x.fp4], own_prefill(b)[~x.fp4])
    assert np.array_equal(a["prefill_rate"][~x.fp4], b["prefill_rate"][~x.fp4])
    names = configurations.parameter_names(x)
    assert [s for k, s in names if k == "fp4_prefill_speed"] == ["atom", "sglang", "trt"]
