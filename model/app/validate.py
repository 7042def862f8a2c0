"""The apps' validation of a composed config: resolve it, check every value, every file it names
and every app setting, then make it read-only (docs/model.md §7).

The cost model's own values are checked by :func:`model.validate.check_config`; what only an app
reads is checked here: keys a ``+key=value`` override added, whether ``workload.trace`` and the
calibration's benchmark files exist (and hold what they should), the plots, the dask cluster and
the calibration command.  ``model.validate`` is :func:`validate`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from model.app.schema import CalibrationSpec, DaskSpec
from model.errors import ConfigError
from model.fields import passes
from model.schema import FIT_BOUNDS, HardwareSpec, ModelSpec
from model.validate import check_config, check_fields, check_known, check_value, mark_valid

CONF_REPO = Path(__file__).resolve().parents[2]  # the repository: calibration.data is relative to it
# calibration.write=true replaces these files, and no others (relative to the repository)
OWNED_TARGETS = {"target": "conf/hardware/gpu_calibration.yaml",
                 "error_target": "conf/uncertainty/model_error/gpu_leave_one_out.yaml"}


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
        check_known_keys(hw, HardwareSpec, f"hardware.{name}")
    for name, m in cfg.models.items():
        check_known_keys(m, ModelSpec, f"models.{name}")
    check_config(cfg)
    _check_trace_file(cfg)
    if "plots" in cfg:
        _check_plots(cfg)
    check_fields(cfg.dask, DaskSpec, "dask")
    _check_dask_chunks(cfg)
    _check_dask_installed(cfg)
    if "calibration" in cfg:
        _check_calibration(cfg)
    OmegaConf.set_readonly(cfg, True)
    mark_valid(cfg)
    return cfg


def check_known_keys(node: DictConfig, schema: type, prefix: str) -> None:
    """Refuse keys the schema does not declare (``+hardware.b200.prce_per_hour=3`` adds one)."""
    known = set(schema.__dataclass_fields__)
    for key in node.keys():
        if key not in known:
            raise ConfigError(f"{prefix}.{key}", node[key], f"unknown key; allowed: {', '.join(sorted(known))}")


def _check_trace_file(cfg: DictConfig) -> None:
    trace = cfg.workload.get("trace", None)
    if trace is not None and not Path(str(trace)).is_file():
        raise ConfigError("workload.trace", trace, "no such file; give a Mooncake JSONL with hash_ids")


def _check_plots(cfg: DictConfig) -> None:
    p = cfg.plots
    check_known("plots.feasibility_hardware", p.feasibility_hardware, cfg.hardware, "hardware")
    check_known("plots.feasibility_reference_model", p.feasibility_reference_model, cfg.models, "model")
    lo_hi = list(p.feasibility_params_b)
    if len(lo_hi) != 2 or not 0 < lo_hi[0] < lo_hi[1]:
        raise ConfigError("plots.feasibility_params_b", lo_hi, "must be [low, high] with 0 < low < high")


def _check_calibration(cfg: DictConfig) -> None:
    """The GPU calibration's inputs: known keys to fit, known hardware to inherit, positive weights,
    files that exist and hold what they should, and the only targets it may write."""
    c = cfg.calibration
    check_fields(c, CalibrationSpec, "calibration")
    _check_fit_keys(cfg)
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
        if c.configuration_recipes and not (CONF_REPO / c.configuration_recipes).is_file():
            raise ConfigError("calibration.configuration_recipes", c.configuration_recipes,
                              f"no such file under {CONF_REPO}")
        check_known("calibration.configurations_model", c.configurations_model, cfg.models, "model")
        for precision, bits in c.routed_bits.items():
            check_value(f"calibration.routed_bits.{precision}", bits, "> 0")
    _check_stacks(c.stacks)


def _check_stacks(stacks: Any) -> None:
    """The serving stacks' facts (``calibration.stacks``): KV bits and the per-batch MTP draft choice
    of every stack family, whole draft and chunk counts (a word where a number belongs was a
    traceback)."""
    from model.configurations import STACKS  # pandas: only for the calibrate app

    facts = ("kv_bits", "mtp_draft_tokens", "mtp_draft_per_batch", "recipe_batch_per_rank", "prefill_chunk_tokens")
    for key in stacks:
        if key not in facts:
            raise ConfigError(f"calibration.stacks.{key}", stacks[key], f"unknown key; allowed: {', '.join(facts)}")
    for fact, rule, allowed in (("kv_bits", "> 0", None), ("mtp_draft_per_batch", None, "must be true or false"),
                                ("recipe_batch_per_rank", None, "must be true or false")):
        by_stack = stacks.get(fact)
        for stack in (*STACKS, *(k for k in (by_stack or {}) if k not in STACKS)):
            key = f"calibration.stacks.{fact}.{stack}"
            if stack not in STACKS:
                raise ConfigError(key, by_stack[stack], f"unknown stack; allowed: {', '.join(STACKS)}")
            value = (by_stack or {}).get(stack)
            if rule is not None:
                check_value(key, value, rule)
            elif not isinstance(value, bool):
                raise ConfigError(key, value, allowed)
    draft = stacks.get("mtp_draft_tokens")
    if not (passes(">= 0", draft) and float(draft).is_integer()):
        raise ConfigError("calibration.stacks.mtp_draft_tokens", draft, "must be a whole number >= 0")
    check_value("calibration.stacks.prefill_chunk_tokens", stacks.get("prefill_chunk_tokens"), "[1, 1e9]")


def _check_fit_keys(cfg: DictConfig) -> None:
    """The keys the calibration fits, the hardware it inherits and the models it weighs are known."""
    c = cfg.calibration
    fittable = sorted(FIT_BOUNDS)
    for group in ("per_hardware", "shared"):
        for key in c[group]:
            if key not in FIT_BOUNDS:
                raise ConfigError(f"calibration.{group}", key, f"not a fitted key; allowed: {', '.join(fittable)}")
    for child, parent in c.inherit.items():
        for role, name in (("", child), (f".{child}", parent)):
            check_known(f"calibration.inherit{role}", name, cfg.hardware, "hardware")
    for m, by_precision in c.weights_gb.items():
        check_known(f"calibration.weights_gb.{m}", m, cfg.models, "model")
        for precision, gb in by_precision.items():
            check_value(f"calibration.weights_gb.{m}.{precision}", gb, "> 0")


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
    routed = c.get("routed_bits") or {}
    runs = {"gpu": Column("text", allowed=tuple(cfg.hardware.keys())),
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
    if not c.get("configuration_recipes"):
        return
    recipes = {"gpu": Column("text", allowed=tuple(cfg.hardware.keys())),
               **{k: Column("text") for k in ("framework", "precision", "spec_method")},
               "decode_dp_attention": Column("flag"),
               **{k: Column("count") for k in ("isl", "osl", "prefill_num_workers", "prefill_gpus_per_worker",
                                               "decode_num_workers", "decode_gpus_per_worker", "concurrency",
                                               "decode_max_batch")}}
    check_table(read_table(str(CONF_REPO / c.configuration_recipes), "calibration.configuration_recipes",
                           c.configuration_recipes), recipes, "calibration.configuration_recipes",
                c.configuration_recipes)


def _check_dask_installed(cfg: DictConfig) -> None:
    """``dask.enabled=true`` needs dask and distributed, the ``dask`` extra (not in the base install):
    without them each job of a sweep failed on an import."""
    from importlib.util import find_spec

    if cfg.dask.enabled and (find_spec("dask") is None or find_spec("distributed") is None):
        raise ConfigError("dask.enabled", True, 'needs the dask extra: pip install -e ".[dask]", or dask.enabled=false')


def _check_dask_chunks(cfg: DictConfig) -> None:
    for dim, size in cfg.dask.chunks.items():
        if size is None and dim in ("model", "hardware", "isl", "concurrency"):
            continue
        if dim not in ("model", "hardware", "isl", "concurrency"):
            raise ConfigError(f"dask.chunks.{dim}", size, "unknown dim; allowed: model, hardware, isl, concurrency")
        if size < 1 and size != -1:
            raise ConfigError(f"dask.chunks.{dim}", size, "must be a whole number >= 1, or -1 for the whole dim")
