"""SPEC §2 per cell (model, hardware, ISL L, concurrency N): the elementwise kernel.

Works on numpy blocks that broadcast against each other; see :mod:`model.engine`.  An output is
computed only if the caller asked for it (it is a key of ``out``) or another output needs it.
Operations run in place where possible: the kernel is bound by memory writes, so every
temporary it avoids is time saved.

Equations (units: bytes, seconds, tokens, $):

- ``K = N * kv_bytes_per_request(L)``; ``memory = W + K``
- ``S = max(ceil(memory / capacity), min_systems)``, rounded up to an allowed size;
  infeasible if none fits, ``S > max_systems`` or ``L > max_context``
- ``step = max(t_base + hop * (S - S0) + (streamed(N) + K) / (S * B), N * compute_seconds / S)``;
  ``I = 1 / step`` (``S >= S0`` always, so SPEC's ``max(0, S - S0)`` is ``S - S0``).  On the
  GPU path ``t_base = step_overhead_s + layers * layer_overhead_s`` and ``streamed(N)`` is the
  MoE-aware weight read of :func:`model.parameters.streamed_weight_bytes`; with a measured rate
  ``t_base = 1 / I0``, ``streamed = 0`` and ``compute_seconds = 0``.
- ``R = cache_read_ratio * I``; ``T = L / R + O / I = (L / cache_read_ratio + O) * step``
- ``requests_per_second = N / T``; ``X = N * (L + O) / T``; ``output_throughput = N * O / T``
- ``cost_per_hour = S * price_per_hour``; ``cost_per_mtok = cost_per_hour / (X * 3600 / 1e6)``;
  ``cost_per_output_mtok = cost_per_mtok * (L + O) / O``

Infeasible cells carry NaN systems into the rate equations, so every rate and cost is NaN
there without a separate masking pass; ``systems``, ``layers_per_system`` and memory stay filled.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

MTOK_PER_HOUR = 3600 / 1e6
ALLOWED_SIZE = "allowed_size_"

INPUTS = (
    "concurrent_requests", "kv_bytes_per_request", "weight_bytes", "memory_capacity",
    "sizes_restricted", "max_buildable", "context_ok", "step_constant", "hop_latency_s",
    "streamed_bytes", "compute_seconds", "min_systems", "effective_bandwidth", "cache_read_ratio", "time_per_step",
    "tokens_per_request", "output_tokens", "output_share", "price_per_hour", "capex_per_system",
    "layers", "min_interactivity", "price_per_mtok",
)


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


def cell_kernel(p: Mapping[str, np.ndarray], out: Mapping[str, np.ndarray]) -> None:
    """Fill the requested outputs of one block from the inputs ``p`` (see module docstring)."""
    n = p["concurrent_requests"]
    kv = n * p["kv_bytes_per_request"]
    raw = kv + p["weight_bytes"]
    raw = _inplace(np.divide, raw, p["memory_capacity"])
    np.ceil(raw, out=raw)
    if (p["min_systems"] > 1).any():
        raw = _inplace(np.maximum, raw, p["min_systems"])
    built = _round_up(raw, p)
    feasible = np.less_equal(built, p["max_buildable"], out=out.get("feasible"))
    feasible = _inplace(np.logical_and, feasible, p["context_ok"])
    # systems: the built size, or the memory need where no allowed size fits
    systems = built if built is raw else np.where(np.isfinite(built), built, raw)
    if "systems" in out:
        np.copyto(out["systems"], systems, casting="unsafe")
    if "layers_per_system" in out:
        np.divide(p["layers"], systems, out=out["layers_per_system"])
    if not out.keys() - {"systems", "layers_per_system", "feasible"}:
        return
    if not feasible.all():
        # NaN systems make every rate and cost below NaN on infeasible cells
        systems = np.where(feasible, systems, np.nan)

    step = np.multiply(systems, p["hop_latency_s"], out=out.get("step_time"))
    step = _inplace(np.add, step, p["step_constant"])  # t_base - hop * S0
    kv = _inplace(np.add, kv, p["streamed_bytes"])
    kv = _inplace(np.divide, kv, systems * p["effective_bandwidth"])
    step = _inplace(np.add, step, kv)
    if (p["compute_seconds"] > 0).any():
        bound = n * p["compute_seconds"]
        step = _inplace(np.maximum, step, _inplace(np.divide, bound, systems))
    interactivity = np.divide(1.0, step, out=out.get("interactivity"))
    if "cache_read_throughput" in out:
        np.multiply(interactivity, p["cache_read_ratio"], out=out["cache_read_throughput"])
    request_time = np.multiply(step, p["time_per_step"], out=out.get("request_time"))
    rps = np.divide(n, request_time, out=out.get("requests_per_second"))
    throughput = np.multiply(rps, p["tokens_per_request"], out=out.get("throughput"))
    if "output_throughput" in out:
        np.multiply(rps, p["output_tokens"], out=out["output_throughput"])
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
    if "meets_sla" in out:
        np.greater_equal(interactivity, p["min_interactivity"], out=out["meets_sla"])
