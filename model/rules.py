"""The checks that tie fields of one config section together, declared as data (docs/model.md §7).

A field's own range is declared with the field (:func:`model.fields.spec`); a :class:`Rule` relates
fields of one section (a hardware entry, a model entry, the workload, the grid): the fields it
reads, where it applies, the predicate and the message.  :func:`model.validate.check_config`
applies them in the order listed, and the config reference (docs/config.md) lists them.  The
checks that loop over catalog entries (the selection's names, a model's decode rate on each
hardware, replica sizes of every selected pair, the power-law and physical-prefill inputs of
every selected pair) stay code in :mod:`model.validate`.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from model.errors import ConfigError
from model.fields import CHECKS, passes
from model.schema import TOKEN_TYPES, Attention, CacheSource

MIX_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Rule:
    """One check tying fields of a section together.

    ``holds(node)`` is False where the values break the rule; the error then names ``key`` (under the
    section's prefix), shows ``value(node)`` (default: the key's value) and says ``message``, whose
    ``{field}`` names are filled in from the section (and from ``facts(node)``).
    """

    key: str
    fields: tuple[str, ...]
    holds: Callable[[Any], bool]
    message: str
    applies: str = ""                            # where the rule applies, in words ("" everywhere)
    when: Callable[[Any], bool] | None = None    # the same as a predicate
    value: Callable[[Any], Any] | None = None
    facts: Callable[[Any], Mapping[str, Any]] | None = None


def apply_rules(node: Any, rules: Sequence[Rule], prefix: str) -> None:
    """Raise :class:`ConfigError` at the first rule of ``rules`` that ``node`` (the section at ``prefix``) breaks."""
    for rule in rules:
        if (rule.when is None or rule.when(node)) and not rule.holds(node):
            value = rule.value(node) if rule.value is not None else getattr(node, rule.key)
            names = {f: getattr(node, f, None) for f in rule.fields} | dict(rule.facts(node) if rule.facts else {})
            raise ConfigError(f"{prefix}.{rule.key}", value, rule.message.format(**names))


def _at_least(field: str, low: int) -> Callable[[Any], bool]:
    """Whether a section's ``field`` is set and >= ``low``."""
    return lambda node: getattr(node, field) is not None and getattr(node, field) >= low


HARDWARE_RULES: tuple[Rule, ...] = (
    Rule("min_systems", ("min_systems", "max_systems"), lambda h: h.min_systems <= h.max_systems,
         "must be <= max_systems ({max_systems})", "max_systems set", when=lambda h: h.max_systems is not None),
    Rule("power_law_a", ("power_law_a", "power_law_b"), lambda h: (h.power_law_a is None) == (h.power_law_b is None),
         "set power_law_a and power_law_b together, or neither (fit them)"),
    Rule("allowed_sizes", ("allowed_sizes",),
         lambda h: bool(list(h.allowed_sizes)) and all(s >= 1 for s in h.allowed_sizes)
         and sorted(set(h.allowed_sizes)) == list(h.allowed_sizes),
         "must be a non-empty increasing list of whole numbers >= 1, or null", "allowed_sizes set",
         when=lambda h: h.allowed_sizes is not None, value=lambda h: list(h.allowed_sizes)),
    Rule("decode_attention_efficiency", ("decode_attention_efficiency", "peak_dense_tflops"),
         lambda h: h.peak_dense_tflops is not None,
         "is a share of the peak: set peak_dense_tflops too, or leave it null", "decode_attention_efficiency set",
         when=lambda h: h.decode_attention_efficiency is not None),
)


def _gqa(m: Any) -> bool:
    return bool(m.attention == Attention.gqa)


def _mla(m: Any) -> bool:
    return bool(m.attention == Attention.mla)


def _moe(m: Any) -> tuple[Any, Any, Any]:
    return m.routed_experts, m.experts_per_token, m.routed_expert_params_b


MODEL_RULES: tuple[Rule, ...] = (
    Rule("active_params_b", ("active_params_b", "total_params_b"), lambda m: m.active_params_b <= m.total_params_b,
         "must be <= total_params_b ({total_params_b})"),
    # the attention layout's own fields
    *(Rule(field, (field,), _at_least(field, 1), "GQA needs a whole number >= 1",
           "attention=gqa", when=_gqa) for field in ("kv_heads", "head_dim")),
    Rule("sliding_window_layers", ("sliding_window_layers", "layers"),
         lambda m: 0 <= m.sliding_window_layers <= m.layers, "must be between 0 and layers ({layers})",
         "attention=gqa", when=_gqa),
    Rule("sliding_window", ("sliding_window", "sliding_window_layers"), _at_least("sliding_window", 1),
         "sliding-window layers need a window of >= 1 token", "attention=gqa, sliding_window_layers > 0",
         when=lambda m: _gqa(m) and m.sliding_window_layers > 0),
    *(Rule(field, (field,), _at_least(field, 0),
           "MLA needs a whole number >= 0", "attention=mla", when=_mla)
      for field in ("kv_lora_rank", "qk_rope_head_dim")),
    Rule("kv_lora_rank", ("kv_lora_rank", "qk_rope_head_dim"), lambda m: m.kv_lora_rank + m.qk_rope_head_dim >= 1,
         "kv_lora_rank + qk_rope_head_dim must be >= 1", "attention=mla", when=_mla),
    Rule("kv_bytes_per_token", ("kv_bytes_per_token",), lambda m: passes("> 0", m.kv_bytes_per_token),
         CHECKS["> 0"], "attention=explicit", when=lambda m: not _gqa(m) and not _mla(m)),
    # mixture of experts: all three fields or none, consistent with the total and active parameters
    Rule("routed_experts", ("routed_experts", "experts_per_token", "routed_expert_params_b"),
         lambda m: all(v is not None for v in _moe(m)) or all(v is None for v in _moe(m)),
         "MoE needs routed_experts, experts_per_token and routed_expert_params_b together",
         value=lambda m: list(_moe(m))),
    Rule("experts_per_token", ("experts_per_token", "routed_experts"),
         lambda m: 1 <= m.experts_per_token <= m.routed_experts,
         "must be between 1 and routed_experts ({routed_experts})",
         "MoE", when=lambda m: m.routed_experts is not None),
    Rule("routed_expert_params_b", ("routed_expert_params_b",), lambda m: passes("> 0", m.routed_expert_params_b),
         CHECKS["> 0"], "MoE", when=lambda m: m.routed_experts is not None),
    Rule("routed_expert_params_b", ("routed_expert_params_b", "total_params_b", "active_params_b",
                                    "experts_per_token", "routed_experts"),
         lambda m: m.active_params_b - m.experts_per_token / m.routed_experts * m.routed_expert_params_b >= 0
         and m.routed_expert_params_b <= m.total_params_b,
         "inconsistent with total_params_b and active_params_b: need active - k/E * routed >= 0 and routed <= total",
         "MoE", when=lambda m: m.routed_experts is not None),
)


def _mix_total(w: Any) -> float:
    return float(sum(getattr(w.mix, t) for t in TOKEN_TYPES))


WORKLOAD_RULES: tuple[Rule, ...] = (
    Rule("mix", ("mix",), lambda w: abs(_mix_total(w) - 1) <= MIX_TOLERANCE,
         "fractions must sum to 1 (within {tolerance:g}); they sum to {total:.9g}",
         facts=lambda w: {"tolerance": MIX_TOLERANCE, "total": _mix_total(w)}),
    Rule("mix.output", ("mix", "osl"), lambda w: w.mix.output > 0,
         "must be > 0 when workload.osl is null (OSL is derived from it)", "osl null", when=lambda w: w.osl is None,
         value=lambda w: w.mix.output),
)


def _cache(w: Any) -> str:
    cache: Any = getattr(w, "cache", CacheSource.mix)
    return str(cache.value if isinstance(cache, CacheSource) else cache)


def _curve_share(routing: str) -> Rule:
    """docs/model.md §12: the hit-rate curve holds one share in [0, 1] per capacity."""
    def holds(w: Any) -> bool:
        capacity, h = list(w.cache_curve.get("capacity_tokens", [])), list(w.cache_curve.get(routing, []))
        return bool(capacity) and len(h) == len(capacity) and all(0 <= v <= 1 for v in h)

    return Rule(f"cache_curve.{routing}", ("cache_curve",), holds,
                "must hold one share in [0, 1] per workload.cache_curve.capacity_tokens", "cache_curve set",
                when=lambda w: getattr(w, "cache_curve", None) is not None,
                value=lambda w: list(w.cache_curve.get(routing, [])))


# docs/model.md §12: workload.cache=trace needs a trace (that the file exists, the app layer checks)
PREFIX_CACHE_RULES: tuple[Rule, ...] = (
    _curve_share("prefix_aware"), _curve_share("random"),
    Rule("trace", ("cache", "trace", "cache_curve"),
         lambda w: getattr(w, "trace", None) is not None or getattr(w, "cache_curve", None) is not None,
         "give a request trace with prefix block ids (a Mooncake JSONL, e.g. "
         "reference/traces/mooncake-conversation.jsonl) for workload.cache=trace", "cache=trace",
         when=lambda w: _cache(w) == CacheSource.trace.value, value=lambda w: None),
    Rule("cache_replicas", ("cache_replicas",), lambda w: bool(list(getattr(w, "cache_replicas", [1]))),
         "give at least one replica count", value=lambda w: list(getattr(w, "cache_replicas", [1]))),
    Rule("cache_replicas", ("cache_replicas",),
         lambda w: all(passes(">= 1", r) for r in getattr(w, "cache_replicas", [1])), CHECKS[">= 1"],
         value=lambda w: next(r for r in w.cache_replicas if not passes(">= 1", r))),
)

GRID_RULES: tuple[Rule, ...] = (
    Rule("isl_points", ("isl_points",), lambda g: g.isl_points >= 0, "must be a whole number >= 0"),
    Rule("isl_min", ("isl_min", "isl_points"), lambda g: g.isl_min >= 1, "must be a whole number of tokens >= 1",
         "isl_points > 0", when=lambda g: g.isl_points > 0),
    Rule("isl_max", ("isl_max", "isl_min", "isl_points"), lambda g: g.isl_max >= g.isl_min,
         "must be >= grid.isl_min ({isl_min})", "isl_points > 0", when=lambda g: g.isl_points > 0),
    Rule("isl_extra", ("isl_extra",), lambda g: all(v >= 1 for v in g.isl_extra), "every ISL must be >= 1 token",
         value=lambda g: list(g.isl_extra)),
    Rule("isl_points", ("isl_points", "isl_extra"), lambda g: g.isl_points > 0 or len(g.isl_extra) > 0,
         "empty ISL grid: set isl_points >= 1 or list grid.isl_extra"),
    Rule("concurrency_min", ("concurrency_min",), lambda g: g.concurrency_min >= 1, "must be a whole number >= 1"),
    Rule("concurrency_step", ("concurrency_step",), lambda g: g.concurrency_step >= 1, "must be a whole number >= 1"),
    Rule("concurrency_max", ("concurrency_max", "concurrency_min"), lambda g: g.concurrency_max >= g.concurrency_min,
         "empty concurrency grid: must be >= grid.concurrency_min ({concurrency_min})"),
)

# Every section's rules, with its key prefix (<name>: each catalog entry), in the order they are applied
SECTION_RULES: dict[str, tuple[Rule, ...]] = {
    "hardware.<name>": HARDWARE_RULES, "models.<name>": MODEL_RULES,
    "workload": WORKLOAD_RULES + PREFIX_CACHE_RULES, "grid": GRID_RULES,
}
