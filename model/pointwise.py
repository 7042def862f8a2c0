"""The equations of docs/model.md §2 for one cell, in plain Python, straight from the config.

A second, independent implementation: no arrays, no broadcasting, no precomputed constants.
Tests check :func:`model.evaluate` against it and the benchmark times the vectorized model
against it.  Far too slow for grids; use it to check or explain a single number.
"""
from __future__ import annotations

import math
import statistics

from model import serving
from model.schema import HardwareSpec, ModelConfig, ModelSpec, WorkloadSpec


def kv_bytes_per_request(m: ModelSpec, isl: float, kv_bits: float | None = None) -> float:
    """KV cache of one request whose context is ``isl`` tokens, bytes (docs/model.md §2), at
    ``kv_bits`` per value (default: the model's; docs/model.md §10: a hardware's ``kv_cache_bits``)."""
    width = (m.kv_bits if kv_bits is None else kv_bits) / 8
    if m.attention.value == "gqa":
        full_layers = m.layers - m.sliding_window_layers
        per_token = 2 * full_layers * m.kv_heads * m.head_dim * width
        window = 0.0
        if m.sliding_window_layers:
            window = 2 * m.sliding_window_layers * m.kv_heads * m.head_dim * width \
                * min(m.sliding_window, isl)
        return isl * per_token + window
    if m.attention.value == "mla":
        return isl * m.layers * (m.kv_lora_rank + m.qk_rope_head_dim) * width
    return isl * m.kv_bytes_per_token


def weight_bytes(m: ModelSpec) -> float:
    """Weight bytes of one replica: ``weight_gb``, else total parameters at ``weight_bits``."""
    return m.weight_gb * 1e9 if m.weight_gb is not None else m.total_params_b * 1e9 * m.weight_bits / 8


def _round_up(systems: float, hw: HardwareSpec) -> float:
    if hw.allowed_sizes is None:
        return systems
    for size in hw.allowed_sizes:
        if size >= systems:
            return float(size)
    return math.inf


def _base_rate(cfg: ModelConfig, model: str, hardware: str) -> float | None:
    """I0 in tok/s: measured, or from the power law on resident-weight hardware, else None."""
    hw, m = cfg.hardware[hardware], cfg.models[model]
    if hardware in m.interactivity:
        rate = m.interactivity[hardware].tok_s
    elif hw.weights_resident:
        if hw.power_law_a is not None:
            a, b = hw.power_law_a, hw.power_law_b
        else:
            pts = [(math.log(s.active_params_b), math.log(s.interactivity[hardware].tok_s))
                   for s in cfg.models.values()
                   if hardware in s.interactivity and s.interactivity[hardware].measured]
            mx = sum(x for x, _ in pts) / len(pts)
            my = sum(y for _, y in pts) / len(pts)
            b = -sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)
            a = math.exp(my + b * mx)
        rate = a / m.active_params_b ** b
    else:
        return None
    return rate * hw.interactivity_multiplier


def kv_shards(m: ModelSpec, hw: HardwareSpec) -> float:
    """Over how many systems a replica's KV splits at most (docs/model.md §8): all of them under pipeline
    parallelism or data-parallel attention, ``kv_heads`` under tensor parallelism (MLA: 1)."""
    if hw.parallelism.value != "tensor" or hw.attention_data_parallel:
        return math.inf
    return {"gqa": float(m.kv_heads or 0), "mla": 1.0}.get(m.attention.value, math.inf)


def systems_needed(W: float, K: float, capacity: float, shards: float, attention: float = 0.0) -> tuple[float, bool]:
    """Fewest systems whose memory holds W / S + K / min(S, shards) each, and whether any does.

    Under dp-attention (docs/model.md §10) each holds the ``attention`` bytes whole and the KV
    splits over all of them (``shards`` inf): ``(W - A) / S + A + K / S``; none does where
    ``capacity <= A`` (the need is then given as if A split, ``ceil((W + K) / capacity)``)."""
    if attention > 0:
        if capacity <= attention:
            return float(math.ceil((W + K) / capacity)), False
        return float(math.ceil((W - attention + K) / (capacity - attention))), True
    s = float(math.ceil((W + K) / capacity))
    if s <= shards:
        return s, True
    spare = capacity - K / shards
    if spare <= 0:
        return s, False
    return float(math.ceil(W / spare)), True


def prefill_flops(m: ModelSpec, cached: float, new: float) -> float:
    """FLOPs to prefill ``new`` tokens after ``cached`` ones (docs/model.md §8)."""
    sliding = m.sliding_window_layers if m.attention.value == "gqa" else 0
    per_pair = 2 * m.attention_heads * (m.qk_head_dim + m.v_head_dim)
    seen = cached + new / 2
    window = min(m.sliding_window, seen) if sliding else 0.0
    return new * (2 * m.active_params_b * 1e9 + per_pair * (m.layers - sliding) * seen
                  + per_pair * sliding * window)


def fp4_math(m: ModelSpec, hw: HardwareSpec) -> bool:
    """Whether the math runs at FP4 (docs/model.md §10): the hardware runs FP4 math, the checkpoint
    is FP4 and the GPU has FP4 units."""
    return bool(hw.fp4_compute and m.fp4_checkpoint and hw.peak_fp4_tflops is not None)


def math_peak_tflops(m: ModelSpec, hw: HardwareSpec) -> float | None:
    """TFLOP/s of the precision the math runs at (docs/model.md §10): the FP4 peak where it runs at
    FP4 (:func:`fp4_math`), the dense FP8 peak otherwise."""
    if fp4_math(m, hw):
        return hw.peak_fp4_tflops
    return hw.peak_dense_tflops


def prefill_efficiency_at_math(m: ModelSpec, hw: HardwareSpec) -> float:
    """The prefill efficiency at the precision the math runs at: ``prefill_efficiency`` times
    ``fp4_prefill_speed`` where it runs at FP4 (:func:`fp4_math`)."""
    if fp4_math(m, hw):
        return hw.prefill_efficiency * hw.fp4_prefill_speed
    return hw.prefill_efficiency


def ep_alltoall_s(m: ModelSpec, hw: HardwareSpec, tokens: float, systems: float) -> float:
    """docs/model.md §10 EP all-to-all of one decode step: ``tokens`` spread over ``systems`` GPUs at
    width ``e = min(ep, systems)``; per GPU and MoE layer ``2 t k hidden bytes (e - 1) / e`` over the
    scale-up link within ``scaleup_domain`` GPUs, the scale-out one beyond, plus ``ep_latency_s`` per
    peer (``e - 1`` of them)."""
    e = min(float(hw.ep), systems)
    if e <= 1:
        return 0.0
    sent = 2 * (tokens / systems) * m.experts_per_token * m.hidden_size * hw.ep_activation_bytes * (e - 1) / e
    within = hw.scaleup_domain is not None and e <= hw.scaleup_domain
    link = (hw.scaleup_gb_s if within else hw.interconnect_gb_s) * 1e9
    return m.moe_layers * (sent / link + (e - 1) * hw.ep_latency_s)


def attention_flops(m: ModelSpec, cached: float, new: float) -> float:
    """The attention part of :func:`prefill_flops`: the ``new`` tokens meeting the earlier ones."""
    sliding = m.sliding_window_layers if m.attention.value == "gqa" else 0
    per_pair = 2 * m.attention_heads * (m.qk_head_dim + m.v_head_dim)
    seen = cached + new / 2
    window = min(m.sliding_window, seen) if sliding else 0.0
    return new * (per_pair * (m.layers - sliding) * seen + per_pair * sliding * window)


def dp_own(m: ModelSpec, hw: HardwareSpec, own: float, cached: float, new: float, systems: float) -> float:
    """docs/model.md §10: a request's own prefill under dp-attention, its attention on one rank
    (:func:`model.serving.prefill_own` with the new tokens' attention FLOPs as ``A L_n^2 / 2``)."""
    if not hw.attention_data_parallel:
        return own
    coefficient = 2 * attention_flops(m, cached, new) / new ** 2 if new > 0 else 0.0
    return float(serving.prefill_own(own, new, gpus=systems, dp_attention=True, attention_flops=coefficient,
                                     peak_flops=math_peak_tflops(m, hw) * 1e12 * prefill_efficiency_at_math(m, hw),
                                     prefill_efficiency=1.0))


def decode_attention_s(m: ModelSpec, hw: HardwareSpec, context: float, rate: float | None) -> float:
    """docs/model.md §10: seconds one verified decode token's attention over ``context`` tokens costs
    one GPU, ``F ctx / (peak eta_a)``: MLA in the absorbed form, ``F = 2 heads (2 kv_lora_rank +
    rope) layers``; other models ``2 heads (qk_head_dim + v_head_dim)`` per layer and context token,
    a GQA model's sliding-window layers over at most ``window`` tokens.  0 without
    ``decode_attention_efficiency`` or with a measured decode rate; NaN where the attention shape is
    unknown."""
    if hw.decode_attention_efficiency is None or rate is not None:
        return 0.0
    peak = math_peak_tflops(m, hw)
    mla = m.attention.value == "mla"
    shape = (m.attention_heads, m.kv_lora_rank, m.qk_rope_head_dim) if mla else \
        (m.attention_heads, m.qk_head_dim, m.v_head_dim)
    if peak is None or None in shape:
        return math.nan
    if mla:
        flops = 2 * m.attention_heads * (2 * m.kv_lora_rank + m.qk_rope_head_dim) * m.layers * context
    else:
        sliding = m.sliding_window_layers if m.attention.value == "gqa" else 0
        window = min(m.sliding_window, context) if sliding else 0.0
        flops = 2 * m.attention_heads * (m.qk_head_dim + m.v_head_dim) * ((m.layers - sliding) * context
                                                                          + sliding * window)
    return flops / (peak * 1e12 * hw.decode_attention_efficiency)


def streamed_all(m: ModelSpec, W: float, rate: float | None) -> float:
    """Weight bytes a prefill forward streams: the dense part and every routed expert (an MoE
    prompt touches them all), at the checkpoint's bytes per parameter; none where the decode rate
    is measured (weights resident on chip)."""
    if rate is not None:
        return 0.0
    if m.routed_experts is None:
        return W * m.active_params_b / m.total_params_b
    dense = m.active_params_b - m.experts_per_token / m.routed_experts * m.routed_expert_params_b
    return W * (dense + m.routed_expert_params_b) / m.total_params_b


def prefill_busy(m: ModelSpec, hw: HardwareSpec, w: WorkloadSpec, L: float, cached: float, systems: float,
                 kv_bits: float | None, speed: float = 1.0) -> float:
    """Seconds a replica of ``systems`` is busy per prefill (docs/model.md §8, §10), its compute
    ``speed`` times the aggregated replica's (``prefill_stack_speed`` in a disaggregated pool)."""
    peak = math_peak_tflops(m, hw)
    flops = prefill_flops(m, cached, L - cached)
    busy = flops / (systems * peak * 1e12 * prefill_efficiency_at_math(m, hw) * speed)
    if w.kv_tier.value == "host" and hw.kv_load_bandwidth_gb_s is not None and cached > 0:
        load = kv_bytes_per_request(m, cached, kv_bits) / (min(systems, kv_shards(m, hw)) * hw.kv_load_bandwidth_gb_s
                                                           * 1e9)
        # a stack loads the cached prefix back only where that beats recomputing it
        recompute = (prefill_flops(m, 0.0, L) - flops) / (systems * peak * 1e12 * prefill_efficiency_at_math(m, hw)
                                                          * speed)
        busy += min(load, recompute)
    return busy + hw.prefill_busy_s  # docs/model.md §10: fixed prefill work on the replica (overhead: latency)


def cell(cfg: ModelConfig, model: str, hardware: str, isl: int, concurrency: int) -> dict:
    """Every docs/model.md §2 and §8 quantity of one (model, hardware, ISL, concurrency) cell."""
    hw, m, w = cfg.hardware[hardware], cfg.models[model], cfg.workload
    n, L = float(concurrency), float(isl)
    asked = n
    osl = w.osl if w.osl is not None else L * w.mix.output / (1 - w.mix.output)
    context = L + osl / 2 if w.decode_context.value == "mean" else L
    W = weight_bytes(m)
    kv_bits = hw.kv_cache_bits  # docs/model.md §10: the stack's KV bits (null: the model's)
    per_request = kv_bytes_per_request(m, context, kv_bits)
    K = n * per_request
    usable = hw.memory_gb * 1e9 * hw.usable_memory_fraction
    capacity = usable - hw.memory_reserve_gb * 1e9  # docs/model.md §10: the stack's reserve holds no KV
    shards = kv_shards(m, hw)
    rate = _base_rate(cfg, model, hardware)
    # dp-attention (docs/model.md §10): every GPU holds the whole attention weights, the rest split over the S GPUs
    A = W * m.attention_params_b / m.total_params_b \
        if hw.attention_data_parallel and m.attention_params_b is not None and rate is None else 0.0
    need, kv_fits = systems_needed(W, K, capacity, shards, A)
    raw = max(float(hw.min_systems), need)
    built = _round_up(raw, hw)
    s0_raw = max(float(hw.min_systems), systems_needed(W, 0.0, capacity, math.inf, A)[0])
    s0 = _round_up(s0_raw, hw) if math.isfinite(_round_up(s0_raw, hw)) else s0_raw
    max_systems = math.inf if hw.max_systems is None else hw.max_systems
    buildable = math.isfinite(built) and built <= max_systems and kv_fits
    if not buildable and hw.max_systems is not None and hw.min_systems == hw.max_systems:
        # a pinned replica admits the requests whose KV fits; the others wait (docs/model.md §8)
        pinned = float(hw.max_systems)
        fit = math.floor(serving.kv_capacity(usable, hw.memory_reserve_gb * 1e9, (W - A) / pinned + A, per_request,
                                             min(pinned, shards), True))
        if 1 <= fit < n:
            n, built, raw, buildable = float(fit), pinned, pinned, True
            K = n * per_request
    ep = 1 if rate is not None or m.routed_experts is None else hw.ep
    ep_known = ep <= 1 or None not in (m.hidden_size, m.moe_layers, hw.interconnect_gb_s)
    attention = decode_attention_s(m, hw, context, rate)
    feasible = buildable and L <= m.max_context and ep_known and not math.isnan(attention)
    systems = built if math.isfinite(built) else raw
    result = {"weight_bytes": W, "kv_cache_bytes": asked * per_request, "memory_bytes": W + asked * per_request,
              "osl": osl, "systems": systems, "systems_for_weights": s0, "layers_per_system": m.layers / systems,
              "feasible": feasible, "admitted_requests": n}
    peak = math_peak_tflops(m, hw)
    bandwidth = hw.memory_bandwidth_tb_s * 1e12 * hw.bandwidth_efficiency
    kv_read = K / min(systems, shards)  # KV bytes one system reads per step

    def step_at(draft: int) -> float:
        """The time per output token of a request with ``draft`` MTP drafts per step."""
        compute = 0.0
        if rate is not None:
            t_base, streamed = 1 / rate, 0.0
        else:
            t_base = hw.step_overhead_s + m.layers * hw.layer_overhead_s
            if m.routed_experts is not None:
                touched = 1 - (1 - m.experts_per_token / m.routed_experts) ** (n * (1 + draft))
                dense = m.active_params_b - m.experts_per_token / m.routed_experts * m.routed_expert_params_b
                params = dense + touched * m.routed_expert_params_b
            else:
                params = m.active_params_b
            streamed = W * params / m.total_params_b
            # dp-attention: every GPU reads the whole attention weights (the rest split over the S GPUs)
            streamed += (systems - 1) * A
            if hw.peak_dense_tflops is not None:
                flops = n * (1 + draft) * 2 * m.active_params_b * 1e9
                compute = flops / (systems * peak * 1e12 * hw.compute_efficiency)
        step = (t_base + hw.hop_latency_s * max(0.0, systems - s0) + streamed / (systems * bandwidth)
                + kv_read / bandwidth)
        step = max(step, compute)
        # docs/model.md §10: the attention of the n (1 + draft) verified tokens, spread over the replica's GPUs
        step += n * (1 + draft) * attention / systems
        if ep > 1 and ep_known:
            step += ep_alltoall_s(m, hw, n * (1 + draft), systems)
        # MTP: the draft costs one layer's share per drafted token; a step emits accepted tokens per request
        accepted = (hw.accepted_tokens_per_step if hw.mtp_acceptance is None
                    else serving.accepted_tokens(hw.mtp_acceptance, float(draft)))
        return step * (1 + draft / m.layers) / accepted

    most = hw.mtp_draft_tokens
    # a hardware marked mtp_draft_per_batch runs the count of 1..most that emits the most tokens/s here
    choosing = hw.mtp_draft_per_batch and hw.mtp_acceptance is not None and most > 1
    step = min(step_at(d) for d in (range(1, most + 1) if choosing else [most]))
    cached = L * w.mix.cache_read / (1 - w.mix.output)
    new = L - cached
    result.update(cached_tokens=cached, new_tokens=new, prefix_kv_bytes=kv_bytes_per_request(m, cached, kv_bits))
    if hw.prefill_mode.value == "ratio":
        interactivity = 1 / step
        cache_read = hw.cache_read_ratio * interactivity
        prefill = ttft = L / cache_read
        request_time = L / cache_read + osl / interactivity
        capacity = n / prefill
        result.update(pool_prefill_time=prefill, pool_prefill_capacity=capacity)
    else:
        flops = prefill_flops(m, cached, new)
        result["prefill_flops"] = flops
        # docs/model.md §10: each forward of at most prefill_chunk_tokens new tokens streams the weights once
        chunk = math.inf if hw.prefill_chunk_tokens is None else hw.prefill_chunk_tokens
        pass_s = streamed_all(m, W, rate) / (systems * bandwidth)
        shared, alone = (float(v) for v in serving.prefill_weight_passes(new, pass_s, chunk))
        busy = prefill_busy(m, hw, w, L, cached, systems, kv_bits)
        own, busy = dp_own(m, hw, busy + alone, cached, new, systems), busy + shared
        # docs/model.md §10: the same replica in a disaggregated prefill pool, its throughput at the
        # pool's speed, a request's own prefill the replica's
        pool_busy = prefill_busy(m, hw, w, L, cached, systems, kv_bits, hw.prefill_stack_speed)
        result.update(pool_prefill_time=own + hw.pool_latency_share * hw.prefill_overhead_s,
                      pool_prefill_capacity=1 / (pool_busy + shared))
        request_time = osl * step + n * busy
        queued = busy * (1 + (n - 1) * busy / (2 * request_time))
        interactivity = osl / (request_time - queued)
        prefill = hw.prefill_overhead_s + own
        ttft = hw.prefill_overhead_s + queued + (own - busy) + step / 2
        # docs/model.md §10: the DP-attention ranks prefill a round together
        rank_wait = float(serving.rank_balance_wait(systems if hw.attention_data_parallel else 1.0,
                                                    n / request_time, n))
        ttft += rank_wait
        cache_read = L / prefill
        capacity = 1 / busy
    rps = n / request_time
    ttft += (asked - n) / rps
    throughput = rps * (L + osl)
    output_throughput = rps * osl
    cost_per_hour = systems * hw.price_per_hour
    nan = math.nan
    max_ttft = math.inf if cfg.sla.max_ttft_s is None else cfg.sla.max_ttft_s
    # docs/model.md §10: both SLA kinds at sla.percentile (model.equations.at_percentile)
    q = {"p50": 0.5, "p90": 0.9, "p99": 0.99}[str(getattr(cfg.sla.percentile, "value", cfg.sla.percentile))]
    sla_interactivity, sla_ttft = interactivity, ttft
    if hw.prefill_mode.value != "ratio" and q > 0.5:
        queue = busy * (n - 1) * busy / (2 * request_time) + rank_wait
        interruptions = max((n - 1) * (1 - busy / (2 * request_time)), 0.0)
        z = statistics.NormalDist().inv_cdf(q)
        sla_interactivity = 1 / (1 / interactivity + z * busy * math.sqrt(interruptions) / osl)
        sla_ttft = ttft + (2 * q - 1) * queue
    result.update(
        step_time=step, interactivity=interactivity, cache_read_throughput=cache_read,
        prefill_time=prefill, ttft=ttft, implied_cache_read_ratio=cache_read / interactivity,
        prefill_capacity=capacity,
        request_time=request_time, requests_per_second=rps, throughput=throughput,
        output_throughput=output_throughput, cost_per_hour=cost_per_hour,
        capex=systems * hw.capex_per_system if hw.capex_per_system is not None else nan,
        cost_per_mtok=cost_per_hour / (throughput * 3600 / 1e6),
        cost_per_output_mtok=cost_per_hour / (output_throughput * 3600 / 1e6),
        meets_sla=feasible and sla_interactivity >= cfg.sla.min_interactivity and sla_ttft <= max_ttft,
    )
    if w.price_sheet is not None:
        price = sum(w.mix[k] * w.price_sheet[k] for k in ("cache_read", "cache_write", "input", "output"))
        result.update(price_per_mtok=price, margin_per_mtok=price - result["cost_per_mtok"])
    if not feasible:
        for key in ("step_time", "interactivity", "cache_read_throughput", "prefill_time", "ttft", "prefill_capacity",
                    "pool_prefill_time", "pool_prefill_capacity",
                    "implied_cache_read_ratio", "request_time", "requests_per_second", "throughput",
                    "output_throughput", "cost_per_hour", "capex", "cost_per_mtok", "cost_per_output_mtok",
                    "margin_per_mtok"):
            if key in result:
                result[key] = nan
    return result
