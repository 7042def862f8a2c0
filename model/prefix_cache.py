"""docs/model.md §12: the share of input tokens an LRU prefix cache of C tokens serves, by exact replay.

Pure: arrays (or a :class:`model.trace.Trace`) in, an ``xarray.Dataset`` out; the app layer
reads the trace and writes ``hit_rate.csv`` and ``hit_rate.png``.

**The cache.** A replica keeps KV in blocks of ``block_tokens`` tokens (512 in the Mooncake
trace, one hash id per block; equal ids are equal prefixes). A block takes ``block_tokens`` of
the capacity whether full or not (paged KV), so a cache of ``C`` tokens holds
``floor(C / block_tokens)`` blocks. Every request looks its blocks up, then writes all of them
(hits are refreshed, misses inserted) as the most recently used, its first block on top: under
pressure a request's tail is evicted before its head, as vLLM's and SGLang's prefix caches do.
The access sequence does not depend on the capacity, so one pass of LRU stack distances
(Mattson et al., 1970) gives every capacity at once: a block hits in a cache of ``c`` blocks iff
its position in the recency stack *before the request* is ``<= c``.

**Prefix semantics.** A request's cached tokens are its longest run of leading blocks that all
hit; block ``j`` of a request of ``L`` input tokens holds ``min(block_tokens, L - j *
block_tokens)`` tokens (the last block may be partial: tokens are counted, not blocks). A block
id repeated inside one request is cached with its first occurrence (prefix chains never
repeat one). The hit rate is
cached tokens over all input tokens of the trace; its value with unlimited capacity is the
trace's *reuse share*, the most any cache can serve.

**Replicas and routing.** A cache split over ``R`` replicas, ``C`` tokens each (``R * C`` in all):
- ``prefix_aware``: a session stays on one replica. The trace has no session id, so sessions
  come from the prefix chains: leading blocks that occur in at least ``shared_share`` (5%) of the
  requests, and in 2 at least, are prompts sessions share (Mooncake: block 0 is in all 12,031
  requests, the next most common block in 43, one conversation's turns); a
  session is the requests with the same first block after them (a request that is nothing but
  shared blocks is a session of its own). A new session goes to the replica with the fewest
  input tokens so far (ties: the lowest index), as a load-balancing router would place it.
- ``random``: every request goes to a uniformly random replica (``numpy`` generator, seeded).
Each replica replays its own sub-stream; the hit rate is over all tokens.

Worked by hand (``block_tokens = 2``; requests ``[a b] 4 tokens``, ``[a c] 3 tokens``, ``[a b]
4 tokens``): with capacity 2 blocks (4 tokens), request 2 finds ``a`` (2 tokens) and misses ``c``;
its writes leave ``a`` on top of ``c``, so ``b`` is evicted and request 3 finds ``a`` only, 2
tokens: h = 4 / 11. With 3 blocks request 3 finds ``a b`` as well: h = (2 + 4) / 11.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
import xarray as xr

from model.trace import Trace

ROUTINGS = ("prefix_aware", "random")
NEVER = np.iinfo(np.int64).max // 4  # stack position of a block never seen before (misses at any capacity)


@dataclass(frozen=True)
class BlockTrace:
    """The prefix blocks of a trace: ``block_ids[block_offsets[i]:block_offsets[i + 1]]`` for request ``i``."""

    block_ids: np.ndarray
    block_offsets: np.ndarray
    input_tokens: np.ndarray
    block_tokens: int

    @classmethod
    def of(cls, trace: Trace) -> BlockTrace:
        """The block arrays of ``trace`` (which must carry prefix block ids)."""
        if trace.block_ids is None or trace.block_offsets is None or trace.block_tokens is None:
            raise ValueError(f"{trace.source} has no prefix block ids")
        return cls(np.asarray(trace.block_ids, dtype=np.int64), np.asarray(trace.block_offsets, dtype=np.int64),
                   np.asarray(trace.input_tokens, dtype=np.int64), int(trace.block_tokens))

    def __post_init__(self) -> None:
        if len(self.block_offsets) != len(self.input_tokens) + 1:
            raise ValueError("block_offsets needs one more value than there are requests")
        if self.block_tokens < 1:
            raise ValueError("block_tokens must be >= 1")

    @property
    def requests(self) -> int:
        return len(self.input_tokens)

    def request_of_block(self) -> np.ndarray:
        """The request index of every entry of ``block_ids``."""
        return np.repeat(np.arange(self.requests), np.diff(self.block_offsets))

    def block_token_counts(self) -> np.ndarray:
        """Tokens each block holds: ``block_tokens``, the last one of a request what is left of ``L``."""
        request = self.request_of_block()
        index = np.arange(len(self.block_ids)) - self.block_offsets[request]
        left = self.input_tokens[request] - index * self.block_tokens
        out: np.ndarray = np.clip(left, 0, self.block_tokens)
        return out


def _count_below(points_s: np.ndarray, points_n: np.ndarray, ps: np.ndarray, qs: np.ndarray,
                 size: int) -> np.ndarray:
    """``#{k : points_s[k] < p and points_n[k] < q}`` for every query ``(p, q)``.

    A Fenwick tree unrolled over its levels and vectorized over the queries: ``[0, p)`` is the
    union, over the bits ``l`` set in ``p``, of the aligned node ``(p >> l) - 1`` of width ``2**l``;
    at each level the points are sorted by (node, n) and one ``searchsorted`` counts, for every
    query at once, the points in its node with ``n < q``.
    """
    counts = np.zeros(len(ps), dtype=np.int64)
    if len(points_s) == 0 or len(ps) == 0:
        return counts
    big = np.int64(size + 1)
    keys = np.sort(points_s * big + points_n)
    for level in range(max(int(size).bit_length(), 1)):
        if level:
            # The next level's keys from this one's sorted keys: runs of two sorted nodes, which a
            # stable sort (timsort) merges in linear time.
            keys = np.sort((keys // big >> 1) * big + keys % big, kind="stable")
        chosen = np.flatnonzero((ps >> level) & 1)
        if len(chosen) == 0:
            continue
        node = (ps[chosen] >> level) - 1
        counts[chosen] += np.searchsorted(keys, node * big + qs[chosen]) - np.searchsorted(keys, node * big)
    return counts


def stack_positions(blocks: BlockTrace, replica: np.ndarray | None = None) -> np.ndarray:
    """Per block of the trace, its 1-based position in its replica's LRU stack before its request.

    ``replica`` gives each request's replica (default: all on one); :data:`NEVER` for a block
    that replica has not seen; 0 for a repeat of a block earlier in the same request.
    """
    n = blocks.requests
    replica = np.zeros(n, dtype=np.int64) if replica is None else np.asarray(replica, dtype=np.int64)
    count = np.diff(blocks.block_offsets)
    request = blocks.request_of_block()
    m = len(blocks.block_ids)
    positions = np.full(m, NEVER, dtype=np.int64)
    if m == 0:
        return positions
    # The access sequence: requests grouped by replica (each replica's sub-stream in arrival order),
    # each request's blocks from last to first, so its first block is the most recent.
    order_requests = np.lexsort((np.arange(n), replica))
    start = np.zeros(n, dtype=np.int64)
    start[order_requests] = np.concatenate([[0], np.cumsum(count[order_requests])[:-1]])
    index = np.arange(m) - blocks.block_offsets[request]
    slot = start[request] + (count[request] - 1 - index)  # slot of every block entry in the sequence
    # One key per (replica, block): previous access of the same key in sequence order.
    ids = blocks.block_ids - blocks.block_ids.min()
    key = replica[request] * (int(ids.max()) + 1) + ids
    by_slot = np.empty(m, dtype=np.int64)
    by_slot[slot] = np.arange(m)
    seq_key = key[by_slot]
    seq_request_start = start[request][by_slot]
    order = np.lexsort((np.arange(m), seq_key))  # stable: each key's accesses in sequence order
    same = seq_key[order][1:] == seq_key[order][:-1]
    prev = np.full(m, -1, dtype=np.int64)
    nxt = np.full(m, m, dtype=np.int64)
    prev[order[1:][same]] = order[:-1][same]
    nxt[order[:-1][same]] = order[1:][same]
    # A block id repeated inside one request: only its copy first in the sequence (the last in the
    # request) looks at the previous requests; the copies after it in the sequence are repeats.
    repeat = (prev >= 0) & (prev >= seq_request_start)
    query = np.flatnonzero((prev >= 0) & ~repeat)
    p, q = prev[query], seq_request_start[query]
    # position = #{s in [p, q): next(s) >= q} = (q - p) - #{s >= p : next(s) < q}
    has_next = np.flatnonzero(nxt < m)
    pts_s, pts_n = has_next, nxt[has_next]
    sorted_n = np.sort(pts_n)
    inside = np.searchsorted(sorted_n, q) - _count_below(pts_s, pts_n, p, q, m)
    seq_positions = np.full(m, NEVER, dtype=np.int64)
    seq_positions[query] = (q - p) - inside
    positions[:] = seq_positions[slot]
    if repeat.any():
        # The request's first copy (lowest index) takes the looked-up position, the others 0: a repeat
        # is cached with its first occurrence and the prefix's running maximum decides.
        entry_repeat = repeat[slot]
        entry_key = request * (int(ids.max()) + 1) + ids
        dup = np.isin(entry_key, entry_key[entry_repeat])
        group = np.flatnonzero(dup)
        group = group[np.lexsort((group, entry_key[group]))]  # by key, then index
        k = entry_key[group]
        head = np.concatenate([[True], k[1:] != k[:-1]])
        tail = np.concatenate([k[1:] != k[:-1], [True]])
        looked_up = positions[group[tail]]  # the last copy in the request is the first in the sequence
        positions[group] = 0
        positions[group[head]] = looked_up
    return positions


def prefix_positions(blocks: BlockTrace, positions: np.ndarray) -> np.ndarray:
    """Per block, the largest stack position of its request's blocks up to it: it is cached iff <= c."""
    if len(positions) == 0:
        return positions
    request = blocks.request_of_block()
    # A running maximum that restarts at each request: lift each request above all earlier ones.
    top = np.int64(len(positions) + 1)  # above every real position (at most one per block entry)
    clipped = np.minimum(positions, top)
    lift = request.astype(np.int64) * (top + 1)
    reach = np.maximum.accumulate(clipped + lift) - lift
    reach[reach == top] = NEVER
    out: np.ndarray = reach
    return out


def sessions(blocks: BlockTrace, shared_share: float = 0.05) -> np.ndarray:
    """Session number of every request (numbered by first appearance), from the prefix chains."""
    n = blocks.requests
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    request = blocks.request_of_block()
    lowest = blocks.block_ids.min()
    pair = np.unique((blocks.block_ids - lowest) * n + request)  # (block, request), each once
    ids, users = np.unique(pair // n + lowest, return_counts=True)
    shared = np.isin(blocks.block_ids, ids[users >= max(shared_share * n, 2)])
    # The first block of each request that is not a shared one: every block before it is shared.
    lead = np.flatnonzero(~shared)
    first = np.full(n, -1, dtype=np.int64)
    first_entry = lead[np.unique(request[lead], return_index=True)[1]]
    first[request[first_entry]] = first_entry
    ok = first >= 0
    root = np.where(ok, blocks.block_ids[np.maximum(first, 0)], -1)
    label = np.where(ok, root, -1 - np.arange(n))  # all-shared requests: a session each
    _, session = np.unique(label, return_inverse=True)
    # Renumber by first appearance.
    first_seen = np.full(session.max() + 1, n, dtype=np.int64)
    np.minimum.at(first_seen, session, np.arange(n))
    rank = np.empty_like(first_seen)
    rank[np.argsort(first_seen, kind="stable")] = np.arange(len(first_seen))
    return rank[session]


def assign_replicas(blocks: BlockTrace, replicas: int, routing: str, seed: int = 0,
                    shared_share: float = 0.05, session: np.ndarray | None = None) -> np.ndarray:
    """The replica of every request under ``routing`` (see the module docstring); ``session``:
    :func:`sessions` of the trace, if known."""
    n = blocks.requests
    if replicas < 1:
        raise ValueError("replicas must be >= 1")
    if replicas == 1:
        return np.zeros(n, dtype=np.int64)
    if routing == "random":
        return np.random.default_rng(seed).integers(replicas, size=n)
    if routing != "prefix_aware":
        raise ValueError(f"routing must be one of {', '.join(ROUTINGS)}")
    session = sessions(blocks, shared_share) if session is None else session
    home = np.full(session.max() + 1 if n else 0, -1, dtype=np.int64)
    load = np.zeros(replicas)
    out = np.empty(n, dtype=np.int64)
    tokens = blocks.input_tokens.tolist()
    for i, s in enumerate(session.tolist()):
        if home[s] < 0:
            home[s] = int(np.argmin(load))
        r = int(home[s])
        out[i] = r
        load[r] += tokens[i]
    return out


def cached_tokens(blocks: BlockTrace, capacity_tokens: np.ndarray, replica: np.ndarray | None = None) -> np.ndarray:
    """Cached input tokens of the whole trace at each per-replica capacity (tokens)."""
    # Positions are at most the number of block entries; NEVER (unseen) stays above every capacity.
    capacity_blocks = np.minimum(np.floor(np.asarray(capacity_tokens, dtype=float) / blocks.block_tokens),
                                 len(blocks.block_ids) + 1)
    reach = prefix_positions(blocks, stack_positions(blocks, replica))
    tokens = blocks.block_token_counts()
    order = np.argsort(reach, kind="stable")
    cumulative = np.concatenate([[0], np.cumsum(tokens[order])])
    return cumulative[np.searchsorted(reach[order], capacity_blocks, side="right")]


def reuse_share(blocks: BlockTrace) -> float:
    """Share of input tokens an unlimited cache on one replica serves (the most any cache can)."""
    total = blocks.input_tokens.sum()
    return float(cached_tokens(blocks, np.array([np.inf]))[0] / total) if total else 0.0


def default_capacities(blocks: BlockTrace, points: int = 50) -> np.ndarray:
    """``points`` capacities (tokens), geometric from one block to every distinct block of the trace."""
    top = max(len(np.unique(blocks.block_ids)), 2) * blocks.block_tokens
    return np.unique(np.round(np.geomspace(blocks.block_tokens, top, points)).astype(np.int64))


def hit_rate_curve(trace: Trace | BlockTrace, capacity_tokens: np.ndarray | None = None,
                   replicas: tuple[int, ...] | list[int] = (1,), routings: tuple[str, ...] | list[str] = ROUTINGS,
                   seed: int = 0, shared_share: float = 0.05) -> xr.Dataset:
    """h(C): share of input tokens served from cache, per routing, replica count and capacity per replica.

    ``capacity_tokens`` is the cache of one replica (default :func:`default_capacities`); a split
    over ``R`` replicas holds ``R`` times that in all.
    """
    blocks = trace if isinstance(trace, BlockTrace) else BlockTrace.of(trace)
    capacity = default_capacities(blocks) if capacity_tokens is None else np.asarray(capacity_tokens, dtype=float)
    if np.any(capacity < 0) or np.any(np.isnan(capacity)):
        raise ValueError("capacity_tokens must be >= 0")
    replicas = [int(r) for r in replicas]
    if any(r < 1 for r in replicas):
        raise ValueError("replicas must be >= 1")
    for routing in routings:
        if routing not in ROUTINGS:
            raise ValueError(f"routing must be one of {', '.join(ROUTINGS)}")
    total = float(blocks.input_tokens.sum())
    rate = np.empty((len(routings), len(replicas), len(capacity)))
    single = None
    session = sessions(blocks, shared_share) if "prefix_aware" in routings and max(replicas) > 1 else None
    for a, routing in enumerate(routings):
        for b, r in enumerate(replicas):
            if r == 1:  # one replica: both routings are the same stream
                if single is None:
                    single = cached_tokens(blocks, capacity) / total if total else np.zeros(len(capacity))
                rate[a, b] = single
            else:
                replica = assign_replicas(blocks, r, routing, seed, shared_share, session)
                rate[a, b] = cached_tokens(blocks, capacity, replica) / total if total else 0.0
    ds = xr.Dataset(
        {"hit_rate": (("routing", "replicas", "capacity_tokens"), rate,
                      {"units": "1", "long_name": "share of input tokens served from the prefix cache"})},
        coords={
            "routing": ("routing", list(routings), {"units": "1", "long_name": "how requests reach replicas"}),
            "replicas": ("replicas", np.array(replicas, dtype=np.int64),
                         {"units": "1", "long_name": "replicas the cache is split over"}),
            "capacity_tokens": ("capacity_tokens", capacity,
                                {"units": "tokens", "long_name": "prefix-cache capacity per replica"}),
        },
    )
    ds["reuse_share"] = xr.DataArray(reuse_share(blocks) if total else 0.0,
                                     attrs={"units": "1", "long_name": "share served by an unlimited single cache"})
    ds.attrs.update(block_tokens=blocks.block_tokens, requests=blocks.requests, seed=seed, shared_share=shared_share)
    return ds


def hit_rate_at(curve: xr.Dataset, capacity_tokens: np.ndarray, replicas: int = 1,
                routing: str = "prefix_aware") -> np.ndarray:
    """h at any capacity per replica, by linear interpolation on the curve (h(0) = 0; flat past its end)."""
    h = curve["hit_rate"].sel(routing=routing, replicas=replicas)
    xs = np.concatenate([[0.0], h["capacity_tokens"].to_numpy().astype(float)])
    ys = np.concatenate([[0.0], h.to_numpy()])
    out: np.ndarray = np.interp(np.asarray(capacity_tokens, dtype=float), xs, ys)
    return out


def replica_cache_tokens(p: xr.Dataset, systems: xr.DataArray) -> xr.DataArray:
    """Prefix-cache capacity of one replica of ``systems`` systems, in tokens (docs/model.md §12).

    ``p``: the cost model's parameters (:func:`model.parameters.parameters`). Three tiers:
    - device: memory left after the weights and the active KV of the cell's N requests,
      ``S * memory_capacity - W - A (S - 1) - N * kv_per_request * copies``, where ``copies = S /
      min(S, kv_shards)`` is how many systems hold each token's KV (MLA under tensor parallelism
      keeps its latent KV on every GPU: a cached token takes ``copies`` times its bytes there) and
      ``A`` the attention weights every GPU holds whole under attention data parallelism
      (``attention_bytes``; 0 otherwise), as the kernel sizes the replica;
    - host: ``S * host_memory_gb`` (one copy of each token's KV per replica);
    - storage: ``S * storage_cache_gb``.
    Bytes become tokens at ``kv_bytes_per_context_token`` (full-attention layers; a sliding-window
    layer's fixed window is left out). A null tier holds nothing.

    Worked: DeepSeek V3 (671 GB of FP8 weights; MLA KV 70,272 bytes per token, one latent head)
    on a replica of 4 B200 (180 GB, 250 GB of host memory each) at N = 1, L = 96,300: the KV of
    a request, 6.767 GB, sits on all 4 GPUs (copies = 4), so the device keeps ``4 * 180 - 671 -
    4 * 6.767 = 21.93 GB`` free, ``21.93e9 / (4 * 70,272) = 78,022`` tokens; the host holds
    ``4 * 250e9 / 70,272 = 14,230,419`` tokens: 14,308,441 tokens in all.
    """
    shards = np.minimum(systems, p["kv_shards"])
    copies = systems / shards
    per_token = p["kv_bytes_per_context_token"]
    active = p["concurrent_requests"] * p["kv_bytes_per_request"] * copies
    replicated = p["attention_bytes"] * (systems - 1)  # dp-attention: the attention weights on every GPU
    free = np.maximum(systems * p["memory_capacity"] - p["weight_bytes"] - replicated - active, 0.0)
    below = (p["host_memory_gb"].fillna(0.0) + p["storage_cache_gb"].fillna(0.0)) * 1e9 * systems
    tokens = cast(xr.DataArray, free / (per_token * copies) + below / per_token)
    return tokens.assign_attrs(units="tokens", long_name="prefix-cache capacity per replica (device + host + storage)")


def cell_cached_share(capacity_tokens: xr.DataArray, curve_capacity: np.ndarray,
                      curve_hit_rate: np.ndarray) -> xr.DataArray:
    """L_c / L at each cell: h at the cell's capacity per replica, by linear interpolation on the curve
    (``h(0) = 0``, flat past the curve's last capacity)."""
    xs = np.concatenate([[0.0], np.asarray(curve_capacity, dtype=float)])
    ys = np.concatenate([[0.0], np.asarray(curve_hit_rate, dtype=float)])
    values = np.interp(capacity_tokens.values, xs, ys)
    values = np.where(np.isnan(capacity_tokens.values), np.nan, values)
    return capacity_tokens.copy(data=values).assign_attrs(units="1", long_name="cached share of the input, L_c / L")


def curve_for(curve: xr.Dataset, replicas: int) -> dict[str, list[float]]:
    """The config form of h at ``replicas`` (``workload.cache_curve``): capacity per replica and both routings,
    interpolated in log R between the replayed replica counts (exact at a replayed count)."""
    counts = curve.replicas.values.astype(float)
    out: dict[str, list[float]] = {"capacity_tokens": [float(c) for c in curve.capacity_tokens.values]}
    for routing in curve.routing.values:
        h = curve["hit_rate"].sel(routing=routing).values  # replicas x capacity
        if replicas in counts:
            row = h[int(np.flatnonzero(counts == replicas)[0])]
        else:
            x = np.log(np.clip(replicas, counts.min(), counts.max()))
            row = np.array([np.interp(x, np.log(counts), h[:, j]) for j in range(h.shape[1])])
        out[str(routing)] = [float(v) for v in row]
    return out
