"""docs/model.md §2 and §8 per cell (model, hardware, ISL L, concurrency N): the elementwise kernel.

Works on numpy blocks that broadcast against each other; see :mod:`model.engine`.  An output is
computed only if the caller asked for it (it is a key of ``out``) or another output needs it.
Operations run in place where possible: the kernel is bound by memory writes, so every
temporary it avoids is time saved.  Work that a block does not need (tensor-parallel KV,
admission on pinned replicas, one of the two prefill modes) is skipped for the whole block.

Equations (units: bytes, seconds, tokens, $):

- ``K = N * kv_bytes_per_request(L)``; ``memory = W + K``
- ``S = max(ceil(memory / capacity), min_systems)``, rounded up to an allowed size;
  infeasible if none fits, ``S > max_systems`` or ``L > max_context``.  Under tensor
  parallelism a GPU holds ``W / S + K / min(S, kv_shards)`` (MLA: ``kv_shards = 1``), so past
  ``kv_shards`` GPUs ``S = ceil(W / (capacity - K / kv_shards))``, and no size fits once one
  GPU's share of the KV alone fills it.  Under dp-attention (docs/model.md §10, ``A =
  attention_bytes > 0``) a GPU holds ``(W - A) / S + A + K / S`` (the attention weights whole,
  the KV split over all S: ``kv_shards`` is inf there), so ``S = ceil((W - A + K) / (capacity - A))``,
  and no size fits where ``capacity <= A``; ``A = 0`` elsewhere, the first form.
- Admission (docs/model.md §8): a pinned replica (``min_systems == max_systems``) whose memory cannot
  hold all N requests admits the ``N_fit`` that fit (``N_fit >= 1``; :func:`model.serving.kv_capacity`,
  ``capacity`` net of ``memory_reserve_gb``, weights per GPU ``(W - A) / S + A``, the calibration's
  :func:`model.configurations.kv_capacity`); the others wait ``(N - N_fit) / X``.
- ``step = max(t_base + hop * (S - S0) + (streamed(N) + K_read) / (S * B), N * compute_seconds / S)``
  with ``K_read = K * S / min(S, kv_shards)`` (KV bytes one system reads, times S);
  ``S >= S0`` always (``S0 = ceil((W - A) / (capacity - A))``, the weights alone), so docs/model.md
  §2.3's ``max(0, S - S0)`` is ``S - S0``.  On the GPU path
  ``t_base = step_overhead_s + layers * layer_overhead_s`` and ``streamed(N)`` is the MoE-aware
  weight read of :func:`model.parameters.streamed_weight_bytes`; with a measured rate
  ``t_base = 1 / I0``, ``streamed = 0`` and ``compute_seconds = 0``.
- Decode attention (docs/model.md §10, ``decode_attention_efficiency`` set):
  ``step += N m a / S`` after the max, before the MTP factor, with ``m`` the tokens a step
  verifies per request and ``a = F_dec ctx / (peak eta_a)`` one verified token's attention on one
  GPU (:func:`model.parameters.decode_attention_seconds`: MLA absorbed ``2 heads (2 kv_lora_rank +
  rope) layers``, other models ``2 heads (qk_head_dim + v_head_dim)`` per layer, sliding-window
  layers over ``min(window, ctx)``; ``ctx`` the decode context), the placement of
  :func:`model.serving.decode_step`.  0 without the setting or with a measured rate.
- ``ratio`` prefill (docs/model.md §2): ``I = 1 / step``, ``R = cache_read_ratio * I``,
  ``t_pf = ttft = L / R``, ``T = L / R + O / I = (L / cache_read_ratio + O) * step``.
- ``physical`` prefill (docs/model.md §8, aggregated serving): ``t_pf = prefill_overhead_s +
  F_seconds / S + load_seconds / min(S, kv_shards)``, ``T = O * step + N * t_pf``,
  ``ttft = t_pf * (1 + (N - 1) * t_pf / (2 T))``, ``I = O / (T - ttft)``, ``R = L / t_pf``.
- Weight pass per prefill forward (docs/model.md §10, finite ``prefill_chunk_tokens`` C): the
  weights ``(dense + routed) / (S B_eff)`` once per forward of at most C new tokens; ``b`` carries
  ``min(L_n / C, 1)`` of it, the request's own prefill ``ceil(L_n / C)`` (``t_pf`` and ``ttft``).
- DP-attention prefill (docs/model.md §10, ``attention_data_parallel``): the request's own
  prefill runs its attention on one rank, ``+ (1 - 1/S) F_attn / (peak eta_p)``
  (:func:`model.serving.prefill_own`); the busy time ``b`` is unchanged.
- Attention-DP rank wait (docs/model.md §10, ``attention_data_parallel``, physical mode): the
  ``S`` ranks of an aggregated replica prefill a round together, ``ttft += (min(S, N) - 1) / (2 X)``,
  ``X = N / T`` (:func:`model.serving.rank_balance_wait`), a queue the percentiles spread.
- A disaggregated prefill pool's replica (docs/model.md §10, :func:`model.configurations.plan_columns`):
  its busy time per request (its throughput) at ``prefill_stack_speed`` times the aggregated
  replica's compute, a request's own prefill at the aggregated replica's (one prompt's forward gets
  none of the batching), its fixed latency ``pool_latency_share * prefill_overhead_s``:
  ``pool_prefill_time`` and ``pool_prefill_capacity``
  (the aggregated ``prefill_time`` and ``prefill_capacity`` in the ratio mode, or where both are 1).
- ``requests_per_second = N / T`` (N admitted); a waiting request's ``ttft`` adds
  ``(N_asked - N) / requests_per_second``
- ``X = requests_per_second * (L + O)``; ``output_throughput = requests_per_second * O``
- ``cost_per_hour = S * price_per_hour``; ``cost_per_mtok = cost_per_hour / (X * 3600 / 1e6)``;
  ``cost_per_output_mtok = cost_per_mtok * (L + O) / O``
- ``meets_sla``: feasible, ``I >= sla.min_interactivity`` and ``ttft <= sla.max_ttft_s``, both at
  ``sla.percentile`` (:func:`at_percentile`; p50: the values above)

Infeasible cells carry NaN systems into the rate equations, so every rate and cost is NaN
there without a separate masking pass; ``systems``, ``layers_per_system`` and memory stay filled.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from model import quantities, serving

MTOK_PER_HOUR = 3600 / 1e6
ALLOWED_SIZE = "allowed_size_"

# the arrays cell_kernel reads, declared with their units and sources in model.quantities
INPUTS = tuple(quantities.INPUTS)


def _round_up(raw: np.ndarray, p: Mapping[str, np.ndarray]) -> np.ndarray:
    """Smallest allowed size >= raw (inf where none fits); raw itself where unrestricted."""
    restricted = p["sizes_restricted"]
    if not restricted.any():
        return raw
    options = [p[k] for k in sorted((k for k in p if k.startswith(ALLOWED_SIZE)),
                                    key=lambda k: int(k[len(ALLOWED_SIZE):]))]
    built = np.full(np.broadcast_shapes(raw.shape, restricted.shape), np.inf)
    if restricted.size == 1:
        # One hardware type in this block: only options between the block's least and
        # greatest need can be chosen.
        values = np.array([o.item() for o in options])
        lo, hi = np.searchsorted(values, [raw.min(), raw.max()])
        for value in values[lo:hi + 1][::-1]:
            np.copyto(built, value, where=raw <= value)
        return built
    for option in options[::-1]:
        np.copyto(built, option, where=option >= raw)
    return np.where(restricted, built, raw)


def _inplace(ufunc: np.ufunc, a: np.ndarray, b) -> np.ndarray:
    """``ufunc(a, b)`` into ``a`` when the result has ``a``'s shape, else a new array."""
    if np.broadcast_shapes(a.shape, np.shape(b)) == a.shape:
        return ufunc(a, b, out=a)
    return ufunc(a, b)


# systems beyond this cannot be counted (int64 outputs, exact float64): such a cell is infeasible
MAX_SYSTEMS = 2.0**53


def _systems(kv: np.ndarray, p: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
    """Systems per replica for weights + KV (before rounding), and where the KV fits at all
    (None: everywhere)."""
    raw = kv + p["weight_bytes"]
    attention, fits = p["attention_bytes"], None
    if (attention > 0).any():
        # docs/model.md §10 dp-attention: every GPU holds the attention weights A whole, the rest and
        # the KV split over the S GPUs: (W - A + K) / S + A <= capacity (A = 0 elsewhere: W + K over S)
        room = p["memory_capacity"] - attention
        with np.errstate(divide="ignore", invalid="ignore"):
            split = np.divide(raw - attention, room)
        lacking = ~(room > 0)  # where A > 0: A alone fills a GPU, no size fits
        if lacking.any():  # (A = 0 there: capacity <= 0, the same quotient)
            fits = ~lacking | (attention == 0)
            split = np.where(fits, split, raw / p["memory_capacity"])  # the need as if A split
        raw = split
    else:
        raw = _inplace(np.divide, raw, p["memory_capacity"])
    np.ceil(raw, out=raw)
    shards = p["kv_shards"]
    if not np.isfinite(shards).any():
        return raw, fits
    # Tensor parallelism: past kv_shards GPUs the KV stops splitting (docs/model.md §8); never with
    # dp-attention (kv_shards is inf there: the KV splits over all S GPUs), so A plays no part here
    spare = p["memory_capacity"] - kv / shards
    with np.errstate(divide="ignore", invalid="ignore"):
        beyond = np.ceil(p["weight_bytes"] / spare)
    kv_fits = (raw <= shards) | (spare > 0)
    return (np.where(raw <= shards, raw, np.where(spare > 0, beyond, raw)),
            kv_fits if fits is None else kv_fits & fits)


def _admitted(n: np.ndarray, buildable: np.ndarray, p: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Requests a pinned replica admits (docs/model.md §8) and where admission makes a cell buildable:
    the whole requests :func:`model.serving.kv_capacity` holds (the calibration's cap, one rule;
    ``memory_capacity`` is already net of ``memory_reserve_gb``)."""
    pinned = p["pinned_systems"]
    kv_share = np.minimum(pinned, p["kv_shards"])  # systems over which one request's KV splits
    attention = p["attention_bytes"]  # dp-attention: whole on every GPU (0 elsewhere)
    with np.errstate(invalid="ignore", divide="ignore"):
        weights_gpu = (p["weight_bytes"] - attention) / pinned + attention
        fit = np.floor(serving.kv_capacity(p["memory_capacity"], 0.0, weights_gpu,
                                           p["kv_bytes_per_request"], kv_share, True))
        admit = ~buildable & np.isfinite(pinned) & (fit >= 1) & (n > fit)
    return np.where(admit, fit, n), admit


class Replica(NamedTuple):
    """What the memory phase of :func:`cell_kernel` decides for a block (see the module docstring)."""

    n: np.ndarray  # requests admitted (``asked`` but where a pinned replica admits fewer)
    asked: np.ndarray  # requests asked (the concurrency)
    waiting: bool  # some cell of the block admits fewer than it was asked
    kv: np.ndarray  # KV bytes of the admitted requests
    systems: np.ndarray  # the built size, or the memory need where no allowed size fits
    feasible: np.ndarray
    countless: np.ndarray  # NaN, inf or past what int64 and float64 count exactly


# the outputs the memory phase fills by itself: a block asking only these stops there
SIZE_OUTPUTS = frozenset({"systems", "layers_per_system", "feasible", "admitted_requests"})


def cell_kernel(p: Mapping[str, np.ndarray], out: Mapping[str, np.ndarray]) -> None:
    """Fill the requested outputs of one block from the inputs ``p`` (see module docstring).

    The phases, in order: systems per replica and admission (:func:`replica_size`), the decode step
    (:func:`decode_step`), prefill (:func:`prefill_rates`), request rates and throughput
    (:func:`request_rates`), cost (:func:`costs`), the SLA (:func:`meets_sla`).
    """
    rep = replica_size(p, out)
    write_sizes(rep, p, out)
    if not out.keys() - SIZE_OUTPUTS:
        return
    systems = rep.systems
    if not rep.feasible.all():
        # NaN systems make every rate and cost below NaN on infeasible cells
        systems = np.where(rep.feasible, systems, np.nan)
    step = decode_step(rep, systems, p, out)
    rates = prefill_rates(rep.n, step, systems, p, out)
    ttft, throughput = request_rates(rep, rates, p, out)
    costs(systems, throughput, p, out)
    if "meets_sla" in out:
        meets_sla(rep.n, rates, ttft, p, out["meets_sla"], systems)


def replica_size(p: Mapping[str, np.ndarray], out: Mapping[str, np.ndarray]) -> Replica:
    """Systems per replica for weights + KV, rounded up to an allowed size, the requests a pinned
    replica admits, and where the cell is feasible (into ``out["feasible"]`` where it has it)."""
    n = p["concurrent_requests"]
    kv = n * p["kv_bytes_per_request"]
    raw, kv_fits = _systems(kv, p)
    if (p["min_systems"] > 1).any():
        raw = _inplace(np.maximum, raw, p["min_systems"])
    built = _round_up(raw, p)
    feasible = np.less_equal(built, p["max_buildable"], out=out.get("feasible"))
    if kv_fits is not None:
        feasible = _inplace(np.logical_and, feasible, kv_fits)
    asked, waiting = n, False
    if np.isfinite(p["pinned_systems"]).any():
        n, admit = _admitted(n, feasible, p)
        waiting = bool(admit.any())
        if waiting:
            built = np.where(admit, p["pinned_systems"], built)
            raw = np.where(admit, p["pinned_systems"], raw)
            kv = n * p["kv_bytes_per_request"]
            feasible = np.logical_or(feasible, admit, out=out.get("feasible"))
    feasible = _inplace(np.logical_and, feasible, p["context_ok"])
    # systems: the built size, or the memory need where no allowed size fits
    systems = built if built is raw else np.where(np.isfinite(built), built, raw)
    countless = ~(systems < MAX_SYSTEMS)  # NaN, inf or past what int64 and float64 count exactly
    if countless.any():
        feasible = _inplace(np.logical_and, feasible, ~countless)
    return Replica(n, asked, waiting, kv, systems, feasible, countless)


def write_sizes(rep: Replica, p: Mapping[str, np.ndarray], out: Mapping[str, np.ndarray]) -> None:
    """``systems``, ``layers_per_system`` and ``admitted_requests`` where ``out`` has them."""
    if "systems" in out:
        unknown = rep.countless  # no size can be said: 0 rather than a wrapped integer
        np.copyto(out["systems"], np.where(unknown, 0.0, rep.systems) if unknown.any() else rep.systems,
                  casting="unsafe")
    if "layers_per_system" in out:
        np.divide(p["layers"], rep.systems, out=out["layers_per_system"])
    if "admitted_requests" in out:
        np.copyto(out["admitted_requests"], np.broadcast_to(rep.n, out["admitted_requests"].shape), casting="unsafe")


def decode_step(rep: Replica, systems: np.ndarray, p: Mapping[str, np.ndarray],
                out: Mapping[str, np.ndarray]) -> np.ndarray:
    """The time per output token of a request (into ``out["step_time"]`` where it has it): hops, weights
    and KV read at the replica's bandwidth, the compute bound, the decode attention, the EP all-to-all,
    MTP.  A cell whose hardware sets ``mtp_draft_per_batch`` runs the draft count of 1 to
    ``mtp_draft_tokens`` that emits the most tokens per second at its batch, the least time per output
    token (:func:`model.serving.fastest_draft`, as the calibration's workers do)."""
    choosing = p["mtp_draft_per_batch"]
    if not choosing.any():
        return _step_at_draft(rep, systems, p, out.get("step_time"))
    # each count's step adds into its own copy of the KV bytes (_step_at_draft works in place)
    step = _step_at_draft(rep._replace(kv=rep.kv.copy()), systems, p, out.get("step_time"))
    most = p["mtp_tokens"] - 1
    for draft in range(1, int(np.max(np.where(choosing, most, 0)))):
        fewer = choosing & (draft < most)
        other = _step_at_draft(rep._replace(kv=rep.kv.copy()), systems, _at_draft(p, draft, fewer), None)
        step = np.minimum(step, np.where(fewer, other, np.inf), out=step)
    return step


def _at_draft(p: Mapping[str, np.ndarray], draft: int, where: np.ndarray) -> dict[str, np.ndarray]:
    """The inputs ``p`` with ``draft`` drafts per step where ``where`` (their own count elsewhere): the
    tokens a step verifies, the step's FLOPs and weight reads, and the tokens it emits
    (:func:`model.serving.accepted_tokens` of ``mtp_acceptance``)."""
    tokens = 1.0 + draft
    touched = 1 - p["expert_untouched"] ** (p["concurrent_requests"] * tokens)
    factor = (1 + draft / p["layers"]) / serving.accepted_tokens(p["mtp_acceptance"], float(draft))
    return {**p, "mtp_tokens": np.where(where, tokens, p["mtp_tokens"]),
            "mtp_step_factor": np.where(where, factor, p["mtp_step_factor"]),
            "compute_seconds": np.where(where, p["compute_seconds"] / p["mtp_tokens"] * tokens, p["compute_seconds"]),
            "streamed_bytes": np.where(where, p["dense_bytes"] + touched * p["routed_bytes"], p["streamed_bytes"])}


def _step_at_draft(rep: Replica, systems: np.ndarray, p: Mapping[str, np.ndarray],
                   into: np.ndarray | None) -> np.ndarray:
    """:func:`decode_step` at the draft count ``p`` gives (``mtp_tokens``); adds into ``rep.kv``."""
    n = rep.n
    step = np.multiply(systems, p["hop_latency_s"], out=into)
    step = _inplace(np.add, step, p["step_constant"])  # t_base - hop * S0
    kv = rep.kv
    shards = p["kv_shards"]
    if np.isfinite(shards).any():  # a GPU reads K / min(S, kv_shards): scale K to keep one division below
        kv = kv * systems / np.minimum(systems, shards)
    drafting = bool((p["mtp_tokens"] != 1).any())
    kv = _inplace(np.add, kv, _streamed(rep, systems, drafting, p))
    kv = _inplace(np.divide, kv, systems * p["effective_bandwidth"])
    step = _inplace(np.add, step, kv)
    if (p["compute_seconds"] > 0).any():
        bound = n * p["compute_seconds"]
        step = _inplace(np.maximum, step, _inplace(np.divide, bound, systems))
    attention = p["decode_attention_seconds"]
    if (attention > 0).any():  # docs/model.md §10: every verified token's attention, serial to the reads
        tokens = n * p["mtp_tokens"] if drafting else n
        step = _inplace(np.add, step, _inplace(np.divide, tokens * attention, systems))
    if (p["ep_width"] > 1).any():  # docs/model.md §10: the EP all-to-all of every MoE layer
        step = _inplace(np.add, step, ep_seconds(n, systems, p))
    if drafting or (p["mtp_step_factor"] != 1).any():  # MTP: the time per output token of a request
        step = _inplace(np.multiply, step, p["mtp_step_factor"])
    return step


def _streamed(rep: Replica, systems: np.ndarray, drafting: bool, p: Mapping[str, np.ndarray]) -> np.ndarray:
    """Weight bytes one decode step streams, summed over the replica's systems."""
    streamed = p["streamed_bytes"]
    if rep.waiting:  # an admitted batch touches the experts of its own size
        n = rep.n
        touched = 1 - p["expert_untouched"] ** (n * p["mtp_tokens"] if drafting else n)
        streamed = np.where(n < rep.asked, p["dense_bytes"] + touched * p["routed_bytes"], streamed)
    if (p["attention_bytes"] > 0).any():  # docs/model.md §10 dp-attention: attention weights whole on every GPU
        streamed = streamed + p["attention_bytes"] * (systems - 1)
    return streamed


def prefill_rates(n: np.ndarray, step: np.ndarray, systems: np.ndarray, p: Mapping[str, np.ndarray],
                  out: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Interactivity, request time, prefill time and TTFT of each cell's prefill mode (into ``out``
    where it has them); ``prefill_busy`` too where any cell is in the physical mode."""
    physical = p["prefill_physical"]
    if not physical.any():
        return _ratio_prefill(step, p, out)
    if physical.all():
        return _physical_prefill(n, step, systems, p, out)
    # both modes in one block: compute both, keep each cell's own
    ratio, phys = _ratio_prefill(step, p, {}), _physical_prefill(n, step, systems, p, {})
    rates = {k: np.where(physical, phys[k], ratio[k]) for k in ratio}
    rates["prefill_busy"] = phys["prefill_busy"]
    rates["pool_prefill_busy"] = phys["pool_prefill_busy"]
    rates["pool_prefill_time"] = np.where(physical, phys["pool_prefill_time"], ratio["prefill_time"])
    for name, value in rates.items():
        if name in out:
            np.copyto(out[name], value)
    return rates


def _prefill_capacity(target: np.ndarray, n: np.ndarray, prefill_time: np.ndarray, busy: np.ndarray | None,
                      physical: np.ndarray) -> None:
    """Requests/s a replica prefills into ``target``: ``N / t_pf`` (ratio mode), ``1 / busy`` where
    prefill is physical (one prefill at a time, the fixed overhead overlapping the next; ``busy`` is
    None where no cell is physical)."""
    np.divide(n, prefill_time, out=target)
    if busy is not None and physical.any():
        np.copyto(target, 1 / busy, where=physical)


def request_rates(rep: Replica, rates: Mapping[str, np.ndarray], p: Mapping[str, np.ndarray],
                  out: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Prefill capacity, requests per second, the TTFT of waiting requests, cache-read and token
    throughputs (into ``out`` where it has them); returns the TTFT and the throughput."""
    n, physical = rep.n, p["prefill_physical"]
    interactivity, request_time, prefill, ttft = (rates[k] for k in ("interactivity", "request_time",
                                                                      "prefill_time", "ttft"))
    # written by literal name, so that the outputs the kernel writes can be read off its source
    # (tests/model/test_quantities.py checks them against model.quantities)
    if "prefill_capacity" in out:
        _prefill_capacity(out["prefill_capacity"], n, rates["prefill_time"], rates.get("prefill_busy"), physical)
    if "pool_prefill_capacity" in out:
        _prefill_capacity(out["pool_prefill_capacity"], n, rates["prefill_time"], rates.get("pool_prefill_busy"),
                          physical)
    if "pool_prefill_time" in out:
        np.copyto(out["pool_prefill_time"], rates.get("pool_prefill_time", rates["prefill_time"]))
    rps = np.divide(n, request_time, out=out.get("requests_per_second"))
    if rep.waiting:  # the requests a pinned replica could not admit wait for a place
        ttft = ttft + (rep.asked - n) / rps  # a new array: ttft may share memory with prefill_time
        if "ttft" in out:
            np.copyto(out["ttft"], ttft)
    if "cache_read_throughput" in out:
        _cache_read_throughput(interactivity, prefill, physical, p, out["cache_read_throughput"])
    if "implied_cache_read_ratio" in out:
        np.divide(np.divide(p["input_length"], prefill), interactivity, out=out["implied_cache_read_ratio"])
    throughput = np.multiply(rps, p["tokens_per_request"], out=out.get("throughput"))
    if "output_throughput" in out:
        np.multiply(rps, p["output_tokens"], out=out["output_throughput"])
    return ttft, throughput


def _cache_read_throughput(interactivity: np.ndarray, prefill: np.ndarray, physical: np.ndarray,
                           p: Mapping[str, np.ndarray], into: np.ndarray) -> None:
    """Cached tokens read per second: ``L / t_pf`` in the physical mode, ``cache_read_ratio * I`` in the ratio mode."""
    if physical.any():
        np.divide(p["input_length"], prefill, out=into)
        if not physical.all():
            np.copyto(into, interactivity * p["cache_read_ratio"], where=~physical)
    else:
        np.multiply(interactivity, p["cache_read_ratio"], out=into)


def costs(systems: np.ndarray, throughput: np.ndarray, p: Mapping[str, np.ndarray],
          out: Mapping[str, np.ndarray]) -> None:
    """Capex, cost per hour, per Mtok (all tokens and output tokens) and the margin, where ``out`` has them."""
    if "capex" in out:
        np.multiply(systems, p["capex_per_system"], out=out["capex"])
    cost = np.multiply(systems, p["price_per_hour"], out=out.get("cost_per_hour"))
    if "cost_per_mtok" in out or "cost_per_output_mtok" in out or "margin_per_mtok" in out:
        cost = np.divide(cost, throughput, out=out.get("cost_per_mtok"))
        cost = _inplace(np.divide, cost, MTOK_PER_HOUR)
        if "cost_per_output_mtok" in out:
            np.multiply(cost, p["output_share"], out=out["cost_per_output_mtok"])
        if "margin_per_mtok" in out:
            np.subtract(p["price_per_mtok"], cost, out=out["margin_per_mtok"])


def meets_sla(n: np.ndarray, rates: Mapping[str, np.ndarray], ttft: np.ndarray, p: Mapping[str, np.ndarray],
              into: np.ndarray, systems: np.ndarray | float = 1.0) -> None:
    """Whether the interactivity and the TTFT, at the SLA's percentile, meet ``sla.min_interactivity`` and
    ``sla.max_ttft_s`` (into ``into``)."""
    interactivity, physical = rates["interactivity"], p["prefill_physical"]
    if physical.any() and (p["sla_quantile"] > 0.5).any():  # docs/model.md §10: the SLA at p90 / p99
        interactivity, ttft = at_percentile(n, interactivity, ttft, rates["request_time"], rates["prefill_busy"],
                                            physical, p, systems)
    meets = np.greater_equal(interactivity, p["min_interactivity"], out=into)
    if np.isfinite(p["max_ttft_s"]).any():
        np.logical_and(meets, np.less_equal(ttft, p["max_ttft_s"]), out=meets)


def ep_seconds(n: np.ndarray, systems: np.ndarray, p: Mapping[str, np.ndarray]) -> np.ndarray:
    """EP all-to-all time of one decode step (:func:`model.serving.ep_alltoall_seconds`): the
    ``n (1 + draft)`` tokens of a step spread over the replica's ``S`` GPUs, at EP width
    ``min(ep, S)``; the scale-up link within ``scaleup_domain`` GPUs, ``interconnect_gb_s`` beyond."""
    tokens = n * p["mtp_tokens"] / systems
    return serving.ep_alltoall_seconds(tokens, p["experts_per_token"], p["hidden_size"], p["ep_activation_bytes"],
                                       np.minimum(p["ep_width"], systems), p["moe_layers"], p["scaleup_bytes_s"],
                                       p["scaleup_domain"], p["scaleout_bytes_s"], p["ep_latency_s"])


def at_percentile(n: np.ndarray, interactivity: np.ndarray, ttft: np.ndarray, request_time: np.ndarray,
                  busy: np.ndarray, physical: np.ndarray, p: Mapping[str, np.ndarray],
                  systems: np.ndarray | float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Interactivity and TTFT at the SLA's quantile ``q = sla_quantile`` (docs/model.md §10), from the queue
    the physical mode already has (ratio-mode cells and q = 0.5 keep their values).

    - TTFT: the wait behind other prefills, mean ``queue = b (N - 1) b / (2 T)``, is taken as
      uniform on ``[0, 2 queue]``: ``ttft_q = ttft + (2 q - 1) queue``.
    - TPOT: a request's decode is interrupted by the others' prefills, on average
      ``lam = (N - 1) (1 - b / (2 T))`` of them (the mean the median formula already charges);
      their number is taken as Poisson, normal for the quantile:
      ``tpot_q = 1 / I + z_q b sqrt(lam) / O``, ``I_q = 1 / tpot_q``.
    """
    q = p["sla_quantile"]
    queue = busy * (n - 1.0) * busy / (2.0 * request_time)
    if p["attention_data_parallel"].any():  # the wait for a round of DP-attention ranks is a queue too
        queue = queue + rank_wait(n, request_time, systems, p)
    tpot = serving.tpot_percentile(1.0 / interactivity, busy, serving.interruptions(n, busy, request_time),
                                   p["output_tokens"], q)
    later = q > 0.5
    return (np.where(physical & later, 1.0 / tpot, interactivity),
            np.where(physical & later, serving.ttft_percentile(ttft, queue, q), ttft))


def _ratio_prefill(step: np.ndarray, p: Mapping[str, np.ndarray],
                   out: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """docs/model.md §2: non-output tokens at ``cache_read_ratio`` times the decode rate (into ``out``
    where it has the output)."""
    prefill = np.multiply(step, p["ratio_prefill_steps"], out=out.get("prefill_time"))
    ttft = prefill
    if "ttft" in out:
        np.copyto(out["ttft"], prefill)
        ttft = out["ttft"]
    return {"interactivity": np.divide(1.0, step, out=out.get("interactivity")),
            "request_time": np.multiply(step, p["time_per_step"], out=out.get("request_time")),
            "prefill_time": prefill, "ttft": ttft}


def _physical_prefill(n: np.ndarray, step: np.ndarray, systems: np.ndarray, p: Mapping[str, np.ndarray],
                      out: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """docs/model.md §8 aggregated serving: prefill and decode share the replica (chunked prefill); into
    ``out`` where it has the output.

    The replica is busy ``b = F_seconds / S + min(load_seconds / min(S, kv_shards),
    recompute_seconds / S)`` per request (the cached prefix loads back or is recomputed, whichever
    is faster);
    ``prefill_overhead_s`` is latency the request sees (scheduling, launches) while the replica
    serves the others, so it adds to the TTFT but not to the replica's time:
    ``t_pf = overhead + b``, ``T = O * step + N * b``, ``ttft = overhead + b (1 + (N - 1) b / (2 T))``,
    ``I = O / (T - ttft + overhead)``.
    """
    busy, own = _busy_and_own(systems, p)
    request_time = np.multiply(n, busy, out=out.get("request_time"))
    request_time = _inplace(np.add, request_time, p["output_tokens"] * step)
    # an arriving request waits, on average, for half the other requests' prefills in progress
    queued = np.multiply(n - 1, busy)
    queued = _inplace(np.divide, queued, 2 * request_time)
    queued = _inplace(np.add, queued, 1.0)
    queued = _inplace(np.multiply, queued, busy)
    interactivity = np.divide(p["output_tokens"], request_time - queued, out=out.get("interactivity"))
    prefill = np.add(own, p["prefill_overhead_s"], out=out.get("prefill_time"))
    ttft = np.add(queued, p["prefill_overhead_s"], out=out.get("ttft"))
    if own is not busy:  # docs/model.md §10: the request's own prefill in place of its share of the worker's
        ttft = _inplace(np.add, ttft, own - busy)
    ttft = _inplace(np.add, ttft, 0.5 * step)
    if p["attention_data_parallel"].any():  # docs/model.md §10: a round of one prefill per DP-attention rank
        ttft = _inplace(np.add, ttft, rank_wait(n, request_time, systems, p))
    pool_busy, pool_time = busy, prefill
    speed, share = p["prefill_stack_speed"], p["pool_latency_share"]
    if (speed != 1).any() or (share != 1).any():  # docs/model.md §10: a disaggregated prefill pool's replica
        # the speed is the pool's throughput; a request's own prefill stays the replica's
        if (speed != 1).any():
            pool_busy = _pool_busy(systems, p, speed)
        pool_time = np.add(own, p["prefill_overhead_s"] * share)
    return {"interactivity": interactivity, "request_time": request_time, "prefill_time": prefill, "ttft": ttft,
            "prefill_busy": busy, "pool_prefill_busy": pool_busy, "pool_prefill_time": pool_time}


def rank_wait(n: np.ndarray, request_time: np.ndarray, systems: np.ndarray | float,
              p: Mapping[str, np.ndarray]) -> np.ndarray:
    """The wait of a new request on an aggregated replica whose ``S`` data-parallel-attention ranks
    prefill together, ``(min(S, N) - 1) / (2 X)`` at its request rate ``X = N / T``
    (:func:`model.serving.rank_balance_wait`); 0 without dp-attention."""
    ranks = np.where(p["attention_data_parallel"], systems, 1.0)
    return serving.rank_balance_wait(ranks, n / request_time, n)


def _busy_and_own(systems: np.ndarray, p: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The replica's busy seconds per prefill and one request's own prefill seconds (under
    dp-attention its attention on one rank).  With a finite ``prefill_chunk_tokens`` C every forward
    of at most C new tokens streams the weights once (:func:`model.serving.prefill_weight_passes`):
    the busy time carries ``min(L_n / C, 1)`` of a pass, the request's own ``ceil(L_n / C)``."""
    busy = _prefill_busy(systems, p, 1.0)
    own = busy
    passes = _weight_passes(systems, p)
    if passes is not None:
        shared, alone = passes
        own, busy = busy + alone, busy + shared
    dp = p["attention_data_parallel"]
    if dp.any():  # the request's attention on its one rank (the worker's throughput still sees b)
        own = serving.prefill_own(own, p["new_tokens"], gpus=systems, dp_attention=dp,
                                  attention_flops=p["prefill_attention_coefficient"],
                                  peak_flops=p["prefill_flops_per_s"], prefill_efficiency=1.0)
    return busy, own


def _pool_busy(systems: np.ndarray, p: Mapping[str, np.ndarray], speed: np.ndarray) -> np.ndarray:
    """The replica's busy seconds per prefill in a disaggregated prefill pool, its compute ``speed``
    times the aggregated replica's (the pool's throughput), with its share of the weight pass."""
    busy = _prefill_busy(systems, p, speed)
    passes = _weight_passes(systems, p)
    return busy if passes is None else busy + passes[0]


def _weight_passes(systems: np.ndarray, p: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
    """The weight pass per prefill forward, ``(shared, alone)`` (:func:`model.serving.prefill_weight_passes`);
    None where no hardware sets ``prefill_chunk_tokens``."""
    if not np.isfinite(p["prefill_chunk_tokens"]).any():
        return None
    weights = (p["dense_bytes"] + p["routed_bytes"]) / (systems * p["effective_bandwidth"])
    return serving.prefill_weight_passes(p["new_tokens"], weights, p["prefill_chunk_tokens"])


def _prefill_busy(systems: np.ndarray, p: Mapping[str, np.ndarray], speed) -> np.ndarray:
    """Seconds the replica is busy per prefill, its compute ``speed`` times the aggregated
    replica's (1 there; ``prefill_stack_speed`` in a disaggregated prefill pool)."""
    compute = systems if np.all(speed == 1) else systems * speed
    busy = np.divide(p["prefill_compute_seconds"], compute)
    # the cached prefix loads back, or is recomputed where that is faster
    busy = _inplace(np.add, busy, np.minimum(p["prefix_load_seconds"] / np.minimum(systems, p["kv_shards"]),
                                             p["prefix_compute_seconds"] / compute))
    if (p["prefill_busy_s"] > 0).any():  # docs/model.md §10: the fixed work of a prefill, on the replica
        busy = _inplace(np.add, busy, p["prefill_busy_s"])
    return busy
