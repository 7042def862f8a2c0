"""One validation pass over a composed config (SPEC §7).

Types were checked by the structured-config schema while Hydra composed the config; this pass
checks values.  The first problem found raises :class:`ConfigError`, whose message is one line
naming the key, the value and what is allowed.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

from omegaconf import DictConfig, OmegaConf

from model.config import Attention

MIX_TOLERANCE = 1e-6


class ConfigError(ValueError):
    """A bad configuration value. ``str(err)`` is a single line."""

    def __init__(self, key: str, value: Any, allowed: str) -> None:
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={_show(value)}: {allowed}")


def _show(value: Any) -> str:
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value, resolve=True, enum_to_str=True)
    return repr(value) if isinstance(value, str) else str(value)


def _positive(key: str, value: Any) -> None:
    if value is None or not math.isfinite(value) or value <= 0:
        raise ConfigError(key, value, "must be a finite number > 0")


def _non_negative(key: str, value: Any) -> None:
    if value is None or not math.isfinite(value) or value < 0:
        raise ConfigError(key, value, "must be a finite number >= 0")


def _fraction(key: str, value: Any) -> None:
    if value is None or not (0 < value <= 1):
        raise ConfigError(key, value, "must be in (0, 1]")


def _optional_positive(key: str, value: Any) -> None:
    if value is not None:
        _positive(key, value)


def _names(key: str, names: Iterable[str], catalog: DictConfig, what: str) -> None:
    names = list(names)
    if not names:
        raise ConfigError(key, names, f"select at least one {what}")
    known = list(catalog.keys())
    for name in names:
        if name not in catalog:
            raise ConfigError(key, name, f"unknown {what}; allowed: {', '.join(known)}")
    if len(set(names)) != len(names):
        raise ConfigError(key, names, f"each {what} at most once")


def validate_hardware(name: str, hw: DictConfig) -> None:
    k = f"hardware.{name}"
    for field in ("memory_gb", "memory_bandwidth_tb_s", "price_per_hour", "cache_read_ratio",
                  "interactivity_multiplier"):
        _positive(f"{k}.{field}", hw[field])
    _optional_positive(f"{k}.capex_per_system", hw.capex_per_system)
    _fraction(f"{k}.usable_memory_fraction", hw.usable_memory_fraction)
    _fraction(f"{k}.bandwidth_efficiency", hw.bandwidth_efficiency)
    _non_negative(f"{k}.hop_latency_s", hw.hop_latency_s)
    _non_negative(f"{k}.step_overhead_s", hw.step_overhead_s)
    _non_negative(f"{k}.layer_overhead_s", hw.layer_overhead_s)
    _optional_positive(f"{k}.peak_dense_tflops", hw.peak_dense_tflops)
    _fraction(f"{k}.compute_efficiency", hw.compute_efficiency)
    if hw.min_systems < 1:
        raise ConfigError(f"{k}.min_systems", hw.min_systems, "must be a whole number >= 1")
    if hw.max_systems is not None and hw.min_systems > hw.max_systems:
        raise ConfigError(f"{k}.min_systems", hw.min_systems, f"must be <= max_systems ({hw.max_systems})")
    _optional_positive(f"{k}.power_law_a", hw.power_law_a)
    if hw.power_law_b is not None and not math.isfinite(hw.power_law_b):
        raise ConfigError(f"{k}.power_law_b", hw.power_law_b, "must be a finite number")
    if (hw.power_law_a is None) != (hw.power_law_b is None):
        raise ConfigError(f"{k}.power_law_a", hw.power_law_a,
                          "set power_law_a and power_law_b together, or neither (fit them)")
    if hw.allowed_sizes is not None:
        sizes = list(hw.allowed_sizes)
        if not sizes or any(s < 1 for s in sizes) or sorted(set(sizes)) != sizes:
            raise ConfigError(f"{k}.allowed_sizes", sizes,
                              "must be a non-empty increasing list of whole numbers >= 1, or null")
    if hw.max_systems is not None and hw.max_systems < 1:
        raise ConfigError(f"{k}.max_systems", hw.max_systems, "must be a whole number >= 1, or null")
    _optional_positive(f"{k}.power_kw", hw.power_kw)


def validate_model(name: str, m: DictConfig, hardware: DictConfig) -> None:
    k = f"models.{name}"
    _positive(f"{k}.total_params_b", m.total_params_b)
    _positive(f"{k}.active_params_b", m.active_params_b)
    if m.active_params_b > m.total_params_b:
        raise ConfigError(f"{k}.active_params_b", m.active_params_b,
                          f"must be <= total_params_b ({m.total_params_b})")
    if m.layers < 1:
        raise ConfigError(f"{k}.layers", m.layers, "must be a whole number >= 1")
    if m.max_context < 1:
        raise ConfigError(f"{k}.max_context", m.max_context, "must be a whole number >= 1")
    if m.weight_gb is not None:
        _positive(f"{k}.weight_gb", m.weight_gb)
    else:
        _positive(f"{k}.weight_bits", m.weight_bits)
    _positive(f"{k}.kv_bits", m.kv_bits)
    if m.attention == Attention.gqa:
        for field in ("kv_heads", "head_dim"):
            if m[field] is None or m[field] < 1:
                raise ConfigError(f"{k}.{field}", m[field], "GQA needs a whole number >= 1")
        if not 0 <= m.sliding_window_layers <= m.layers:
            raise ConfigError(f"{k}.sliding_window_layers", m.sliding_window_layers,
                              f"must be between 0 and layers ({m.layers})")
        if m.sliding_window_layers > 0 and (m.sliding_window is None or m.sliding_window < 1):
            raise ConfigError(f"{k}.sliding_window", m.sliding_window,
                              "sliding-window layers need a window of >= 1 token")
    elif m.attention == Attention.mla:
        for field in ("kv_lora_rank", "qk_rope_head_dim"):
            if m[field] is None or m[field] < 0:
                raise ConfigError(f"{k}.{field}", m[field], "MLA needs a whole number >= 0")
        if m.kv_lora_rank + m.qk_rope_head_dim < 1:
            raise ConfigError(f"{k}.kv_lora_rank", m.kv_lora_rank,
                              "kv_lora_rank + qk_rope_head_dim must be >= 1")
    else:
        _positive(f"{k}.kv_bytes_per_token", m.kv_bytes_per_token)
    moe = (m.routed_experts, m.experts_per_token, m.routed_expert_params_b)
    if any(v is not None for v in moe):
        if any(v is None for v in moe):
            raise ConfigError(f"{k}.routed_experts", list(moe),
                              "MoE needs routed_experts, experts_per_token and routed_expert_params_b together")
        if not 1 <= m.experts_per_token <= m.routed_experts:
            raise ConfigError(f"{k}.experts_per_token", m.experts_per_token,
                              f"must be between 1 and routed_experts ({m.routed_experts})")
        _positive(f"{k}.routed_expert_params_b", m.routed_expert_params_b)
        dense = m.active_params_b - m.experts_per_token / m.routed_experts * m.routed_expert_params_b
        if dense < 0 or m.routed_expert_params_b > m.total_params_b:
            raise ConfigError(f"{k}.routed_expert_params_b", m.routed_expert_params_b,
                              "inconsistent with total_params_b and active_params_b: need "
                              "active - k/E * routed >= 0 and routed <= total")
    for hw_name, point in m.interactivity.items():
        if hw_name not in hardware:
            raise ConfigError(f"{k}.interactivity", hw_name,
                              f"unknown hardware; allowed: {', '.join(hardware.keys())}")
        _positive(f"{k}.interactivity.{hw_name}.tok_s", point.tok_s)


def validate_workload(w: DictConfig) -> None:
    if w.isl < 1:
        raise ConfigError("workload.isl", w.isl, "must be a whole number of tokens >= 1")
    if w.concurrency < 1:
        raise ConfigError("workload.concurrency", w.concurrency, "must be a whole number >= 1")
    _optional_positive("workload.osl", w.osl)
    for kind in ("cache_read", "cache_write", "input", "output"):
        value = w.mix[kind]
        if not (0 <= value < 1):
            raise ConfigError(f"workload.mix.{kind}", value, "must be a fraction in [0, 1)")
    total = sum(w.mix[k] for k in ("cache_read", "cache_write", "input", "output"))
    if abs(total - 1) > MIX_TOLERANCE:
        raise ConfigError("workload.mix", w.mix,
                          f"fractions must sum to 1 (within {MIX_TOLERANCE:g}); they sum to {total:.9g}")
    if w.osl is None and w.mix.output <= 0:
        raise ConfigError("workload.mix.output", w.mix.output,
                          "must be > 0 when workload.osl is null (OSL is derived from it)")
    if w.price_sheet is not None:
        for kind in ("cache_read", "cache_write", "input", "output"):
            _non_negative(f"workload.price_sheet.{kind}", w.price_sheet[kind])


def validate_grid(g: DictConfig) -> None:
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


def validate(cfg: DictConfig) -> DictConfig:
    """Check every value of a composed config; return it resolved and read-only.

    Raises
    ------
    ConfigError
        The first bad value, as one line.
    """
    try:
        OmegaConf.resolve(cfg)
    except Exception as err:  # an interpolation that cannot be resolved
        raise ConfigError(getattr(err, "full_key", "config"), "?", str(err).splitlines()[0]) from None
    for name, hw in cfg.hardware.items():
        validate_hardware(name, hw)
    for name, m in cfg.models.items():
        validate_model(name, m, cfg.hardware)
    _names("select.models", cfg.select.models, cfg.models, "model")
    _names("select.hardware", cfg.select.hardware, cfg.hardware, "hardware")
    validate_workload(cfg.workload)
    validate_grid(cfg.grid)
    _non_negative("sla.min_interactivity", cfg.sla.min_interactivity)
    _check_power_law_inputs(cfg)
    if "plots" in cfg:
        _check_plots(cfg)
    _check_dask(cfg)
    OmegaConf.set_readonly(cfg, True)
    return cfg


def _check_power_law_inputs(cfg: DictConfig) -> None:
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


def _check_plots(cfg: DictConfig) -> None:
    p = cfg.plots
    if p.feasibility_hardware not in cfg.hardware:
        raise ConfigError("plots.feasibility_hardware", p.feasibility_hardware,
                          f"unknown hardware; allowed: {', '.join(cfg.hardware.keys())}")
    if p.feasibility_reference_model not in cfg.models:
        raise ConfigError("plots.feasibility_reference_model", p.feasibility_reference_model,
                          f"unknown model; allowed: {', '.join(cfg.models.keys())}")
    lo_hi = list(p.feasibility_params_b)
    if len(lo_hi) != 2 or not 0 < lo_hi[0] < lo_hi[1]:
        raise ConfigError("plots.feasibility_params_b", lo_hi, "must be [low, high] with 0 < low < high")


def _check_dask(cfg: DictConfig) -> None:
    d = cfg.dask
    for dim, size in d.chunks.items():
        if dim not in ("model", "hardware", "isl", "concurrency"):
            raise ConfigError(f"dask.chunks.{dim}", size, "unknown dim; allowed: model, hardware, isl, concurrency")
        if size < 1 and size != -1:
            raise ConfigError(f"dask.chunks.{dim}", size, "must be a whole number >= 1, or -1 for the whole dim")
    if d.n_workers < 1:
        raise ConfigError("dask.n_workers", d.n_workers, "must be a whole number >= 1")
