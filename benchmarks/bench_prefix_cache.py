"""Benchmark of the prefix-cache hit-rate curve h(C) (docs/model.md §12) on the Mooncake conversation trace.

    python benchmarks/bench_prefix_cache.py [--trace PATH] [--repeats 5]

Reports, for the trace's 12,031 requests (288,500 blocks of 512 tokens):
- the curve the apps write: 50 capacities per replica, replica counts 1, 2, 4, 8, 16, both
  routings (9 replays, each by LRU stack distances: every capacity from one pass);
- one replay (one replica), the unit of that work;
- a plain LRU replay in Python (``OrderedDict``), one pass *per capacity*: the way a cache
  simulator (e.g. libcachesim) answers, timed per capacity and scaled to 50;
- that both agree at 2.6 M and 10.2 M tokens (the issue's reference points: 11% and 29%).
Times are the median of ``--repeats`` runs after one warm-up run.
"""
from __future__ import annotations

import argparse
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
from timing import timed

from model.app.traces import read_trace
from model.prefix_cache import BlockTrace, cached_tokens, default_capacities, hit_rate_curve

TRACE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "traces" / "mooncake-conversation.jsonl"


def plain_lru(blocks: BlockTrace, capacity_tokens: float) -> int:
    """Cached tokens by an OrderedDict LRU (the same semantics as model.prefix_cache)."""
    capacity = int(capacity_tokens // blocks.block_tokens)
    cache: OrderedDict = OrderedDict()
    tokens = blocks.block_token_counts().tolist()
    ids = blocks.block_ids.tolist()
    offsets = blocks.block_offsets.tolist()
    total = 0
    for i in range(blocks.requests):
        lo, hi = offsets[i], offsets[i + 1]
        for j in range(lo, hi):
            if ids[j] in cache:
                total += tokens[j]
            else:
                break
        for j in range(hi - 1, lo - 1, -1):
            cache[ids[j]] = True
            cache.move_to_end(ids[j])
        while len(cache) > capacity:
            cache.popitem(last=False)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trace", default=str(TRACE))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    blocks = BlockTrace.of(read_trace(args.trace))
    caps = default_capacities(blocks, 50)
    total = blocks.input_tokens.sum()
    print(f"{blocks.requests:,} requests, {len(blocks.block_ids):,} blocks, {len(caps)} capacities "
          f"({caps[0]:,} to {caps[-1]:,} tokens per replica)")
    t_curve = timed(lambda: hit_rate_curve(blocks, caps, replicas=(1, 2, 4, 8, 16)), args.repeats)
    print(f"curve, 50 capacities x replicas 1,2,4,8,16 x both routings (9 replays): {t_curve:.2f} s")
    t_one = timed(lambda: cached_tokens(blocks, caps), args.repeats)
    print(f"one replay (one replica, all 50 capacities):                            {t_one:.3f} s")
    ref = np.array([2.6e6, 10.2e6])
    start = time.perf_counter()
    plain = [plain_lru(blocks, c) for c in ref]
    t_plain = (time.perf_counter() - start) / len(ref)
    print(f"plain LRU replay, one capacity: {t_plain:.3f} s; x 50 capacities = {50 * t_plain:.1f} s per replay, "
          f"x 9 replays = {450 * t_plain:.1f} s")
    fast = cached_tokens(blocks, ref)
    for c, a, b in zip(ref, fast, plain):
        print(f"  h({c / 1e6:.1f} M tokens) = {a / total:.4f} (stack distances) vs {b / total:.4f} (plain LRU)")
        assert a == b


if __name__ == "__main__":
    main()
