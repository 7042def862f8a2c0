"""Serving configurations as the benchmarks run them (docs/model.md §10): the equations, per point.

Pure numpy: every argument is a number or an array, all broadcast against each other, and every
function is elementwise (no Python loop over points).  :mod:`model.configurations` predicts the
measured DeepSeek-R1 runs with these functions, aggregated and disaggregated alike.

A *worker* is one model replica of ``g`` GPUs; a configuration is one aggregated worker, or a
prefill pool of ``w_p`` workers of ``g_p`` GPUs beside a decode pool of ``w_d`` workers of
``g_d`` GPUs, serving ``N`` users in a closed loop (each user sends its next request when the
last one finishes, as the benchmark's fixed concurrency does).  Units: bytes, seconds, tokens.

Equations (why each is the simplest form the data support is in ``docs/accuracy.md``):

- **Expert-parallel all-to-all** (:func:`ep_alltoall_bytes`, :func:`ep_alltoall_seconds`).  With
  EP width ``e > 1`` each MoE layer sends every token's hidden state to its ``k`` experts and back
  (dispatch + combine).  Per GPU and MoE layer, with ``t`` tokens on the GPU,
  ``bytes = 2 t k hidden act_bytes (e - 1) / e`` (the ``1/e`` that stays local moves nothing), over
  the scale-up link while ``e <= scaleup_domain`` and the scale-out link beyond it:
  ``a2a = moe_layers (bytes / link + (e - 1) ep_latency_s)`` (a message to each of the ``e - 1``
  peers per layer: the latency grows with the width, as the 24- and 48-GPU workers show).
- **Decode step** (:func:`decode_step`) of a worker with ``n`` requests, each verifying ``m``
  tokens per step (``m = draft + 1`` with MTP, else 1)::

      weights = dense + (1 - (1 - k/E) ** (n m)) routed          bytes read per step, whole worker
      kv_gpu  = n kv_request / (g if dp_attention else 1)          MLA's latent KV: replicated
                                                                   under TP, split under DP attention
      w_gpu   = (weights - attn) / g + (attn if dp_attention else attn / g)
                                                                   attention weights: whole on every
                                                                   DP-attention rank
      memory  = (w_gpu + kv_gpu) / (bandwidth eta_b)
      compute = n m flops_token / (g peak eta_c)                    peak of the precision the math runs at
      attn    = n m F_dec ctx / (g peak eta_a)                      decode attention (absorbed MLA)
      step    = (layers layer_overhead_s + max(memory, compute) + attn + a2a) (1 + mtp draft / layers)

  ``F_dec = 2 heads (2 kv_lora_rank + rope) layers`` FLOPs per verified token per context token
  (:func:`decode_attention_flops`: MLA decodes in the absorbed form, every head scoring and
  weighting the ``kv_lora_rank + rope`` latent of each cached token), ``ctx = L + O / 2`` the mean
  context; ``eta_a`` is fitted per GPU type (the attention kernels differ by vendor and
  generation).  It is serial to the weight and KV reads, not overlapped with them: a form that
  overlapped it (inside the max) fitted worse (docs/accuracy.md).

  The draft model (DeepSeek's MTP module: one layer) runs ``draft`` times per step, each about
  one layer's share of the step.
- **MTP** (:func:`accepted_tokens`, :func:`draft_counts`, :func:`fastest_draft`): a step with a chain of ``d`` drafts,
  each accepted with probability ``alpha`` once the ones before it are, emits
  ``a = (1 - alpha^(d + 1)) / (1 - alpha)`` tokens per request, so decode interactivity is
  ``a / step``.  A worker that picks its draft count per batch (TensorRT-LLM's attention-DP
  recipes) runs the ``d`` of ``1 .. draft`` that emits the most tokens per second at the batch: all
  ``draft`` while the step reads weights, fewer once it computes (each draft adds a verified
  token's FLOPs).
- **Prefill** (:func:`prefill_busy`): a worker of ``g`` GPUs is busy
  ``b = L (2 active + A L / 2) / (g peak eta_p) + prefill_busy_s + min(L / C, 1) W`` per request
  (:func:`prefill_weight_passes`: ``W`` the weights streamed once per forward of at most ``C``
  tokens, shared by the prompts packed into it); the request's own prefill takes
  ``ceil(L / C) W`` instead of the shared part (and, under DP attention, its attention on one
  rank: :func:`prefill_own`), and it waits a further ``prefill_latency_s`` that the worker spends
  on others (scheduling, launches).
- **Aggregated** (:func:`aggregated`, docs/model.md §8 with the split overhead): ``T = O step / a + N b``,
  ``queue = b (N - 1) b / (2 T) + burst (N - 1) b`` (the Poisson wait of §8 plus the share
  ``burst`` of the other requests' prefills that closed-loop arrivals, bunched, wait for),
  ``ttft = prefill_latency_s + b + queue + step / 2``, interactivity ``O / (T - b - b (N - 1) b / (2 T))``.
  A worker of ``g`` data-parallel-attention ranks that prefills on all ranks together
  (:func:`rank_balance_wait`) adds ``(min(g, N) - 1) / (2 X)`` to the queue, ``X = N / T`` its request rate.
- **Disaggregated** (:func:`disaggregated`): the decode batch per worker ``n`` is solved for
  (bisection) so that the closed loop holds ``N`` users:
  ``X = w_d n / D`` (Little's law on the decode pool, ``D = O step(n) / a + t_kv``),
  ``ttft = prefill_latency_s + b + t_kv + W_q`` with ``W_q = rho s / (2 (1 - rho))``, the M/D/1
  wait of the prefill pool (service ``s = b / w_p``, load ``rho = X s``; the optimizer's
  formula, docs/model.md §9), and ``X (ttft + D) = N``.  ``n`` is at most the worker's KV
  capacity (:func:`kv_capacity`) and, where the recipe caps it, ``ranks x`` :func:`recipe_batch`
  of the users per rank; the users beyond wait for a place before their first token.
- **Prefill pool** (:func:`pool_prefill_speed`, :func:`pool_latency`): a disaggregated prefill
  worker's busy time per request (its throughput, prompts batched together) is at
  ``eta_p x stack_speed x (dp_speed where it runs DP attention, else 1)``; a request's own prefill,
  one prompt's forward, at the GPU's ``eta_p`` as in aggregated serving; it waits
  ``share x factor[gpu] x (dp_latency where the workers run DP attention, else 1) x prefill_latency_s``
  there.
- **Requests in decode** (:func:`requests_in_decode`, Little's law): ``running = X (O - 1) tpot``
  on a measured run (``X`` its request rate); the users beyond it wait for a first token.  The
  calibration compares it with the decode batch the model solves for (docs/accuracy.md).
- **Percentiles** (:func:`ttft_percentile`, :func:`tpot_percentile`): the wait behind other
  prefills is taken as uniform on ``[0, 2 queue]``, so the q-quantile TTFT adds ``(2 q - 1) queue``
  to the median; a request's decode is interrupted by a Poisson number of other prefills, mean
  ``(N - 1) (1 - b / (2 T))`` (aggregated; none on a decode pool), so the q-quantile TPOT adds
  ``z_q b sqrt(mean) / O``.  p50 is the median formula above (today's where the new terms are off).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

PERCENTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99}
BISECTION_STEPS = 48


def ep_alltoall_bytes(tokens_per_gpu, experts_per_token, hidden_size, activation_bytes, ep):
    """Bytes one GPU sends per MoE layer (dispatch + combine) at EP width ``ep`` (0 at ep = 1)."""
    ep = np.asarray(ep, dtype=float)
    return 2.0 * tokens_per_gpu * experts_per_token * hidden_size * activation_bytes * (ep - 1.0) / ep


def ep_alltoall_seconds(tokens_per_gpu, experts_per_token, hidden_size, activation_bytes, ep, moe_layers,
                        scaleup_bytes_s, scaleup_domain, scaleout_bytes_s, ep_latency_s):
    """All-to-all time of one decode step: ``moe_layers (bytes / link + (ep - 1) ep_latency_s)``
    (a GPU exchanges a message with each of its ``ep - 1`` peers per layer; ``ep_latency_s`` per
    peer), the link being the scale-up one within ``scaleup_domain`` GPUs and the scale-out one
    beyond it; 0 where ``ep == 1``."""
    return ep_alltoall_of(experts_per_token, hidden_size, activation_bytes, ep, moe_layers, scaleup_bytes_s,
                          scaleup_domain, scaleout_bytes_s, ep_latency_s)(tokens_per_gpu)


def ep_alltoall_of(experts_per_token, hidden_size, activation_bytes, ep, moe_layers, scaleup_bytes_s,
                   scaleup_domain, scaleout_bytes_s, ep_latency_s) -> Callable[[Any], Any]:
    """:func:`ep_alltoall_seconds` as a function of the tokens per GPU, its link and per-peer
    latency chosen once."""
    ep = np.asarray(ep, dtype=float)
    link = np.where(ep <= scaleup_domain, scaleup_bytes_s, scaleout_bytes_s)
    peer_latency = (ep - 1.0) * ep_latency_s
    expert_parallel = ep > 1

    def seconds(tokens_per_gpu):
        moved = ep_alltoall_bytes(tokens_per_gpu, experts_per_token, hidden_size, activation_bytes, ep)
        return np.where(expert_parallel, moe_layers * (moved / link + peer_latency), 0.0)
    return seconds


def weight_bytes_read(n_tokens, dense_bytes, routed_bytes, expert_share):
    """Weight bytes a worker reads per step for ``n_tokens`` tokens: the dense part and the
    expected share ``1 - (1 - k/E) ** n_tokens`` of the routed experts."""
    return dense_bytes + (1.0 - (1.0 - expert_share) ** n_tokens) * routed_bytes


def decode_attention_flops(heads: Any, kv_lora_rank: Any, rope_dim: Any, layers: Any) -> Any:
    """FLOPs one decoded token spends on attention per token of its context, MLA in the absorbed
    form DeepSeek's decode kernels use: each of the ``heads`` query heads scores the cached latent
    (``kv_lora_rank + rope`` values) and weights the ``kv_lora_rank`` part, 2 FLOPs a
    multiply-add: ``2 heads (2 kv_lora_rank + rope) layers`` (DeepSeek-R1: 2 x 128 x 1,088 x 61
    = 16.99 M, about 1.5e11 FLOPs per token at 8,700 tokens of context, twice its
    ``2 x 37 B`` weight FLOPs)."""
    return 2.0 * heads * (2.0 * kv_lora_rank + rope_dim) * layers


def accepted_tokens(acceptance: Any, draft: Any) -> Any:
    """Tokens a decode step emits per request with a chain of ``draft`` MTP drafts, each accepted
    with probability ``acceptance`` once the ones before it are (the verified prefix plus the
    target's own token): ``(1 - a^(d + 1)) / (1 - a)`` (Leviathan, Kalman and Matias 2023, eq. 1);
    1 without drafts.  At ``a`` = 0.68: 1.68 with one draft, 2.46 with three.  Numbers, numpy
    arrays or xarray objects (the cost model's catalog arrays)."""
    return (1.0 - acceptance ** (draft + 1.0)) / (1.0 - acceptance)


def draft_counts(most: Any, per_batch: Any) -> Any:
    """The draft counts a worker may run, on a leading axis: ``1 .. max(most)`` where ``per_batch``
    (at most the worker's ``most``), the worker's own ``most`` in every row elsewhere (one row when
    no worker chooses).  TensorRT-LLM's DeepSeek-R1 recipes choose so under attention-DP: three
    drafts at 16-32 requests per rank, two at 64, one at 128-512 (InferenceX, docs/accuracy.md);
    their tensor-parallel-attention workers run three."""
    most = np.asarray(most, dtype=float)
    choosing = int(np.max(np.where(per_batch, most, 0.0), initial=0.0))
    counts = np.arange(1.0, max(choosing, 1) + 1.0).reshape((-1,) + (1,) * most.ndim)
    return np.where(per_batch, np.minimum(counts, most), most)


def fastest_draft(steps: Any, accepted: Any) -> tuple[Any, Any]:
    """The decode step and the tokens it emits per request, ``(step, accepted)``, at the candidate
    (leading axis: :func:`draft_counts`, with :func:`accepted_tokens` of each) that emits the most
    tokens per second, ``accepted / step``: all drafts while the step reads weights, fewer once it
    computes (each draft adds a verified token's FLOPs)."""
    steps, accepted = np.broadcast_arrays(steps, accepted)
    step, emitted = steps[0], accepted[0]
    for k in range(1, len(steps)):
        faster = accepted[k] * step > emitted * steps[k]
        step, emitted = np.where(faster, steps[k], step), np.where(faster, accepted[k], emitted)
    return step, emitted


def decode_step(n: Any, **terms: Any) -> Any:
    """Seconds of one decode step of a worker with ``n`` requests: :func:`decode_step_of` with these
    ``terms``, at ``n``."""
    return decode_step_of(**terms)(n)


def decode_step_of(*, gpus, dp_attention, ep, tokens_per_step, mtp_draft, kv_bytes_request, dense_bytes,
                   attention_bytes, routed_bytes, expert_share, flops_per_token, layers, moe_layers,
                   experts_per_token, hidden_size, activation_bytes, bandwidth_bytes_s, peak_flops,
                   bandwidth_efficiency, compute_efficiency, layer_overhead_s, ep_latency_s, scaleup_bytes_s,
                   scaleup_domain, scaleout_bytes_s, attention_flops_token=0.0,
                   attention_efficiency=1.0) -> Callable[[Any], Any]:
    """The decode step as a function of the requests ``n`` a worker holds, the terms that do not
    depend on ``n`` computed once (a disaggregated loop evaluates it ~50 times per prediction,
    :func:`disaggregated`).  With ``m`` tokens verified per request per step, ``g`` GPUs, ``dp``
    the data-parallel-attention width (``g`` under DP attention, else 1) and ``q = 1 - k / E``::

        memory(n)  = [(dense - attn) / g + attn dp / g + (1 - q^(n m)) routed / g + n kv / dp] / (BW eta_b)
        step(n)    = (1 + draft / layers) x (layers t_layer + max(memory(n), n m F / (g peak eta_c))
                     + n m F_dec ctx / (g peak eta_a) + EP all-to-all(n m / g))

    the reads of the dense weights, the touched routed experts and the KV cache against the
    step's FLOPs, plus the attention over the context and the all-to-all
    (:func:`ep_alltoall_seconds`).  ``tokens_per_step`` is ``m``; ``mtp_draft`` the draft depth
    where MTP runs (0 otherwise); ``attention_flops_token`` a verified token's attention FLOPs over
    its whole context (``F_dec ctx``; 0: no attention term) at ``attention_efficiency`` of the peak."""
    # each term below is the same floating-point expression, in the same order, as the step written
    # out in one piece (the fit's finite differences see the same numbers to the bit): only what
    # does not involve n is computed here
    dp = np.where(dp_attention, gpus, 1.0)
    # attention weights: sharded under TP, whole on every rank under DP attention
    attention_gpu = attention_bytes * dp / gpus
    memory_rate = bandwidth_bytes_s * bandwidth_efficiency
    compute_rate = gpus * peak_flops * compute_efficiency
    attention_rate = gpus * peak_flops * attention_efficiency
    fixed = layers * layer_overhead_s
    draft_share = 1.0 + mtp_draft / layers
    a2a_of = ep_alltoall_of(experts_per_token, hidden_size, activation_bytes, ep, moe_layers, scaleup_bytes_s,
                            scaleup_domain, scaleout_bytes_s, ep_latency_s)

    def step(n):
        tokens = n * tokens_per_step
        weights = weight_bytes_read(tokens, dense_bytes, routed_bytes, expert_share)
        kv_gpu = n * kv_bytes_request / dp
        weights_gpu = (weights - attention_bytes) / gpus + attention_gpu
        memory = (weights_gpu + kv_gpu) / memory_rate
        compute = tokens * flops_per_token / compute_rate
        a2a = a2a_of(tokens / gpus)
        # the attention of every verified token over its context: each GPU scores its heads (TP) or
        # its own requests (DP attention), n m F_dec ctx / g either way
        attention = tokens * attention_flops_token / attention_rate
        return (fixed + np.maximum(memory, compute) + attention + a2a) * draft_share
    return step


def prefill_busy(input_tokens, *, gpus, flops_per_token, attention_flops, peak_flops, prefill_efficiency,
                 prefill_busy_s):
    """Seconds a worker of ``gpus`` GPUs is busy prefilling one request of ``input_tokens``
    (no cached prefix): ``L (2 active + A L / 2) / (g peak eta_p) + prefill_busy_s``."""
    flops = input_tokens * (flops_per_token + attention_flops * input_tokens / 2.0)
    return flops / (gpus * peak_flops * prefill_efficiency) + prefill_busy_s


def prefill_weight_passes(input_tokens: Any, weight_seconds: Any, chunk_tokens: Any) -> tuple[Any, Any]:
    """The weights a prefill streams, as ``(busy, own)`` seconds to add: every forward of at most
    ``chunk_tokens`` tokens reads all the weights once (``weight_seconds``: an MoE prompt of a few
    hundred tokens already touches every expert).  Alone, a prompt takes ``ceil(L / C)`` forwards;
    a loaded worker packs prompts into full chunks, so its busy time per request carries
    ``min(L / C, 1)`` of a pass."""
    return (weight_seconds * np.minimum(input_tokens / chunk_tokens, 1.0),
            weight_seconds * np.ceil(input_tokens / chunk_tokens))


def prefill_own(busy: Any, input_tokens: Any, *, gpus: Any, dp_attention: Any,
                attention_flops: Any, peak_flops: Any, prefill_efficiency: Any) -> Any:
    """Seconds one request's own prefill takes: the busy time ``b``, and under DP attention its
    attention on its one rank instead of on all ``g`` GPUs:
    ``b + (1 - 1/g) A L^2 / 2 / (peak eta_p)``.  The worker's throughput still sees ``b`` (the other
    ranks prefill other requests meanwhile)."""
    attention = attention_flops * input_tokens ** 2 / 2.0 / (peak_flops * prefill_efficiency)
    return busy + np.where(dp_attention, (1.0 - 1.0 / gpus) * attention, 0.0)


def interruptions(n, busy, request_time):
    """Prefills of other requests that interrupt one request's decode in aggregated serving, on
    average: ``(n - 1) (1 - b / (2 T))`` (what the median interactivity already charges)."""
    return np.maximum((n - 1.0) * (1.0 - busy / (2.0 * request_time)), 0.0)


def tpot_percentile(tpot, busy, interrupting, output_tokens, q):
    """TPOT at quantile ``q``: the number of interrupting prefills taken as Poisson (mean
    ``interrupting``), normal for the quantile: ``tpot + z_q b sqrt(interrupting) / O``."""
    from scipy.special import ndtri

    return tpot + ndtri(q) * busy * np.sqrt(interrupting) / output_tokens


def kv_capacity(memory_bytes: Any, reserve_bytes: Any, weight_bytes_gpu: Any,
                kv_bytes_request: Any, gpus: Any, dp_attention: Any) -> Any:
    """Requests a worker's KV cache holds at once: the memory left for KV on one GPU,
    ``memory - weights_gpu - reserve`` (the reserve: activations, graphs, the stack's own), over one
    request's KV on that GPU (MLA's latent KV whole on every GPU under TP, split ``g`` ways under
    DP attention); 0 where the weights do not fit."""
    free = np.maximum(memory_bytes - weight_bytes_gpu - reserve_bytes, 0.0)
    return free / (kv_bytes_request / np.where(dp_attention, gpus, 1.0))


def recipe_batch(users_per_rank: Any) -> Any:
    """The largest batch a recipe of this kind names at or below ``users_per_rank``: a power of two or
    one and a half times one (1, 2, 3, 4, 6, 8, 12, ..., 128, 192, 256, 384, 512, 768, ...), at least 1.
    TensorRT-LLM's disaggregated DeepSeek-R1 recipes give their attention-DP decode workers such a
    ``max_batch_size`` per rank and serve a few more users than it (InferenceX: ``dep8_batch64`` at
    1,214 users on two 8-rank workers, 75.9 a rank; ``dep4_batch512`` at 10,860 on five 4-rank
    workers, 543; ``dep8_batch192``): 64, 512 and 192 here."""
    x = np.maximum(np.asarray(users_per_rank, dtype=float), 1.0)
    power = 2.0 ** np.floor(np.log2(x))
    # (1.5 is no batch: the half-step starts at 3)
    return np.where((power >= 2.0) & (1.5 * power <= x), 1.5 * power, power)


def rank_balance_wait(ranks: Any, rate: Any, users: Any = np.inf) -> Any:
    """Mean wait of a new request on a data-parallel-attention worker of ``ranks`` ranks that
    schedules prefills on all its ranks together (one request per rank, every rank stepping in
    lock-step): requests arriving at ``rate`` fill a round of ``ranks`` in ``ranks / rate``, and an
    arrival at a uniform place in the round waits for the ``ranks - 1`` others on average half
    of it, ``(ranks - 1) / (2 rate)``.  A round holds at most the ``users`` the worker serves (fewer
    users than ranks leave ranks idle, not waiting): ``(min(ranks, users) - 1) / (2 rate)``, 0 for
    one user."""
    with np.errstate(divide="ignore"):
        # (no negative wait where a replica admits no user)
        return (np.maximum(np.minimum(ranks, users), 1.0) - 1.0) / (2.0 * rate)


def aggregated(n, output_tokens, step_of, busy, latency, burst=0.0, capacity=np.inf, own=None,
               ranks=1.0):
    """One worker prefilling and decoding its own ``n`` users (docs/model.md §8, overhead split).

    ``step_of(r)`` is the decode step at ``r`` running requests and the tokens it emits per request,
    ``(step, accepted)`` (:func:`fastest_draft`).  At most ``capacity`` requests
    run (the KV cache, :func:`kv_capacity`); the other users wait for a place, ``(n - r) / X``
    more TTFT at the worker's request rate ``X``.  ``burst`` is the share of the other ``r - 1``
    requests' prefills an arrival waits for beyond the Poisson wait ``b (r - 1) b / (2 T)``:
    closed-loop users with similar lengths arrive together.  ``own`` is a request's own prefill
    time (:func:`prefill_own`; default ``busy``).  ``ranks`` is the worker's data-parallel-attention
    ranks where it schedules prefills on all of them together (:func:`rank_balance_wait`; 1
    otherwise).  Returns ``(requests_per_second, ttft,
    interactivity, queue)`` (queue: the mean wait behind other prefills and for a place, s).
    """
    own = busy if own is None else own
    users = np.asarray(n, dtype=float)
    n = np.minimum(users, np.maximum(capacity, 1.0))
    step, accepted = step_of(n)
    decode = output_tokens * step / accepted
    request_time = decode + n * busy
    poisson = busy * (n - 1.0) * busy / (2.0 * request_time)
    rate = n / request_time
    queue = poisson + burst * (n - 1.0) * busy + (users - n) / rate + rank_balance_wait(ranks, rate, users)
    ttft = latency + own + queue + 0.5 * step
    interactivity = output_tokens / (request_time - busy - poisson)
    return rate, ttft, interactivity, queue


def pool_latency(latency, share, factor, dp_attention=False, dp_factor=1.0):
    """Fixed latency a request sees in a disaggregated prefill pool: ``share x factor x latency``,
    the GPU type's aggregated prefill latency scaled by the pools' shared ``share`` and the GPU
    type's own ``factor`` (the router, the KV hand-off and the pool's scheduling differ per system:
    fitted 0.42 on B200 to 1.10 on H200, docs/accuracy.md), times ``dp_factor`` where the pool's
    workers run data-parallel attention (their ranks step together, every forward a collective of
    all of them: fitted 1.8, the same sign on every stack, docs/accuracy.md)."""
    return latency * share * factor * np.where(dp_attention, dp_factor, 1.0)


def pool_prefill_speed(stack_speed, dp_attention, dp_speed):
    """A disaggregated prefill worker's prefill throughput (its busy time per request) relative to
    the same GPUs prefilling beside decode: the stack's ``stack_speed``, times ``dp_speed`` where
    the worker runs data-parallel attention (each rank prefills its own requests' attention with no
    tensor-parallel all-reduce between the ranks).  A request's own prefill is not at this speed
    (:func:`model.configurations`: one prompt's forward gets none of the batching)."""
    return stack_speed * np.where(dp_attention, dp_speed, 1.0)


def requests_in_decode(rate, output_tokens, tpot):
    """Requests a worker or pool holds in decode, by Little's law: each of the ``rate`` requests
    per second spends ``(O - 1) tpot`` decoding after its first token, so
    ``running = rate (O - 1) tpot``.  On a measured run ``rate`` is output tok/s over ``O``;
    ``N - running`` users are then waiting for their first token (a prefill queue or a cap on
    the decode batch)."""
    return rate * (output_tokens - 1.0) * tpot


def md1_wait(rate, service):
    """Mean M/D/1 wait (Pollaczek–Khinchine) at arrival ``rate`` and service time ``service``;
    inf at or past saturation."""
    rho = rate * service
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(rho < 1.0, rho * service / (2.0 * (1.0 - rho)), np.inf)


def disaggregated(users, output_tokens, step_of, busy, latency, prefill_workers, decode_workers,
                  kv_seconds, burst=0.0, capacity=np.inf, own=None):
    """A prefill pool and a decode pool serving ``users`` in a closed loop.

    ``step_of(n)`` gives the decode step at ``n`` requests per decode worker (elementwise) and the
    tokens it emits per request, ``(step, accepted)`` (:func:`fastest_draft`), at
    most ``capacity`` of them (a decode worker's KV cache).  Solves for the decode batch per worker
    by bisection (module docstring); the users the loop does not hold in decode wait before their
    first token.  ``own`` is a request's own prefill time (default ``busy``).  Returns
    ``(requests_per_second, ttft, interactivity, queue, batch)``.
    """
    own = busy if own is None else own
    users = np.asarray(users, dtype=float)
    lo = np.zeros(np.broadcast_shapes(users.shape, np.shape(decode_workers), np.shape(capacity)))
    hi = np.minimum(users / decode_workers, np.maximum(capacity, 1.0)) + lo
    service = busy / prefill_workers
    # closed-loop arrivals bunch: a share ``burst`` of the other users' prefills on this worker
    bunched = burst * np.maximum(users / prefill_workers - 1.0, 0.0) * busy
    before_first = latency + own + kv_seconds  # a request's wait-free time to its first token

    def excess(batch):
        step, accepted = step_of(batch)
        decode = output_tokens * step / accepted + kv_seconds
        rate = decode_workers * batch / decode
        wait = md1_wait(rate, service) + bunched
        return rate * (before_first + wait + decode) - users

    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        over = excess(mid) > 0
        hi = np.where(over, mid, hi)
        lo = np.where(over, lo, mid)
    batch = 0.5 * (lo + hi)
    step, accepted = step_of(batch)
    decode = output_tokens * step / accepted + kv_seconds
    rate = decode_workers * batch / decode
    # Little's law on the loop: the users not in decode wait before their first token (equal to the
    # M/D/1 wait where the bisection balanced; the queue for the prefill pool or a KV place otherwise)
    queue = np.maximum(users / rate - (before_first + decode), 0.0)
    ttft = before_first + queue
    return rate, ttft, accepted / step, queue, batch


def benchmark_duration_excess(users: Any, requests_per_user: float, length_low: float) -> Any:
    """How much longer a closed-loop benchmark runs than its steady state needs for its requests,
    as a fraction of that: ``users`` clients send ``requests_per_user x users`` requests in all, each
    length drawn uniformly from ``[length_low, 1] x`` nominal, each client its next request as soon
    as the last ends.  When the last request has been handed out every client still has one in
    flight, its residual drawn from the equilibrium (length-biased) residual law ``G`` of the cycle
    ``C`` (scaled to mean 1); the run ends with the longest.  The clients' busy time adds up to the
    steady-state duration, so the run lasts ``E[max_N R] - E[R]`` longer, with ``E[R] = E[C^2] / 2``
    and ``E[max_N R] = int_0^hi (1 - G(x)^N) dx``.  The excess is that over ``requests_per_user``:
    0 for one client, 3.1% for 4, 5.9% for 1,024 (10 requests each, lengths 0.8-1.0).  A benchmark's
    reported throughput (its tokens over its duration) is the steady state over ``1 + excess``.
    Assumes the clients' cycles have drifted apart (uniform phases) by the end of the run."""
    users = np.asarray(users, dtype=float)
    mean = (1.0 + length_low) / 2.0
    lo, hi = length_low / mean, 1.0 / mean
    # G(x) = x below the shortest cycle lo; above it G rises quadratically to 1 at hi, where
    # int_lo^hi (1 - G^N) dx is done by 48-point Gauss-Legendre
    nodes, weights = np.polynomial.legendre.leggauss(48)
    x = lo + (hi - lo) * (nodes + 1.0) / 2.0
    g = lo + ((hi - lo) ** 2 - (hi - x) ** 2) / (2.0 * (hi - lo)) if hi > lo else np.ones_like(x)
    tail = ((hi - lo) / 2.0) * np.sum(weights * (1.0 - g ** users[..., None]), axis=-1)
    longest = lo - lo ** (users + 1.0) / (users + 1.0) + tail
    mean_residual = (1.0 + (hi - lo) ** 2 / 12.0) / 2.0
    return (longest - mean_residual) / requests_per_user


def ttft_percentile(ttft, queue, q):
    """TTFT at quantile ``q`` (>= 0.5) from the median ``ttft`` and its queueing part ``queue``:
    the wait behind the prefills ahead is taken as uniform on ``[0, 2 queue]`` (an arrival finds
    anywhere from none to all of them ahead), so its q-quantile is ``2 q queue``, ``(2 q - 1) queue``
    above the median."""
    return ttft + queue * (2.0 * q - 1.0)


def plan_columns(step, prefill_time, prefill_capacity, link_time, output_tokens, admitted, utilization,
                 quantile=0.5):
    """A prefill and a decode replica as the fleet plan buys them (docs/model.md §9): the optimizer's
    columns (:func:`optimize.columns.disaggregated_cells`) and :func:`model.configurations.plan_columns`
    both call this, so a plan's TTFT and capacity are the calibrated ones.

    ``link_time`` is the seconds this replica's link moves one request's KV (``a``).  Returns
    ``prefill_rate`` (requests/s: compute or link, whichever is slower), ``prefill_ttft``
    (``t_pf`` plus the M/D/1 wait at ``utilization``; at ``quantile`` > 0.5 that wait spread as
    :func:`ttft_percentile` spreads a queue), ``decode_rate`` (``N / (O step + a)``,
    capped by the link) and ``decode_interactivity`` (``1 / step``).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        link_rate = 1.0 / link_time
        prefill_rate = np.minimum(prefill_capacity, link_rate)
        u = utilization
        wait_per_service = u / (2.0 * (1.0 - u)) if u < 1 else np.inf
        wait = wait_per_service / prefill_rate
        prefill_ttft = prefill_time + wait
        if quantile > 0.5:
            prefill_ttft = ttft_percentile(prefill_ttft, wait, quantile)
        decode_rate = np.minimum(admitted / (output_tokens * step + link_time), link_rate)
        decode_interactivity = 1.0 / step
    return {"prefill_rate": prefill_rate, "prefill_ttft": prefill_ttft, "decode_rate": decode_rate,
            "decode_interactivity": decode_interactivity}
