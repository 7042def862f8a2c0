"""Calibration of the GPU model, decode and prefill jointly, on measured serving points (InferenceX).

Pure functions: a table of measured points in, predictions, fitted parameters and errors out.
:func:`calibrate` runs the whole fit and returns its tables and the catalog entries;
:mod:`model.app.calibrate` is the command that prints them and writes the files.

Each point is one benchmark run: a model on ``tp`` GPUs of one type at concurrency N with
nominal ISL / OSL.  Lengths are drawn uniformly from [0.8, 1.0] x nominal, so the mean request
has ``L = length_factor * isl`` input and ``O = length_factor * osl`` output tokens
(``length_factor`` = 0.9).  Every prediction is :func:`model.evaluate` itself, with the replica
pinned to ``tp`` GPUs under tensor parallelism (it admits the requests whose KV fits, docs/model.md §8),
the KV cache at the mean context during decode, ``L + O / 2`` (``workload.decode_context=mean``),
the ``physical`` prefill of docs/model.md §8 in aggregated serving, and no cached prefix (the benchmark
prompts are random: ``workload.mix.cache_read = 0``).  Interactivity, TTFT and throughput per
GPU (``requests_per_second * (L + O) / tp``) come from the same cell.

The fit is least squares on log interactivity (every point) and log TTFT (the points that have
one), with ``bandwidth_efficiency``, ``layer_overhead_s``, ``prefill_efficiency`` and
``prefill_overhead_s`` per GPU type (``calibration.per_hardware``).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
import xarray as xr
import yaml
from scipy.optimize import least_squares

from model.configurations import stack_of
from model.errors import ConfigError
from model.evaluate import evaluate
from model.schema import FIT_BOUNDS, ModelConfig

# fitted per hardware type / shared by all; bounds in the units of the config keys (declared with the schema)
BOUNDS = FIT_BOUNDS
SCALE = {"bandwidth_efficiency": 0.3, "layer_overhead_s": 5e-5, "compute_efficiency": 0.3,
         "prefill_efficiency": 0.3, "prefill_overhead_s": 0.05}
# a fixed start (not the catalog's current values) so that refitting reproduces the same digits
START = {"bandwidth_efficiency": 0.5, "layer_overhead_s": 5e-5, "compute_efficiency": 0.5,
         "prefill_efficiency": 0.3, "prefill_overhead_s": 0.02}
# the benchmark's requests: random prompts (nothing cached), lengths given per point
BENCHMARK_WORKLOAD = {"mix": {"cache_read": 0.0, "cache_write": 0.0, "input": 0.5, "output": 0.5},
                      "decode_context": "mean", "price_sheet": None}


def load_points(path: str) -> xr.Dataset:
    """The benchmark CSV as a Dataset on dim ``point`` (one row each, columns as variables).

    Raises
    ------
    ConfigError
        If ``path`` cannot be parsed as CSV (key ``calibration.data``).
    """
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError("calibration.data", path, f"must be a CSV file of benchmark points: {reason}") from None
    table.index = pd.RangeIndex(len(table), name="point")
    return xr.Dataset.from_dataframe(table)


def with_kv_bits(points: xr.Dataset, kv_bits: Mapping[str, float]) -> xr.Dataset:
    """``points`` with ``kv_cache_bits``: the KV cache bits of each point's serving stack
    (``calibration.stacks.kv_bits`` by :func:`stack_of` its framework), the stack facts the
    configuration fit uses too (docs/model.md §10).  Without them the B200 TP4 FP8 SGLang point
    (32 users of 8k prompts beside 168 GB of weights per 180 GB GPU) cannot hold its KV at BF16,
    queues for 8 s where 0.8 s was measured, and drags the B200's efficiencies to their bound 1."""
    bits = [float(kv_bits[stack_of(str(f))]) for f in points.framework.values]
    return points.assign(kv_cache_bits=("point", bits))


def point_weights(points: xr.Dataset, weights_gb: Mapping[str, Mapping[str, float]]) -> xr.DataArray:
    """Weight GB of the checkpoint each point ran (by model and precision)."""
    values = []
    for m, precision in zip(points.model.values, points.precision.values):
        try:
            values.append(float(weights_gb[m][precision]))
        except KeyError:
            raise KeyError(f"calibration.weights_gb.{m}.{precision} is not set") from None
    return xr.DataArray(values, dims="point")


class CalibrationSettings(Protocol):
    """What a calibration reads of the calibrate app's settings (``calibration.*``,
    :class:`model.app.schema.CalibrationSpec`)."""

    data: str
    length_factor: float
    weights_gb: Mapping[str, Any]
    per_hardware: Sequence[str]
    shared: Sequence[str]
    inherit: Mapping[str, str]
    cross_validate: bool
    stacks: Mapping[str, Any]   # per serving-stack family: kv_bits, ... (docs/model.md §10)


def predict(cfg: ModelConfig, points: xr.Dataset, weights_gb: Mapping, length_factor: float,
            fitted: Mapping[str, Mapping[str, float]] | None = None) -> xr.Dataset:
    """Predicted interactivity, TTFT and throughput per GPU at every point.

    Parameters
    ----------
    cfg
        Config whose ``select`` covers every model and GPU of ``points``, as the benchmarks ran
        (:func:`model.app.calibrate.benchmark_config`; a fit calls this many times, so the caller
        converts once).
    points
        The benchmark points (:func:`load_points`).
    weights_gb
        Checkpoint GB by model and precision (``calibration.weights_gb``).
    length_factor
        Mean length over nominal length of the benchmark requests.
    fitted
        ``{key: {hardware: value}}`` replacing catalog values (e.g. ``bandwidth_efficiency``).

    Returns
    -------
    xarray.Dataset
        On ``point``: ``interactivity`` (tok/s per request), ``ttft`` (s),
        ``throughput_per_gpu`` (all tokens, tok/s per GPU), ``systems``, ``admitted_requests``.
    """
    tp = points.tp.astype(float)
    params: dict = {}
    for hw in cfg.select.hardware:
        params[f"hardware.{hw}.min_systems"] = tp
        params[f"hardware.{hw}.max_systems"] = tp
    weights = point_weights(points, weights_gb)
    for m in cfg.select.models:
        # only this model's own points use its weight; the others see any valid value
        params[f"models.{m}.weight_gb"] = weights.where(points.model == m, float(weights.max()))
    for key, by_hw in (fitted or {}).items():
        if key == "cache_read_ratio":  # ratio mode's parameter: not part of the physical prediction
            continue
        for hw, value in by_hw.items():
            params[f"hardware.{hw}.{key}"] = value
    if "kv_cache_bits" in points:  # the KV cache bits of each point's serving stack (:func:`with_kv_bits`)
        for hw in cfg.select.hardware:
            params[f"hardware.{hw}.kv_cache_bits"] = points.kv_cache_bits
    params["workload.osl"] = length_factor * points.osl.astype(float)
    grid = evaluate(cfg, params, isl=length_factor * points.isl.astype(float),
                    concurrency=points.concurrency.astype(float),
                    variables=["interactivity", "ttft", "throughput", "systems", "admitted_requests"])
    at = grid.sel({"model": points.model, "hardware": points.gpu}).drop_vars(["model", "hardware"])
    return xr.Dataset({
        "interactivity": at.interactivity.assign_attrs(units="tok/s", long_name="predicted output tok/s per request"),
        "ttft": at.ttft.assign_attrs(units="s", long_name="predicted time to first token"),
        "throughput_per_gpu": (at.throughput / tp).assign_attrs(units="tok/s",
                                                                long_name="predicted tokens/s per GPU"),
        "systems": at.systems,
        "admitted_requests": at.admitted_requests,
    })


def cache_read_ratios(points: xr.Dataset, length_factor: float) -> pd.DataFrame:
    """Prefill rate over decode rate per GPU, from TTFT at each GPU's lowest concurrency.

    For each point with a TTFT: prefill rate ``L / TTFT`` (tok/s per request) over the measured
    interactivity.  Per GPU, the geometric mean over its points at the lowest concurrency that
    has a TTFT (where prefill runs least contended).
    """
    table = points[["gpu", "isl", "concurrency", "ttft_ms", "interactivity_tok_s"]].to_dataframe()
    table = table.dropna(subset=["ttft_ms"])
    table["ratio"] = length_factor * table.isl / (table.ttft_ms / 1000) / table.interactivity_tok_s
    lowest = table[table.concurrency == table.groupby("gpu").concurrency.transform("min")]
    return lowest.groupby("gpu").agg(cache_read_ratio=("ratio", lambda r: float(np.exp(np.log(r).mean()))),
                                     points=("ratio", "size"), concurrency=("concurrency", "first"))


def fit(cfg: ModelConfig, points: xr.Dataset, weights_gb: Mapping, length_factor: float,
        per_hardware: Sequence[str], shared: Sequence[str],
        progress: Callable[[int, int], None] | None = None) -> tuple[dict, dict]:
    """Least squares on log interactivity over all points and log TTFT where measured.

    ``per_hardware`` keys get one value per GPU type in ``points``; ``shared`` keys one value
    for all.  Returns ``(fitted, info)``: ``fitted[key][hardware] = value`` and, per shared
    key, whether the data constrain it (``info[key]["identified"]``).  ``progress(done, 0)``
    is called after each evaluation of the model (their number is not known in advance).
    ``cfg`` is the config as the benchmarks ran (:func:`model.app.calibrate.benchmark_config`).
    """
    gpus = sorted(set(points.gpu.values))
    names = [(k, g) for k in per_hardware for g in gpus] + [(k, None) for k in shared]
    lower = np.array([BOUNDS[k][0] for k, _ in names])
    upper = np.array([BOUNDS[k][1] for k, _ in names])
    scale = np.array([SCALE[k] for k, _ in names])
    start = np.array([START[k] for k, _ in names])
    has_ttft = np.isfinite(points.ttft_ms.values)
    measured = np.concatenate([np.log(points.interactivity_tok_s.values),
                               np.log(points.ttft_ms.values[has_ttft] / 1000)])

    def unpack(x: np.ndarray) -> dict:
        out: dict = {}
        for (k, g), v in zip(names, x):
            for hw in ([g] if g else gpus):
                out.setdefault(k, {})[hw] = float(v)
        return out

    evaluations = 0

    def residuals(x: np.ndarray) -> np.ndarray:
        nonlocal evaluations
        pred = predict(cfg, points, weights_gb, length_factor, unpack(x))
        evaluations += 1
        if progress is not None:
            progress(evaluations, 0)
        both = np.concatenate([pred.interactivity.values, pred.ttft.values[has_ttft]])
        return np.log(both) - measured

    # a per-hardware parameter moves only its own hardware's rows: a sparse Jacobian lets
    # least_squares estimate all hardware types' columns from one evaluation per key
    gpu_of_row = np.concatenate([points.gpu.values, points.gpu.values[has_ttft]])
    sparsity = np.array([[g is None or gpu_of_row[i] == g for (_, g) in names]
                         for i in range(len(gpu_of_row))], dtype=int)
    solution = least_squares(residuals, start, bounds=(lower, upper), x_scale=scale, jac_sparsity=sparsity,
                             ftol=1e-12, xtol=1e-12, gtol=1e-12)
    info = {}
    for i, (k, g) in enumerate(names):
        if g is None:
            sensitivity = float(np.abs(solution.jac[:, i]).max() * scale[i])
            info[k] = {"identified": sensitivity > 1e-3, "sensitivity": sensitivity}
    return unpack(solution.x), info


def error_table(points: xr.Dataset, predicted: xr.Dataset) -> pd.DataFrame:
    """Measured, predicted and % error of interactivity, TTFT and throughput per GPU, per point."""
    table = points[["id", "gpu", "model", "precision", "tp", "isl", "osl", "concurrency"]].to_dataframe()
    table["tok_s_meas"] = points.interactivity_tok_s.values
    table["tok_s_pred"] = predicted.interactivity.values
    table["tok_s_err_%"] = 100 * (table.tok_s_pred / table.tok_s_meas - 1)
    table["ttft_ms_meas"] = points.ttft_ms.values
    table["ttft_ms_pred"] = 1000 * predicted.ttft.values
    table["ttft_err_%"] = 100 * (table.ttft_ms_pred / table.ttft_ms_meas - 1)
    table["tput_gpu_meas"] = points.total_tput_per_gpu.values
    table["tput_gpu_pred"] = predicted.throughput_per_gpu.values
    table["tput_gpu_err_%"] = 100 * (table.tput_gpu_pred / table.tput_gpu_meas - 1)
    return table


def summary(table: pd.DataFrame) -> dict:
    """Median and worst absolute % error for interactivity, TTFT and throughput per GPU
    (and the leave-one-out columns where the table has them)."""
    columns = {"interactivity": "tok_s_err_%", "ttft": "ttft_err_%", "throughput_per_gpu": "tput_gpu_err_%",
               "interactivity_leave_one_out": "loo_tok_s_err_%", "ttft_leave_one_out": "loo_ttft_err_%"}
    out = {}
    for name, column in columns.items():
        if column not in table:
            continue
        errors = table[column].abs().dropna()
        out[name] = {"median_abs_pct": float(errors.median()), "worst_abs_pct": float(errors.max()),
                     "points": int(errors.size)}
    return out


def leave_one_out(cfg: ModelConfig, points: xr.Dataset, weights_gb: Mapping, length_factor: float,
                  per_hardware: Sequence[str], shared: Sequence[str],
                  progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """% error of interactivity and TTFT at each point predicted by a fit to all the other points.

    An estimate of the error on points the fit has not seen.  A point that is the only one of
    its hardware type is predicted with the catalog's values for that type.  Columns
    ``loo_tok_s_err_%`` and ``loo_ttft_err_%`` (NaN where no TTFT was measured), indexed by id.
    ``progress(done, total)`` is called after each fold.  ``cfg`` is the config as the benchmarks ran
    (:func:`model.app.calibrate.benchmark_config`).
    """
    rows = {}
    for i in range(points.sizes["point"]):
        if progress is not None:
            progress(i, points.sizes["point"])
        fitted, _ = fit(cfg, points.drop_isel(point=i), weights_gb, length_factor, per_hardware, shared)
        one = points.isel(point=[i])
        pred = predict(cfg, one, weights_gb, length_factor, fitted)
        rows[int(points.id.values[i])] = {
            "loo_tok_s_err_%": 100 * (float(pred.interactivity[0]) / float(one.interactivity_tok_s[0]) - 1),
            "loo_ttft_err_%": 100 * (1000 * float(pred.ttft[0]) / float(one.ttft_ms[0]) - 1),
        }
    if progress is not None:
        progress(points.sizes["point"], points.sizes["point"])
    return pd.DataFrame.from_dict(rows, orient="index")


@dataclass(frozen=True)
class CalibrationResult:
    """Everything one calibration produces (nothing written yet).

    ``table``: measured, predicted and % error per point; ``stats``: median and worst errors;
    ``fitted``: ``{key: {hardware: value}}`` of the identified parameters and the derived
    cache-read ratios; ``info``: per shared key, whether the data identify it; ``catalog``: the
    entries of the calibration catalog file, with sources.
    """

    table: pd.DataFrame
    stats: dict
    fitted: dict
    info: dict
    catalog: dict


def calibrate(cfg: ModelConfig, points: xr.Dataset, settings: CalibrationSettings,
              progress: Callable[[str, int, int], None] | None = None) -> CalibrationResult:
    """Fit, predict and score the GPU model on ``points`` as ``settings`` (``calibration.*``) ask,
    ``cfg`` being the config as the benchmarks ran (:func:`model.app.calibrate.benchmark_config`).

    With ``calibration.cross_validate`` the table gains a leave-one-out error column and the
    stats an ``interactivity_leave_one_out`` entry.  ``progress(stage, done, total)`` reports
    the stages ``"fit"`` (model evaluations, total 0: not known) and ``"folds"`` (leave-one-out
    fits).
    """
    def stage(name: str) -> Callable[[int, int], None] | None:
        return None if progress is None else (lambda done, total: progress(name, done, total))

    c = settings
    points = with_kv_bits(points, c.stacks["kv_bits"])
    weights = {m: dict(by_precision) for m, by_precision in c.weights_gb.items()}
    ratios = cache_read_ratios(points, c.length_factor)
    fitted, info = fit(cfg, points, weights, c.length_factor, list(c.per_hardware), list(c.shared), stage("fit"))
    fitted_with_ratios = dict(fitted, cache_read_ratio=ratios.cache_read_ratio.to_dict())
    for key, state in info.items():
        if not state["identified"]:
            fitted_with_ratios.pop(key)
    predicted = predict(cfg, points, weights, c.length_factor, fitted_with_ratios)
    table = error_table(points, predicted)
    stats = summary(table)
    counts = table.groupby("gpu").size().to_dict()
    catalog = catalog_entries(cfg, c, fitted, ratios, info, counts, stats)
    if c.cross_validate:
        loo = leave_one_out(cfg, points, weights, c.length_factor, list(c.per_hardware), list(c.shared),
                            stage("folds"))
        table = table.join(loo, on="id")
        stats = summary(table)
    return CalibrationResult(table, stats, fitted_with_ratios, info, catalog)


def catalog_entries(cfg: ModelConfig, settings: CalibrationSettings, fitted: dict, ratios, info: dict,
                    counts: dict, stats: dict) -> dict:
    """The YAML content of the calibration file: fitted values and their sources."""
    c = settings
    quality = (f"median |error| {stats['interactivity']['median_abs_pct']:.1f}% interactivity, "
               f"{stats['ttft']['median_abs_pct']:.1f}% TTFT, "
               f"{stats['throughput_per_gpu']['median_abs_pct']:.1f}% throughput per GPU")
    fit_source = (f"Fitted by python -m model.app.calibrate: least squares on log interactivity and log TTFT "
                  f"over {sum(counts.values())} InferenceX points in {c.data}; {quality}")
    entries: dict = {}
    for key, by_hw in fitted.items():
        for hw, value in by_hw.items():
            entry = entries.setdefault(hw, {"source": {}, "uncertain": set(cfg.hardware[hw].uncertain)})
            entry[key] = float(f"{value:.6g}")
            scope = "all GPU types together" if key in c.shared else f"{counts.get(hw, 0)} points of {hw}"
            entry["source"][key] = f"{fit_source}; fitted on {scope}"
            entry["uncertain"].discard(key)
    for hw, row in ratios.iterrows():
        entry = entries.setdefault(hw, {"source": {}, "uncertain": set(cfg.hardware[hw].uncertain)})
        entry["cache_read_ratio"] = float(f"{row.cache_read_ratio:.4g}")
        entry["source"]["cache_read_ratio"] = (
            f"Derived by python -m model.app.calibrate: prefill rate L/TTFT over the measured decode rate, "
            f"geometric mean of {int(row.points)} InferenceX point(s) at concurrency {int(row.concurrency)} "
            f"(the lowest with a TTFT for {hw})")
        entry["uncertain"].add("cache_read_ratio")
    for key, state in info.items():
        if not state["identified"]:
            for entry in entries.values():
                entry.pop(key, None)
                entry["source"].pop(key, None)
    for hw, parent in c.inherit.items():
        if parent in entries:
            child = {k: v for k, v in entries[parent].items() if k not in ("source", "uncertain")}
            child["source"] = {k: f"No InferenceX points for {hw}: {parent}'s value ({v})"
                               for k, v in entries[parent]["source"].items()}
            child["uncertain"] = set(cfg.hardware[hw].uncertain) | set(child) - {"source"}
            entries[hw] = child
    for entry in entries.values():
        entry["uncertain"] = sorted(entry["uncertain"])
    return entries


def calibration_yaml(entries: dict) -> str:
    """The calibration catalog file's text: a header saying how it was made, then the entries."""
    header = ("# Written by `python -m model.app.calibrate` (conf/calibrate.yaml): GPU decode parameters\n"
              "# fitted to the InferenceX points. Regenerate instead of editing by hand.\n")
    return header + yaml.safe_dump(entries, sort_keys=False, width=200)


MAD_TO_SD = 1.4826  # sd of a normal distribution per median absolute deviation


def model_error(settings: CalibrationSettings, table: pd.DataFrame) -> dict:
    """The GPU model's error spread from the leave-one-out columns, for the uncertainty app.

    For interactivity and TTFT: ``sigma``, a robust standard deviation (1.4826 x the median
    absolute deviation) of ``log(measured / predicted)`` over the points, each predicted by a fit
    without it, and ``median_abs_pct``, the median absolute % error.  The robust estimate keeps
    the few points the model misses by 100%+ (README: the worst errors) from setting the width
    of every band.  ``hardware`` lists the fitted GPU types and those that inherit their values.

    Parameters
    ----------
    settings
        The calibrate app's ``calibration`` settings (``data`` and ``inherit`` are read).
    table
        :attr:`CalibrationResult.table` of a run with ``calibration.cross_validate=true``.

    Returns
    -------
    dict
        The content of the model-error file (see :func:`model_error_yaml`).
    """
    if "loo_tok_s_err_%" not in table:
        raise ValueError("model_error needs the leave-one-out columns: run with calibration.cross_validate=true")
    c = settings
    out: dict = {
        "source": (f"Leave-one-out errors of the GPU decode model over the InferenceX points in {c.data}: "
                   "each point predicted by a fit to all the others (python -m model.app.calibrate "
                   "calibration.cross_validate=true); sigma = 1.4826 x median |log(measured/predicted) - median|"),
        "points": int(table["loo_tok_s_err_%"].notna().sum()),
        "hardware": sorted(set(table.gpu)) + sorted(h for h, parent in c.inherit.items() if parent in set(table.gpu)),
    }
    for name, column in (("interactivity", "loo_tok_s_err_%"), ("ttft", "loo_ttft_err_%")):
        err = table[column].dropna().to_numpy() / 100
        log_ratio = -np.log1p(err)  # log(measured / predicted)
        mad = float(np.median(np.abs(log_ratio - np.median(log_ratio))))
        out[name] = {"sigma": float(f"{MAD_TO_SD * mad:.4g}"),
                     "median_abs_pct": float(f"{100 * np.median(np.abs(err)):.3g}"),
                     "median_log_ratio": float(f"{np.median(log_ratio):.4g}"),
                     "points": int(err.size)}
    return out


def model_error_yaml(entries: dict) -> str:
    """The model-error file's text: a header saying how it was made, then the entries."""
    header = ("# Written by `serving-calibrate calibration.cross_validate=true calibration.write=true`:\n"
              "# the GPU model's leave-one-out error spread, read by the uncertainty app\n"
              "# (multiplicative lognormal factors on interactivity and TTFT). Regenerate instead of editing.\n")
    return header + yaml.safe_dump(entries, sort_keys=False, width=200)
