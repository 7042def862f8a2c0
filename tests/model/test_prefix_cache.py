"""docs/model.md §12: h(C) by LRU stack distances equals a plain LRU replay, and has the shape it must have."""
from collections import OrderedDict

import numpy as np
import pytest

from model.prefix_cache import (
    BlockTrace,
    assign_replicas,
    cached_tokens,
    hit_rate_at,
    hit_rate_curve,
    reuse_share,
    sessions,
)
from tests.helpers import ROOT

MOONCAKE = ROOT.parent / "shared" / "reference" / "traces" / "mooncake-conversation.jsonl"


def lru_replay(blocks: BlockTrace, capacity_tokens: float, replica=None) -> int:
    """Cached tokens by a plain LRU per replica: look the prefix up, then write the request's blocks,
    last to first, so its first block is the most recent; evict from the least recent."""
    replica = np.zeros(blocks.requests, dtype=int) if replica is None else replica
    capacity = int(capacity_tokens // blocks.block_tokens)
    caches: dict[int, OrderedDict] = {}
    tokens = blocks.block_token_counts()
    total = 0
    for i in range(blocks.requests):
        cache = caches.setdefault(int(replica[i]), OrderedDict())
        lo, hi = blocks.block_offsets[i], blocks.block_offsets[i + 1]
        ids, counts = blocks.block_ids[lo:hi].tolist(), tokens[lo:hi].tolist()
        seen = set()
        for block, count in zip(ids, counts):
            if block in seen or block in cache:
                total += count
                seen.add(block)
            else:
                break
        for block in reversed(list(dict.fromkeys(ids))):
            cache[block] = True
            cache.move_to_end(block)
        while len(cache) > capacity:
            cache.popitem(last=False)
    return total


def synthetic(rng: np.random.Generator, requests: int, ids: int, block_tokens: int) -> BlockTrace:
    counts = rng.integers(0, 6, requests)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    block_ids = rng.integers(0, ids, offsets[-1])
    partial = rng.integers(0, block_tokens, requests)
    inputs = np.maximum(counts * block_tokens - partial, 0)
    return BlockTrace(block_ids, offsets, inputs, block_tokens)


def conversations(rng: np.random.Generator, sessions_: int, turns: int, block_tokens: int = 4) -> BlockTrace:
    """A shared system prompt (block 0), then sessions whose every turn extends the previous one."""
    chains, order = [], []
    next_id = 1
    for s in range(sessions_):
        chains.append([0])
        order += [s] * int(rng.integers(1, turns + 1))
    rng.shuffle(order)
    rows = []
    for s in order:
        grow = int(rng.integers(1, 4))
        chains[s] = chains[s] + list(range(next_id, next_id + grow))
        next_id += grow
        rows.append(list(chains[s]))
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in rows])])
    inputs = np.array([len(r) * block_tokens - 1 for r in rows])
    return BlockTrace(np.concatenate(rows), offsets, inputs, block_tokens)


def test_the_hand_worked_example():
    """The module docstring's example: blocks of 2 tokens, requests [a b] (4 tokens), [a c] (3),
    [a b] (4), 11 input tokens. One block (2 tokens) holds a: requests 2 and 3 find a, 4 tokens.
    Two blocks: after request 2 the stack is a, c, b, so b is gone and request 3 finds a: 4 tokens.
    Three blocks: request 3 finds a and b, 2 + 4 = 6 tokens. Unlimited: the same 6/11."""
    a, b, c = 7, 8, 9
    blocks = BlockTrace(np.array([a, b, a, c, a, b]), np.array([0, 2, 4, 6]), np.array([4, 3, 4]), 2)
    assert cached_tokens(blocks, np.array([0, 1, 2, 3, 4, 5, 6, 100])).tolist() == [0, 0, 4, 4, 4, 4, 6, 6]
    assert reuse_share(blocks) == pytest.approx(6 / 11)
    curve = hit_rate_curve(blocks, np.array([2.0, 4.0, 6.0]), replicas=[1])
    assert curve["hit_rate"].sel(routing="prefix_aware", replicas=1).values.tolist() == pytest.approx(
        [4 / 11, 4 / 11, 6 / 11])


def test_stack_distances_equal_a_plain_lru_replay_on_random_traces():
    rng = np.random.default_rng(22)
    for _ in range(150):
        blocks = synthetic(rng, int(rng.integers(1, 25)), int(rng.integers(1, 10)), int(rng.integers(1, 4)))
        replica = rng.integers(0, 3, blocks.requests)
        capacities = np.arange(0, 15) * blocks.block_tokens + rng.integers(0, blocks.block_tokens)
        got = cached_tokens(blocks, capacities, replica)
        assert got.tolist() == [lru_replay(blocks, c, replica) for c in capacities]


def test_every_routing_equals_a_replay_of_its_assignment():
    blocks = conversations(np.random.default_rng(3), sessions_=12, turns=6)
    capacities = np.array([0, 4, 12, 40, 100, 400], dtype=float)
    curve = hit_rate_curve(blocks, capacities, replicas=[1, 3], seed=5)
    total = blocks.input_tokens.sum()
    for routing in ("prefix_aware", "random"):
        replica = assign_replicas(blocks, 3, routing, seed=5)
        want = [lru_replay(blocks, c, replica) / total for c in capacities]
        assert curve["hit_rate"].sel(routing=routing, replicas=3).values == pytest.approx(want)


def test_sessions_follow_the_prefix_chains():
    """Block 0 is in every request (a shared prompt); the session is the first block after it."""
    rows = [[0, 1, 2], [0, 5], [0, 1, 2, 3], [0], [0, 5, 6], [0, 1, 2, 3, 4], [0]]
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in rows])])
    blocks = BlockTrace(np.concatenate(rows), offsets, np.array([len(r) * 4 for r in rows]), 4)
    assert sessions(blocks, shared_share=0.5).tolist() == [0, 1, 0, 2, 1, 0, 3]
    replica = assign_replicas(blocks, 2, "prefix_aware", shared_share=0.5)
    assert replica[0] == replica[2] == replica[5] and replica[1] == replica[4]


def curve_checks(curve):
    h = curve["hit_rate"]
    assert np.all(np.diff(h.values, axis=-1) >= 0), "h must not decrease with capacity"
    assert np.all(h.values <= curve["reuse_share"].item() + 1e-12)
    assert np.all(h.values >= 0)
    # Same capacity per replica and replica count = same total capacity: random never beats prefix-aware.
    assert np.all(h.sel(routing="random").values <= h.sel(routing="prefix_aware").values + 1e-12)


def test_shape_on_synthetic_conversations():
    for seed in range(5):
        blocks = conversations(np.random.default_rng(seed), sessions_=40, turns=8)
        curve = hit_rate_curve(blocks, np.array([0, 4, 8, 16, 32, 64, 128, 256, 1024, 1e6]), replicas=[1, 2, 4, 8],
                               seed=seed)
        assert np.all(curve["hit_rate"].sel(capacity_tokens=0).values == 0)
        curve_checks(curve)


@pytest.mark.skipif(not MOONCAKE.is_file(), reason="shared/reference/traces not beside the repository")
def test_the_mooncake_conversation_trace():
    """The issue's figures: 37% cached with unlimited capacity, about 29% at 10.2 M tokens, 11% at 2.6 M."""
    from model.app.traces import read_trace

    blocks = BlockTrace.of(read_trace(MOONCAKE))
    assert reuse_share(blocks) == pytest.approx(0.3736, abs=5e-4)
    curve = hit_rate_curve(blocks, np.array([0, 2.6e6, 10.2e6, 1e9]), replicas=[1, 2, 8])
    h = curve["hit_rate"].sel(routing="prefix_aware", replicas=1)
    assert h.values.tolist() == pytest.approx([0, 0.1167, 0.2928, 0.3736], abs=5e-4)
    assert h.sel(capacity_tokens=2.6e6).item() == pytest.approx(
        lru_replay(blocks, 2.6e6) / blocks.input_tokens.sum(), abs=1e-12)
    curve_checks(curve)
    assert hit_rate_at(curve, np.array([0.0, 2.6e6]), 1).tolist() == pytest.approx(h.values[:2])


def trace_config(overrides, curve):
    """A config with ``workload.cache=trace`` and ``curve`` as its h(C) (as the apps attach it)."""
    from omegaconf import OmegaConf, open_dict

    import model

    cfg = model.load_config(overrides)
    OmegaConf.set_readonly(cfg, False)
    with open_dict(cfg):
        cfg.workload.cache = "trace"
        cfg.workload.cache_curve = curve
    OmegaConf.set_readonly(cfg, True)
    return model.validate(cfg)


SMALL = ["select.models=[deepseek_v3]", "select.hardware=[b200,cerebras_wse3]", "grid.isl_points=0",
         "grid.isl_extra=[96300]", "grid.concurrency_max=64", "hardware.cerebras_wse3.prefill_mode=physical"]


def test_capacity_per_replica_worked_by_hand():
    """:func:`replica_cache_tokens`'s docstring: DeepSeek V3 on 4 B200 at N = 1 holds 14,308,441 tokens
    (78,022 on the GPUs after weights and the request's KV, copied on all 4; 14,230,419 in host memory)."""
    import model
    from model.parameters import parameters
    from model.prefix_cache import replica_cache_tokens

    p = parameters(model.load_config(SMALL)).sel(hardware="b200", model="deepseek_v3", isl=96300, concurrency=1)
    tokens = replica_cache_tokens(p, p["kv_shards"] * 0 + 4.0).item()
    assert tokens == pytest.approx((720e9 - 671e9 - 4 * 6.7671936e9) / (4 * 70272) + 4 * 250e9 / 70272, rel=1e-12)
    assert tokens == pytest.approx(14_308_441, abs=1)
    # More requests leave less device memory; the host tier stays.
    more = replica_cache_tokens(p.assign(concurrent_requests=p.concurrent_requests * 0 + 3), p["kv_shards"] * 0 + 4.0)
    assert more.item() == pytest.approx(4 * 250e9 / 70272, rel=1e-12)  # 720 - 671 - 4 * 3 * 6.77 < 0: none left


def test_dp_attention_capacity_keeps_the_attention_weights_on_every_gpu():
    """Under attention data parallelism each of the 4 B200s (192 GB here) holds the whole 11.4 GB of
    attention weights and the latent KV splits (one copy): the device keeps 4 x 192 - 671 - 3 x 11.4
    - 6.767 = 56.033 GB, 797,370 tokens at 70,272 bytes (the weights split alone would leave
    90.233 GB), beside the host's 14,230,419."""
    import model
    from model.parameters import parameters
    from model.prefix_cache import replica_cache_tokens

    cfg = model.load_config(SMALL + ["hardware.b200.attention_data_parallel=true", "hardware.b200.memory_gb=192"])
    p = parameters(cfg).sel(hardware="b200", model="deepseek_v3", isl=96300, concurrency=1)
    device = (768e9 - 671e9 - 3 * 11.4e9 - 6.7671936e9) / 70272
    assert round(device) == 797_370
    tokens = replica_cache_tokens(p, p["weight_bytes"] * 0 + 4.0).item()  # kv_shards is inf here
    assert tokens == pytest.approx(device + 4 * 250e9 / 70272, rel=1e-12)


def test_a_trace_that_repeats_the_last_prefix_approaches_the_mix():
    """Every request repeats the previous one's 22 blocks of 512 tokens and adds 496 new tokens: its cached
    share is 11,264 / 11,760 = 0.957823, the mix's 0.953227 / (1 - 0.004817) = 0.957836 within 1.3e-5; over
    2,000 requests (the first finds nothing) h = 0.957344; one block of cache holds the first block only,
    512 / 11,760 of each request. Cost and TTFT then match today's mix closely."""
    import model

    n, shared = 2000, list(range(22))
    rows = [shared + [100 + i] for i in range(n)]
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in rows])])
    blocks = BlockTrace(np.concatenate(rows), offsets, np.full(n, 22 * 512 + 496), 512)
    curve = hit_rate_curve(blocks, np.array([512.0, 22 * 512, 23 * 512, 1e9]), replicas=[1])
    assert curve["hit_rate"].values[0, 0].tolist() == pytest.approx(
        [512 / 11760 * (n - 1) / n] + [11264 / 11760 * (n - 1) / n] * 3, abs=1e-9)  # 1 block: block 0 only
    from model.prefix_cache import curve_for

    mix = model.evaluate(model.load_config(SMALL))
    traced = model.evaluate(trace_config(SMALL, curve_for(curve, 1)))
    mix_share = 0.953227 / (1 - 0.004817)
    assert float(np.nanmax(np.abs(traced.cached_share.values - mix_share))) < 6e-4
    for name in ("ttft", "cost_per_mtok", "prefill_time"):
        both = np.isfinite(mix[name].values)
        assert np.array_equal(both, np.isfinite(traced[name].values))
        assert traced[name].values[both] == pytest.approx(mix[name].values[both], rel=0.02)
    # the mix's cells are all unchanged where the share is the mix's (the systems never depend on it)
    assert np.array_equal(mix.systems.values, traced.systems.values)


def test_trace_mode_moves_the_share_with_capacity_and_routing():
    """h at each cell's capacity: more concurrency leaves less device memory (never more cache); random
    routing over 8 replicas serves less than prefix-aware, so prefill and TTFT grow."""
    import model
    from model.prefix_cache import curve_for

    blocks = conversations(np.random.default_rng(7), sessions_=200, turns=10, block_tokens=512)
    curve = hit_rate_curve(blocks, np.geomspace(512, 1e9, 40), replicas=[1, 8])
    aware = model.evaluate(trace_config(SMALL + ["workload.replicas=8"], curve_for(curve, 8)))
    rand = model.evaluate(trace_config(SMALL + ["workload.replicas=8", "workload.routing=random"],
                                       curve_for(curve, 8)))
    cap = aware.cache_capacity_tokens.sel(hardware="b200", model="deepseek_v3", isl=96300)
    systems = aware.systems.sel(hardware="b200", model="deepseek_v3", isl=96300)
    same = systems.values[1:] == systems.values[:-1]
    assert np.all(np.diff(cap.values)[same] <= 0)
    assert np.all(rand.cached_share.values <= aware.cached_share.values + 1e-12)
    assert float((aware.cached_share - rand.cached_share).max()) > 0.05
    ok = np.isfinite(aware.ttft.values)
    assert np.all(rand.ttft.values[ok] >= aware.ttft.values[ok] * (1 - 1e-12))


def test_a_traced_share_acts_exactly_as_a_mix_with_that_share():
    """At every cell, evaluating with h from the trace equals evaluating with a mix whose cache-read share
    is that h (the rest moved to fresh input): the share enters prefill, TTFT and cost as the mix's does."""
    import xarray as xr

    import model
    from model.prefix_cache import curve_for

    blocks = conversations(np.random.default_rng(11), sessions_=300, turns=12, block_tokens=512)
    curve = hit_rate_curve(blocks, np.geomspace(512, 1e9, 30), replicas=[1, 4])
    traced = model.evaluate(trace_config(SMALL + ["workload.replicas=4"], curve_for(curve, 4)))
    out = 0.004817
    for hardware, n in (("b200", 1), ("b200", 8), ("cerebras_wse3", 16), ("cerebras_wse3", 64)):
        cell = traced.sel(model="deepseek_v3", hardware=hardware, isl=96300, concurrency=n)
        h = float(cell.cached_share)
        assert 0 < h < 1
        read = h * (1 - out)
        mix = [f"workload.mix.cache_read={read!r}", "workload.mix.cache_write=0.0",
               f"workload.mix.input={1 - out - read!r}", f"workload.mix.output={out!r}"]
        one = xr.DataArray([n], dims="concurrency", coords={"concurrency": [n]})
        ref = model.evaluate(model.load_config(SMALL + mix), concurrency=one).sel(
            model="deepseek_v3", hardware=hardware, isl=96300, concurrency=n)
        for name in ("prefill_time", "ttft", "interactivity", "cost_per_mtok", "cached_tokens"):
            assert float(cell[name]) == pytest.approx(float(ref[name]), rel=1e-9), (hardware, n, name)
