"""One validation pass over a composed config (docs/model.md §7).

Types were checked by the structured-config schema while Hydra composed the config; this pass
checks values.  Per-field ranges are read from the schema (:func:`check_fields`, from each
field's declared ``check``); rules that tie fields together are written out below.  The first
problem found raises :class:`~model.errors.ConfigError`, whose message is one line naming the
key, the value and what is allowed.
"""
from __future__ import annotations

import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from model.errors import ConfigError
from model.fields import CHECKS, field_docs, passes
from model.pointwise import weight_bytes
from model.schema import (
    FIT_BOUNDS,
    TOKEN_TYPES,
    Attention,
    CacheSource,
    CalibrationSpec,
    DaskSpec,
    GridSpec,
    HardwareSpec,
    InteractivityPoint,
    ModelSpec,
    PrefillMode,
    PriceSheet,
    SlaSpec,
    TokenMix,
    WorkloadSpec,
)

MIX_TOLERANCE = 1e-6
CONF_REPO = Path(__file__).resolve().parents[1]  # the repository: calibration.data is relative to it
# calibration.write=true replaces these files, and no others (relative to the repository)
OWNED_TARGETS = {"target": "conf/hardware/gpu_calibration.yaml",
                 "error_target": "conf/uncertainty/model_error/gpu_leave_one_out.yaml"}


def check_value(key: str, value: Any, rule: str, optional: bool = False) -> None:
    """Raise :class:`ConfigError` unless ``value`` meets ``rule`` (a key of ``CHECKS``);
    ``None`` passes where ``optional``."""
    if value is None and optional:
        return
    if not passes(rule, value):
        raise ConfigError(key, value, CHECKS[rule] + (", or null" if optional else ""))


def check_fields(node: DictConfig, schema: type, prefix: str) -> None:
    """Check every field of ``node`` against the range its schema field declares."""
    for name, doc in field_docs(schema).items():
        if doc.check is not None and name in node:
            default_is_null = schema.__dataclass_fields__[name].default is None
            check_value(f"{prefix}.{name}", node[name], doc.check, optional=default_is_null)


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


def check_known_keys(node: DictConfig, schema: type, prefix: str) -> None:
    """Refuse keys the schema does not declare (``+hardware.b200.prce_per_hour=3`` adds one)."""
    known = set(schema.__dataclass_fields__)
    for key in node.keys():
        if key not in known:
            raise ConfigError(f"{prefix}.{key}", node[key], f"unknown key; allowed: {', '.join(sorted(known))}")


def validate_hardware(name: str, hw: DictConfig) -> None:
    """Check one hardware entry (declared ranges, then the rules tying its fields)."""
    k = f"hardware.{name}"
    check_known_keys(hw, HardwareSpec, k)
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


def validate_model(name: str, m: DictConfig, hardware: DictConfig) -> None:
    """Check one model entry: declared ranges, attention layout, MoE consistency, decode rates."""
    k = f"models.{name}"
    check_known_keys(m, ModelSpec, k)
    check_fields(m, ModelSpec, k)
    if m.active_params_b > m.total_params_b:
        raise ConfigError(f"{k}.active_params_b", m.active_params_b,
                          f"must be <= total_params_b ({m.total_params_b})")
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
        check_value(f"{k}.kv_bytes_per_token", m.kv_bytes_per_token, "> 0")
    moe = (m.routed_experts, m.experts_per_token, m.routed_expert_params_b)
    if any(v is not None for v in moe):
        if any(v is None for v in moe):
            raise ConfigError(f"{k}.routed_experts", list(moe),
                              "MoE needs routed_experts, experts_per_token and routed_expert_params_b together")
        if not 1 <= m.experts_per_token <= m.routed_experts:
            raise ConfigError(f"{k}.experts_per_token", m.experts_per_token,
                              f"must be between 1 and routed_experts ({m.routed_experts})")
        check_value(f"{k}.routed_expert_params_b", m.routed_expert_params_b, "> 0")
        dense = m.active_params_b - m.experts_per_token / m.routed_experts * m.routed_expert_params_b
        if dense < 0 or m.routed_expert_params_b > m.total_params_b:
            raise ConfigError(f"{k}.routed_expert_params_b", m.routed_expert_params_b,
                              "inconsistent with total_params_b and active_params_b: need "
                              "active - k/E * routed >= 0 and routed <= total")
    for hw_name, point in m.interactivity.items():
        if hw_name not in hardware:
            raise ConfigError(f"{k}.interactivity", hw_name,
                              f"unknown hardware; allowed: {', '.join(hardware.keys())}")
        check_fields(point, InteractivityPoint, f"{k}.interactivity.{hw_name}")


def validate_workload(w: DictConfig) -> None:
    """Check the workload: ranges, a mix summing to 1, the price sheet."""
    check_fields(w, WorkloadSpec, "workload")
    check_fields(w.mix, TokenMix, "workload.mix")
    total = sum(w.mix[t] for t in TOKEN_TYPES)
    if abs(total - 1) > MIX_TOLERANCE:
        raise ConfigError("workload.mix", w.mix,
                          f"fractions must sum to 1 (within {MIX_TOLERANCE:g}); they sum to {total:.9g}")
    if w.osl is None and w.mix.output <= 0:
        raise ConfigError("workload.mix.output", w.mix.output,
                          "must be > 0 when workload.osl is null (OSL is derived from it)")
    if w.price_sheet is not None:
        check_fields(w.price_sheet, PriceSheet, "workload.price_sheet")
    _check_prefix_cache(w)


def _check_prefix_cache(w: DictConfig) -> None:
    """docs/model.md §12: ``workload.cache=trace`` needs a trace file; the replay's replica counts are
    whole numbers >= 1."""
    cache = w.get("cache", CacheSource.mix)
    cache = cache.value if isinstance(cache, CacheSource) else str(cache)
    trace = w.get("trace", None)
    curve = w.get("cache_curve", None)
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
    if trace is not None and not Path(str(trace)).is_file():
        raise ConfigError("workload.trace", trace, "no such file; give a Mooncake JSONL with hash_ids")
    replicas = list(w.get("cache_replicas", [1]))
    if not replicas:
        raise ConfigError("workload.cache_replicas", replicas, "give at least one replica count")
    for r in replicas:
        check_value("workload.cache_replicas", r, ">= 1")


def validate_grid(g: DictConfig) -> None:
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


# configs that validate() passed (by id; the weak value drops a config once it is gone), so that the
# API can refuse an unchecked config (e.g. OmegaConf.merge of a validated one) without re-checking every call
_VALIDATED: weakref.WeakValueDictionary[int, DictConfig] = weakref.WeakValueDictionary()


def ensure_valid(cfg: DictConfig) -> DictConfig:
    """``cfg`` if :func:`validate` has passed it, else :func:`validate` of it: the API refuses
    what the command line refuses (a merged config with a negative price, a NaN size)."""
    if _VALIDATED.get(id(cfg)) is cfg and OmegaConf.is_readonly(cfg):
        return cfg
    return validate(cfg)


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
    check_fields(cfg.sla, SlaSpec, "sla")
    _check_power_law_inputs(cfg)
    _check_physical_prefill_inputs(cfg)
    if "plots" in cfg:
        _check_plots(cfg)
    check_fields(cfg.dask, DaskSpec, "dask")
    _check_dask_chunks(cfg)
    if "calibration" in cfg:
        _check_calibration(cfg)
    _check_replica_sizes(cfg)
    OmegaConf.set_readonly(cfg, True)
    _VALIDATED[id(cfg)] = cfg
    return cfg


# Systems per replica are whole numbers held in int64: far below 2**63, and exact in float64
MAX_SYSTEMS_PER_REPLICA = 2.0**53


def _check_replica_sizes(cfg: DictConfig) -> None:
    """Refuse a memory so small that a selected model's weights alone would need more systems than
    the outputs can count (``memory_gb=1e-300`` once wrapped ``systems`` to -9.2e18)."""
    for hw_name in cfg.select.hardware:
        hw = cfg.hardware[hw_name]
        capacity = float(hw.memory_gb) * 1e9 * float(hw.get("usable_memory_fraction", 1.0) or 1.0)
        for m_name in cfg.select.models:
            weights = weight_bytes(cfg.models[m_name])
            if weights / capacity >= MAX_SYSTEMS_PER_REPLICA:
                raise ConfigError(f"hardware.{hw_name}.memory_gb", hw.memory_gb,
                                  f"{m_name}'s weights alone would need {weights / capacity:.3g} systems per replica; "
                                  f"must leave fewer than {MAX_SYSTEMS_PER_REPLICA:.3g}")


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


def _check_physical_prefill_inputs(cfg: DictConfig) -> None:
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
                if cfg.models[m][field] is None:
                    raise ConfigError(f"models.{m}.{field}", None,
                                      f"hardware.{hw_name}.prefill_mode=physical needs it: a whole number >= 1")


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


def _check_calibration(cfg: DictConfig) -> None:
    """The GPU calibration's inputs: known keys to fit, known hardware to inherit, positive weights."""
    c = cfg.calibration
    check_fields(c, CalibrationSpec, "calibration")
    fittable = sorted(FIT_BOUNDS)
    for group in ("per_hardware", "shared"):
        for key in c[group]:
            if key not in FIT_BOUNDS:
                raise ConfigError(f"calibration.{group}", key, f"not a fitted key; allowed: {', '.join(fittable)}")
    for child, parent in c.inherit.items():
        for role, name in (("", child), (f".{child}", parent)):
            if name not in cfg.hardware:
                raise ConfigError(f"calibration.inherit{role}", name,
                                  f"unknown hardware; allowed: {', '.join(cfg.hardware.keys())}")
    for m, by_precision in c.weights_gb.items():
        if m not in cfg.models:
            raise ConfigError(f"calibration.weights_gb.{m}", m,
                              f"unknown model; allowed: {', '.join(cfg.models.keys())}")
        for precision, gb in by_precision.items():
            check_value(f"calibration.weights_gb.{m}.{precision}", gb, "> 0")
    if not (CONF_REPO / c.data).is_file():
        raise ConfigError("calibration.data", c.data, f"no such file under {CONF_REPO}")
    _check_benchmark_tables(cfg)
    for key, owned in OWNED_TARGETS.items():
        # the only files outside the run directory the toolkit may replace are the ones it generates
        if (CONF_REPO / str(c[key])).resolve() != (CONF_REPO / owned).resolve():
            raise ConfigError(f"calibration.{key}", c[key], f"allowed: {owned} (the file this command generates); "
                              "the fitted values always go to the run directory")
    if c.configurations:
        if not (CONF_REPO / c.configurations).is_file():
            raise ConfigError("calibration.configurations", c.configurations, f"no such file under {CONF_REPO}")
        keys = ("memory_bandwidth_tb_s", "peak_fp8_tflops", "scaleup_gb_s", "scaleup_domain", "scaleout_gb_s")
        for gpu, device in c.devices.items():
            for key in keys:
                check_value(f"calibration.devices.{gpu}.{key}", device.get(key), "> 0")


def _check_benchmark_tables(cfg: DictConfig) -> None:
    """The calibration's CSVs, column by column, before any fit (a malformed file was 13 tracebacks
    and, with a 1e308 value, a fit that ran for over 400 s)."""
    from model.benchmark_data import Column, check_table, read_table  # pandas: only for the calibrate app

    c = cfg.calibration
    precisions = sorted({p for by in c.weights_gb.values() for p in by})
    points = {"gpu": Column("text", allowed=tuple(cfg.hardware.keys())),
              "model": Column("text", allowed=tuple(cfg.models.keys())),
              "precision": Column("text", allowed=tuple(precisions) or None),
              **{k: Column("count") for k in ("tp", "isl", "osl", "concurrency")},
              "interactivity_tok_s": Column("positive"), "total_tput_per_gpu": Column("positive", optional=True),
              "ttft_ms": Column("positive", optional=True)}
    check_table(read_table(str(CONF_REPO / c.data), "calibration.data", c.data), points, "calibration.data", c.data)
    if not c.get("configurations"):
        return
    routed = (c.get("architecture") or {}).get("routed_bits") or {}
    runs = {"gpu": Column("text", allowed=tuple(c.devices.keys()) or None),
            "precision": Column("text", allowed=tuple(routed.keys()) or None),
            "spec_method": Column("text"), "framework": Column("text"),
            **{k: Column("flag") for k in ("disagg", "prefill_dp_attention", "decode_dp_attention")},
            **{k: Column("count") for k in ("prefill_tp", "prefill_ep", "decode_tp", "decode_ep", "num_decode_gpu",
                                            "isl", "osl", "concurrency")},
            **{k: Column("count", zero_ok=True) for k in ("prefill_num_workers", "decode_num_workers",
                                                          "num_prefill_gpu")},
            "median_intvty": Column("positive"), "median_ttft": Column("positive"),
            **{k: Column("positive", optional=True) for k in ("output_tput_per_gpu", "p90_ttft", "p99_ttft",
                                                              "p90_tpot", "p99_tpot")}}
    check_table(read_table(str(CONF_REPO / c.configurations), "calibration.configurations", c.configurations), runs,
                "calibration.configurations", c.configurations)


def _check_dask_chunks(cfg: DictConfig) -> None:
    for dim, size in cfg.dask.chunks.items():
        if size is None and dim in ("model", "hardware", "isl", "concurrency"):
            continue
        if dim not in ("model", "hardware", "isl", "concurrency"):
            raise ConfigError(f"dask.chunks.{dim}", size, "unknown dim; allowed: model, hardware, isl, concurrency")
        if size < 1 and size != -1:
            raise ConfigError(f"dask.chunks.{dim}", size, "must be a whole number >= 1, or -1 for the whole dim")
