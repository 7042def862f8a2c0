"""The cost model's value checks (docs/model.md §7): :func:`check_config` of a :class:`~model.schema.ModelConfig`.

Types were checked by the structured-config schema while Hydra composed the config; this pass
checks values.  Per-field ranges are read from the schema (:func:`check_fields`, from each
field's declared ``check``); rules that tie fields together are written out below.  The first
problem found raises :class:`~model.errors.ConfigError`, whose message is one line naming the
key, the value and what is allowed.  Nothing here reads a file or knows Hydra: the apps' full
pass (resolve, these checks, files and app settings, read-only) is :func:`model.app.validate.validate`.
"""
from __future__ import annotations

import dataclasses
import itertools
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from model.errors import ConfigError
from model.fields import CHECKS, field_docs, passes
from model.pointwise import weight_bytes
from model.schema import (
    TOKEN_TYPES,
    Attention,
    CacheSource,
    GridSpec,
    HardwareSpec,
    InteractivityPoint,
    ModelConfig,
    ModelSpec,
    PrefillMode,
    PriceSheet,
    SlaSpec,
    TokenMix,
    WorkloadSpec,
)

MIX_TOLERANCE = 1e-6


def check_value(key: str, value: Any, rule: str, optional: bool = False) -> None:
    """Raise :class:`ConfigError` unless ``value`` meets ``rule`` (a key of ``CHECKS``);
    ``None`` passes where ``optional``."""
    if value is None and optional:
        return
    if not passes(rule, value):
        raise ConfigError(key, value, CHECKS[rule] + (", or null" if optional else ""))


def check_fields(node: Any, schema: type, prefix: str) -> None:
    """Check every field of ``node`` (an instance of ``schema``, or a config composed from it)
    against the range its schema field declares."""
    for name, doc in field_docs(schema).items():
        if doc.check is not None and hasattr(node, name):
            default_is_null = {f.name: f for f in dataclasses.fields(schema)}[name].default is None
            check_value(f"{prefix}.{name}", getattr(node, name), doc.check, optional=default_is_null)


def check_known(key: str, name: Any, catalog: Mapping[str, Any], what: str) -> None:
    """Raise :class:`ConfigError` unless ``name`` is a key of ``catalog`` (a ``what``: "model", "hardware")."""
    if name not in catalog:
        raise ConfigError(key, name, f"unknown {what}; allowed: {', '.join(catalog.keys())}")


def _names(key: str, names: Iterable[str], catalog: Mapping[str, Any], what: str) -> None:
    names = list(names)
    if not names:
        raise ConfigError(key, names, f"select at least one {what}")
    for name in names:
        check_known(key, name, catalog, what)
    if len(set(names)) != len(names):
        raise ConfigError(key, names, f"each {what} at most once")


def validate_hardware(name: str, hw: HardwareSpec) -> None:
    """Check one hardware entry (declared ranges, then the rules tying its fields)."""
    k = f"hardware.{name}"
    check_fields(hw, HardwareSpec, k)
    if hw.max_systems is not None and hw.min_systems > hw.max_systems:
        raise ConfigError(f"{k}.min_systems", hw.min_systems, f"must be <= max_systems ({hw.max_systems})")
    if (hw.power_law_a is None) != (hw.power_law_b is None):
        raise ConfigError(f"{k}.power_law_a", hw.power_law_a,
                          "set power_law_a and power_law_b together, or neither (fit them)")
    if hw.allowed_sizes is not None:
        sizes = list(hw.allowed_sizes)
        if not sizes or any(s < 1 for s in sizes) or sorted(set(sizes)) != sizes:
            raise ConfigError(f"{k}.allowed_sizes", sizes,
                              "must be a non-empty increasing list of whole numbers >= 1, or null")


def validate_model(name: str, m: ModelSpec, hardware: Mapping[str, HardwareSpec]) -> None:
    """Check one model entry: declared ranges, attention layout, MoE consistency, decode rates."""
    k = f"models.{name}"
    check_fields(m, ModelSpec, k)
    if m.active_params_b > m.total_params_b:
        raise ConfigError(f"{k}.active_params_b", m.active_params_b,
                          f"must be <= total_params_b ({m.total_params_b})")
    _check_attention(k, m)
    _check_moe(k, m)
    for hw_name, point in m.interactivity.items():
        check_known(f"{k}.interactivity", hw_name, hardware, "hardware")
        check_fields(point, InteractivityPoint, f"{k}.interactivity.{hw_name}")


def _check_attention(k: str, m: ModelSpec) -> None:
    """The fields the model's attention layout (GQA, MLA or a given KV size per token) needs."""
    if m.attention == Attention.gqa:
        for field in ("kv_heads", "head_dim"):
            value = getattr(m, field)
            if value is None or value < 1:
                raise ConfigError(f"{k}.{field}", value, "GQA needs a whole number >= 1")
        if not 0 <= m.sliding_window_layers <= m.layers:
            raise ConfigError(f"{k}.sliding_window_layers", m.sliding_window_layers,
                              f"must be between 0 and layers ({m.layers})")
        if m.sliding_window_layers > 0 and (m.sliding_window is None or m.sliding_window < 1):
            raise ConfigError(f"{k}.sliding_window", m.sliding_window,
                              "sliding-window layers need a window of >= 1 token")
    elif m.attention == Attention.mla:
        rank, rope = m.kv_lora_rank, m.qk_rope_head_dim
        if rank is None or rank < 0:
            raise ConfigError(f"{k}.kv_lora_rank", rank, "MLA needs a whole number >= 0")
        if rope is None or rope < 0:
            raise ConfigError(f"{k}.qk_rope_head_dim", rope, "MLA needs a whole number >= 0")
        if rank + rope < 1:
            raise ConfigError(f"{k}.kv_lora_rank", rank, "kv_lora_rank + qk_rope_head_dim must be >= 1")
    else:
        check_value(f"{k}.kv_bytes_per_token", m.kv_bytes_per_token, "> 0")


def _check_moe(k: str, m: ModelSpec) -> None:
    """MoE fields: all three or none, and consistent with the total and active parameters."""
    experts, chosen, routed = m.routed_experts, m.experts_per_token, m.routed_expert_params_b
    if experts is None and chosen is None and routed is None:
        return
    if experts is None or chosen is None or routed is None:
        raise ConfigError(f"{k}.routed_experts", [experts, chosen, routed],
                          "MoE needs routed_experts, experts_per_token and routed_expert_params_b together")
    if not 1 <= chosen <= experts:
        raise ConfigError(f"{k}.experts_per_token", chosen, f"must be between 1 and routed_experts ({experts})")
    check_value(f"{k}.routed_expert_params_b", routed, "> 0")
    dense = m.active_params_b - chosen / experts * routed
    if dense < 0 or routed > m.total_params_b:
        raise ConfigError(f"{k}.routed_expert_params_b", routed,
                          "inconsistent with total_params_b and active_params_b: need "
                          "active - k/E * routed >= 0 and routed <= total")


def validate_workload(w: WorkloadSpec) -> None:
    """Check the workload: ranges, a mix summing to 1, the price sheet."""
    check_fields(w, WorkloadSpec, "workload")
    check_fields(w.mix, TokenMix, "workload.mix")
    total = sum(getattr(w.mix, t) for t in TOKEN_TYPES)
    if abs(total - 1) > MIX_TOLERANCE:
        raise ConfigError("workload.mix", w.mix,
                          f"fractions must sum to 1 (within {MIX_TOLERANCE:g}); they sum to {total:.9g}")
    if w.osl is None and w.mix.output <= 0:
        raise ConfigError("workload.mix.output", w.mix.output,
                          "must be > 0 when workload.osl is null (OSL is derived from it)")
    if w.price_sheet is not None:
        check_fields(w.price_sheet, PriceSheet, "workload.price_sheet")
    _check_prefix_cache(w)


def _check_prefix_cache(w: WorkloadSpec) -> None:
    """docs/model.md §12: ``workload.cache=trace`` needs a trace (that the file exists, the app layer
    checks); the replay's replica counts are whole numbers >= 1."""
    cache: Any = getattr(w, "cache", CacheSource.mix)
    cache = cache.value if isinstance(cache, CacheSource) else str(cache)
    trace = getattr(w, "trace", None)
    curve = getattr(w, "cache_curve", None)
    if curve is not None:
        capacity = list(curve.get("capacity_tokens", []))
        for routing in ("prefix_aware", "random"):
            h = list(curve.get(routing, []))
            if not capacity or len(h) != len(capacity) or any(not 0 <= v <= 1 for v in h):
                raise ConfigError(f"workload.cache_curve.{routing}", h, "must hold one share in [0, 1] per "
                                  "workload.cache_curve.capacity_tokens")
    if cache == CacheSource.trace.value and trace is None and curve is None:
        raise ConfigError("workload.trace", None, "give a request trace with prefix block ids (a Mooncake JSONL, "
                          "e.g. reference/traces/mooncake-conversation.jsonl) for workload.cache=trace")
    replicas = list(getattr(w, "cache_replicas", [1]))
    if not replicas:
        raise ConfigError("workload.cache_replicas", replicas, "give at least one replica count")
    for r in replicas:
        check_value("workload.cache_replicas", r, ">= 1")


def validate_grid(g: GridSpec) -> None:
    """Check the grid's declared ranges, and that it is non-empty and ordered."""
    check_fields(g, GridSpec, "grid")
    if g.isl_points < 0:
        raise ConfigError("grid.isl_points", g.isl_points, "must be a whole number >= 0")
    if g.isl_points > 0:
        if g.isl_min < 1:
            raise ConfigError("grid.isl_min", g.isl_min, "must be a whole number of tokens >= 1")
        if g.isl_max < g.isl_min:
            raise ConfigError("grid.isl_max", g.isl_max, f"must be >= grid.isl_min ({g.isl_min})")
    for value in g.isl_extra:
        if value < 1:
            raise ConfigError("grid.isl_extra", list(g.isl_extra), "every ISL must be >= 1 token")
    if g.isl_points == 0 and len(g.isl_extra) == 0:
        raise ConfigError("grid.isl_points", g.isl_points,
                          "empty ISL grid: set isl_points >= 1 or list grid.isl_extra")
    if g.concurrency_min < 1:
        raise ConfigError("grid.concurrency_min", g.concurrency_min, "must be a whole number >= 1")
    if g.concurrency_step < 1:
        raise ConfigError("grid.concurrency_step", g.concurrency_step, "must be a whole number >= 1")
    if g.concurrency_max < g.concurrency_min:
        raise ConfigError("grid.concurrency_max", g.concurrency_max,
                          f"empty concurrency grid: must be >= grid.concurrency_min ({g.concurrency_min})")


# configs that the apps' validation passed (by id; the weak value drops a config once it is gone),
# so that the API can refuse an unchecked config (e.g. a merge of a validated one) without
# re-checking every call
_VALIDATED: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
# a number per validation, so that what is cached of a config (its catalog arrays) is read again
# once the config is validated again (after a change)
_STAMPS: dict[int, int] = {}
_NEXT_STAMP = itertools.count(1)


def mark_valid(cfg: ModelConfig) -> None:
    """Record that ``cfg`` passed every check and can no longer change (the apps' validation,
    :func:`model.app.validate.validate`, calls this once it has made the config read-only)."""
    key = id(cfg)
    if _VALIDATED.get(key) is not cfg:
        weakref.finalize(cfg, _STAMPS.pop, key, None)
    _VALIDATED[key] = cfg
    _STAMPS[key] = next(_NEXT_STAMP)


def is_valid(cfg: ModelConfig) -> bool:
    """Whether :func:`mark_valid` recorded this very config."""
    return _VALIDATED.get(id(cfg)) is cfg


def validation_stamp(cfg: ModelConfig) -> int | None:
    """A number that changes each time ``cfg`` is validated (None if it never was): what is cached
    of a validated config is kept under it."""
    return _STAMPS.get(id(cfg)) if is_valid(cfg) else None


def ensure_valid(cfg: ModelConfig) -> ModelConfig:
    """``cfg`` once checked: the API refuses what the command line refuses (a merged config with a
    negative price, a NaN size).  A config the apps' validation passed is not checked again.

    Raises
    ------
    ConfigError
        The first bad value, as one line.
    """
    if not is_valid(cfg):
        check_config(cfg)
    return cfg


def check_config(cfg: ModelConfig) -> None:
    """Check every value the cost model reads (catalogs, selection, workload, grid, SLA).

    Raises
    ------
    ConfigError
        The first bad value, as one line.
    """
    for name, hw in cfg.hardware.items():
        validate_hardware(name, hw)
    for name, m in cfg.models.items():
        validate_model(name, m, cfg.hardware)
    _names("select.models", cfg.select.models, cfg.models, "model")
    _names("select.hardware", cfg.select.hardware, cfg.hardware, "hardware")
    validate_workload(cfg.workload)
    validate_grid(cfg.grid)
    check_fields(cfg.sla, SlaSpec, "sla")
    _check_power_law_inputs(cfg)
    _check_physical_prefill_inputs(cfg)
    _check_replica_sizes(cfg)


# Systems per replica are whole numbers held in int64: far below 2**63, and exact in float64
MAX_SYSTEMS_PER_REPLICA = 2.0**53


def _check_replica_sizes(cfg: ModelConfig) -> None:
    """Refuse a memory so small that a selected model's weights alone would need more systems than
    the outputs can count (``memory_gb=1e-300`` once wrapped ``systems`` to -9.2e18)."""
    for hw_name in cfg.select.hardware:
        hw = cfg.hardware[hw_name]
        usable = float(hw.memory_gb) * 1e9 * float(getattr(hw, "usable_memory_fraction", 1.0) or 1.0)
        reserve = float(getattr(hw, "memory_reserve_gb", 0.0) or 0.0) * 1e9
        if reserve >= usable:
            raise ConfigError(f"hardware.{hw_name}.memory_reserve_gb", hw.memory_reserve_gb,
                              f"must be below the usable memory per system, {usable / 1e9:.6g} GB")
        capacity = usable - reserve
        for m_name in cfg.select.models:
            weights = weight_bytes(cfg.models[m_name])
            if weights / capacity >= MAX_SYSTEMS_PER_REPLICA:
                raise ConfigError(f"hardware.{hw_name}.memory_gb", hw.memory_gb,
                                  f"{m_name}'s weights alone would need {weights / capacity:.3g} systems per replica; "
                                  f"must leave fewer than {MAX_SYSTEMS_PER_REPLICA:.3g}")


def _check_power_law_inputs(cfg: ModelConfig) -> None:
    """Resident-weight hardware needs a decode rate for every selected model: measured, or from
    a power law that is either given or fitted to >= 2 measurements."""
    for hw_name in cfg.select.hardware:
        hw = cfg.hardware[hw_name]
        if not hw.weights_resident or hw.power_law_a is not None:
            continue
        missing = [m for m in cfg.select.models if hw_name not in cfg.models[m].interactivity]
        measured = [m for m, spec in cfg.models.items()
                    if hw_name in spec.interactivity and spec.interactivity[hw_name].measured]
        if missing and len(measured) < 2:
            raise ConfigError(f"hardware.{hw_name}.power_law_a", None,
                              f"{', '.join(missing)} need a fitted power law but only "
                              f"{len(measured)} measured interactivity point(s) exist; "
                              "set power_law_a and power_law_b or mark 2+ measurements")


def _check_physical_prefill_inputs(cfg: ModelConfig) -> None:
    """Physical prefill (docs/model.md §8) needs the hardware's compute and each selected model's attention shape."""
    for hw_name in cfg.select.hardware:
        hw = cfg.hardware[hw_name]
        if PrefillMode(hw.prefill_mode) != PrefillMode.physical:
            continue
        if hw.peak_dense_tflops is None:
            raise ConfigError(f"hardware.{hw_name}.peak_dense_tflops", None,
                              "prefill_mode=physical needs the peak dense TFLOP/s (or prefill_mode=ratio)")
        for m in cfg.select.models:
            for field in ("attention_heads", "qk_head_dim", "v_head_dim"):
                if getattr(cfg.models[m], field) is None:
                    raise ConfigError(f"models.{m}.{field}", None,
                                      f"hardware.{hw_name}.prefill_mode=physical needs it: a whole number >= 1")
