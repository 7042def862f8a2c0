"""The cost model's value checks (docs/model.md §7): :func:`check_config` of a :class:`~model.schema.ModelConfig`.

Types were checked by the structured-config schema while Hydra composed the config; this pass
checks values.  Per-field ranges are read from the schema (:func:`check_fields`, from each
field's declared ``check``); rules that tie fields of a section together are declared as data in
:mod:`model.rules`; those that loop over catalog entries are written out below.  The first
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
from model.rules import GRID_RULES, HARDWARE_RULES, MODEL_RULES, PREFIX_CACHE_RULES, WORKLOAD_RULES, apply_rules
from model.schema import (
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
    apply_rules(hw, HARDWARE_RULES, k)


def validate_model(name: str, m: ModelSpec, hardware: Mapping[str, HardwareSpec]) -> None:
    """Check one model entry: declared ranges, attention layout, MoE consistency, decode rates."""
    k = f"models.{name}"
    check_fields(m, ModelSpec, k)
    apply_rules(m, MODEL_RULES, k)  # the attention layout's fields, MoE consistency
    for hw_name, point in m.interactivity.items():
        check_known(f"{k}.interactivity", hw_name, hardware, "hardware")
        check_fields(point, InteractivityPoint, f"{k}.interactivity.{hw_name}")


def validate_workload(w: WorkloadSpec) -> None:
    """Check the workload: ranges, a mix summing to 1, the price sheet."""
    check_fields(w, WorkloadSpec, "workload")
    check_fields(w.mix, TokenMix, "workload.mix")
    apply_rules(w, WORKLOAD_RULES, "workload")
    if w.price_sheet is not None:
        check_fields(w.price_sheet, PriceSheet, "workload.price_sheet")
    apply_rules(w, PREFIX_CACHE_RULES, "workload")


def validate_grid(g: GridSpec) -> None:
    """Check the grid's declared ranges, and that it is non-empty and ordered."""
    check_fields(g, GridSpec, "grid")
    apply_rules(g, GRID_RULES, "grid")


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
    _check_mtp_inputs(cfg)


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


def _check_mtp_inputs(cfg: ModelConfig) -> None:
    """A draft count chosen per batch needs the acceptance per draft: one accepted count cannot
    serve one draft and three at once (docs/model.md §10)."""
    for hw_name in cfg.select.hardware:
        hw = cfg.hardware[hw_name]
        if hw.mtp_draft_per_batch and hw.mtp_acceptance is None:
            raise ConfigError(f"hardware.{hw_name}.mtp_acceptance", None,
                              "mtp_draft_per_batch=true needs it: a probability in (0, 1)")


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
