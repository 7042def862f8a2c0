"""Calibration of the GPU decode model on measured serving points (InferenceX).

Pure functions: a table of measured points in, predictions, fitted parameters and errors out.
:func:`calibrate` runs the whole fit and returns its tables and the catalog entries;
:mod:`model.app.calibrate` is the command that prints them and writes the files.

Each point is one benchmark run: a model on ``tp`` GPUs of one type at concurrency N with
nominal ISL / OSL.  Lengths are drawn uniformly from [0.8, 1.0] x nominal, so the mean request
has ``L = length_factor * isl`` input and ``O = length_factor * osl`` output tokens
(``length_factor`` = 0.9).  The decode step is predicted by :func:`model.evaluate` itself, with
the replica pinned to ``tp`` systems and the KV cache at the mean context during decode,
``L + O / 2``; throughput per GPU then follows SPEC §2: ``N (L + O) / (L / R + O / I) / tp``
with ``R = cache_read_ratio * I``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
import yaml
from omegaconf import DictConfig, OmegaConf
from scipy.optimize import least_squares

from model.evaluate import evaluate

# fitted per hardware type / shared by all; bounds in the units of the config keys
BOUNDS = {"bandwidth_efficiency": (0.02, 1.0), "layer_overhead_s": (0.0, 2e-3),
          "compute_efficiency": (0.01, 1.0)}
SCALE = {"bandwidth_efficiency": 0.3, "layer_overhead_s": 5e-5, "compute_efficiency": 0.3}
# a fixed start (not the catalog's current values) so that refitting reproduces the same digits
START = {"bandwidth_efficiency": 0.5, "layer_overhead_s": 5e-5, "compute_efficiency": 0.5}


def load_points(path: str) -> xr.Dataset:
    """The benchmark CSV as a Dataset on dim ``point`` (one row each, columns as variables)."""
    table = pd.read_csv(path)
    table.index = pd.RangeIndex(len(table), name="point")
    return xr.Dataset.from_dataframe(table)


def point_weights(points: xr.Dataset, weights_gb: Mapping[str, Mapping[str, float]]) -> xr.DataArray:
    """Weight GB of the checkpoint each point ran (by model and precision)."""
    values = []
    for m, precision in zip(points.model.values, points.precision.values):
        try:
            values.append(float(weights_gb[m][precision]))
        except KeyError:
            raise KeyError(f"calibration.weights_gb.{m}.{precision} is not set") from None
    return xr.DataArray(values, dims="point")


def predict(cfg: DictConfig, points: xr.Dataset, weights_gb: Mapping, length_factor: float,
            fitted: Mapping[str, Mapping[str, float]] | None = None) -> xr.Dataset:
    """Predicted interactivity and throughput per GPU at every point.

    Parameters
    ----------
    cfg
        Config whose ``select`` covers every model and GPU of ``points``.
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
        On ``point``: ``interactivity`` (tok/s per request), ``throughput_per_gpu``
        (all tokens, tok/s per GPU), ``systems``.
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
        for hw, value in by_hw.items():
            params[f"hardware.{hw}.{key}"] = value
    isl = length_factor * points.isl.astype(float)
    osl = length_factor * points.osl.astype(float)
    grid = evaluate(cfg, params, isl=isl + osl / 2, concurrency=points.concurrency.astype(float),
                    variables=["interactivity", "systems"])
    at = {"model": points.model, "hardware": points.gpu}
    interactivity = grid.interactivity.sel(at).drop_vars(["model", "hardware"])
    ratio = xr.DataArray([float(cfg.hardware[g].cache_read_ratio) for g in points.gpu.values], dims="point")
    if fitted and "cache_read_ratio" in fitted:
        ratio = xr.DataArray([fitted["cache_read_ratio"].get(g, r) for g, r in
                              zip(points.gpu.values, ratio.values)], dims="point")
    request_time = isl / (ratio * interactivity) + osl / interactivity
    throughput = points.concurrency * (isl + osl) / request_time / tp
    return xr.Dataset({
        "interactivity": interactivity.assign_attrs(units="tok/s", long_name="predicted output tok/s per request"),
        "throughput_per_gpu": throughput.assign_attrs(units="tok/s", long_name="predicted tokens/s per GPU"),
        "systems": grid.systems.sel(at).drop_vars(["model", "hardware"]),
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


def fit(cfg: DictConfig, points: xr.Dataset, weights_gb: Mapping, length_factor: float,
        per_hardware: Sequence[str], shared: Sequence[str]) -> tuple[dict, dict]:
    """Least squares on log interactivity over all points.

    ``per_hardware`` keys get one value per GPU type in ``points``; ``shared`` keys one value
    for all.  Returns ``(fitted, info)``: ``fitted[key][hardware] = value`` and, per shared
    key, whether the data constrain it (``info[key]["identified"]``).
    """
    gpus = sorted(set(points.gpu.values))
    names = [(k, g) for k in per_hardware for g in gpus] + [(k, None) for k in shared]
    lower = np.array([BOUNDS[k][0] for k, _ in names])
    upper = np.array([BOUNDS[k][1] for k, _ in names])
    scale = np.array([SCALE[k] for k, _ in names])
    start = np.array([START[k] for k, _ in names])
    measured = np.log(points.interactivity_tok_s.values)

    def unpack(x: np.ndarray) -> dict:
        out: dict = {}
        for (k, g), v in zip(names, x):
            for hw in ([g] if g else gpus):
                out.setdefault(k, {})[hw] = float(v)
        return out

    def residuals(x: np.ndarray) -> np.ndarray:
        pred = predict(cfg, points, weights_gb, length_factor, unpack(x)).interactivity.values
        return np.log(pred) - measured

    # a per-hardware parameter moves only its own hardware's points: a sparse Jacobian lets
    # least_squares estimate all hardware types' columns from one evaluation per key
    gpu_of_point = points.gpu.values
    sparsity = np.array([[g is None or gpu_of_point[i] == g for (_, g) in names]
                         for i in range(points.sizes["point"])], dtype=int)
    solution = least_squares(residuals, start, bounds=(lower, upper), x_scale=scale, jac_sparsity=sparsity,
                             ftol=1e-12, xtol=1e-12, gtol=1e-12)
    info = {}
    for i, (k, g) in enumerate(names):
        if g is None:
            sensitivity = float(np.abs(solution.jac[:, i]).max() * scale[i])
            info[k] = {"identified": sensitivity > 1e-3, "sensitivity": sensitivity}
    return unpack(solution.x), info


def error_table(points: xr.Dataset, predicted: xr.Dataset) -> pd.DataFrame:
    """Measured, predicted and % error of interactivity and throughput per GPU, per point."""
    table = points[["id", "gpu", "model", "precision", "tp", "isl", "osl", "concurrency"]].to_dataframe()
    table["tok_s_meas"] = points.interactivity_tok_s.values
    table["tok_s_pred"] = predicted.interactivity.values
    table["tok_s_err_%"] = 100 * (table.tok_s_pred / table.tok_s_meas - 1)
    table["tput_gpu_meas"] = points.total_tput_per_gpu.values
    table["tput_gpu_pred"] = predicted.throughput_per_gpu.values
    table["tput_gpu_err_%"] = 100 * (table.tput_gpu_pred / table.tput_gpu_meas - 1)
    return table


def summary(table: pd.DataFrame) -> dict:
    """Median and worst absolute % error for interactivity and throughput per GPU."""
    out = {}
    for name, column in (("interactivity", "tok_s_err_%"), ("throughput_per_gpu", "tput_gpu_err_%")):
        errors = table[column].abs().dropna()
        out[name] = {"median_abs_pct": float(errors.median()), "worst_abs_pct": float(errors.max()),
                     "points": int(errors.size)}
    return out


def leave_one_out(cfg: DictConfig, points: xr.Dataset, weights_gb: Mapping, length_factor: float,
                  per_hardware: Sequence[str], shared: Sequence[str]) -> pd.Series:
    """% error of interactivity at each point predicted by a fit to all the other points.

    An estimate of the error on points the fit has not seen.  A point that is the only one of
    its hardware type is predicted with the catalog's values for that type.
    """
    errors = {}
    for i in range(points.sizes["point"]):
        rest = points.drop_isel(point=i)
        fitted, _ = fit(cfg, rest, weights_gb, length_factor, per_hardware, shared)
        one = points.isel(point=[i])
        pred = predict(cfg, one, weights_gb, length_factor, fitted).interactivity.values[0]
        errors[int(points.id.values[i])] = 100 * (pred / points.interactivity_tok_s.values[i] - 1)
    return pd.Series(errors, name="loo_tok_s_err_%")


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


def calibrate(cfg: DictConfig, points: xr.Dataset) -> CalibrationResult:
    """Fit, predict and score the GPU model on ``points`` as ``cfg.calibration`` asks.

    With ``calibration.cross_validate`` the table gains a leave-one-out error column and the
    stats an ``interactivity_leave_one_out`` entry.
    """
    c = cfg.calibration
    weights = OmegaConf.to_container(c.weights_gb)
    ratios = cache_read_ratios(points, c.length_factor)
    fitted, info = fit(cfg, points, weights, c.length_factor, list(c.per_hardware), list(c.shared))
    fitted_with_ratios = dict(fitted, cache_read_ratio=ratios.cache_read_ratio.to_dict())
    for key, state in info.items():
        if not state["identified"]:
            fitted_with_ratios.pop(key)
    predicted = predict(cfg, points, weights, c.length_factor, fitted_with_ratios)
    table = error_table(points, predicted)
    stats = summary(table)
    counts = table.groupby("gpu").size().to_dict()
    catalog = catalog_entries(cfg, fitted, ratios, info, counts, stats)
    if c.cross_validate:
        loo = leave_one_out(cfg, points, weights, c.length_factor, list(c.per_hardware), list(c.shared))
        table = table.join(loo, on="id")
        stats["interactivity_leave_one_out"] = {"median_abs_pct": float(loo.abs().median()),
                                                "worst_abs_pct": float(loo.abs().max()), "points": int(loo.size)}
    return CalibrationResult(table, stats, fitted_with_ratios, info, catalog)


def catalog_entries(cfg: DictConfig, fitted: dict, ratios, info: dict, counts: dict,
                    stats: dict) -> dict:
    """The YAML content of the calibration file: fitted values and their sources."""
    c = cfg.calibration
    quality = (f"median |error| {stats['interactivity']['median_abs_pct']:.1f}% interactivity, "
               f"{stats['throughput_per_gpu']['median_abs_pct']:.1f}% throughput per GPU")
    fit_source = (f"Fitted by python -m model.app.calibrate: least squares on log "
                  f"interactivity over {sum(counts.values())} InferenceX points in {c.data}; {quality}")
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
