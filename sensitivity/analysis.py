"""Sobol analysis of the cost model: declared parameters → SALib problem → one vectorized model
evaluation for all samples → indices per output (and per model).

Outputs, for each model on the selected hardware:

- ``cost_per_mtok``: $/Mtok at the sampled ISL and concurrency;
- ``optimal_cost_per_mtok``: the least $/Mtok over the concurrency grid among concurrencies
  that meet the SLA, at the sampled ISL;
- ``optimal_concurrency``: where that least cost is.

Every sample is evaluated in one call (samples become a ``sample`` dim of the cost model).  The
models' ``max_context`` is lifted for the analysis so that every sampled ISL has a cost; how
many samples lie beyond a model's context is reported.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import xarray as xr
from omegaconf import DictConfig, OmegaConf

from model.cheapest import cheapest_under_sla
from model.evaluate import evaluate
from sensitivity.schema import Distribution
from sensitivity.sobol import sobol

OUTPUTS = ("cost_per_mtok", "optimal_cost_per_mtok", "optimal_concurrency")
OUTPUT_ATTRS = {
    "cost_per_mtok": ("$/Mtok", "hardware cost per Mtok at the sampled ISL and concurrency"),
    "optimal_cost_per_mtok": ("$/Mtok", "least cost per Mtok over the concurrency grid meeting the SLA"),
    "optimal_concurrency": ("requests", "concurrency of that least cost"),
}


def problem(cfg: DictConfig) -> dict:
    """The SALib problem of the declared parameters (bounds resolved, SALib distributions)."""
    names, bounds, dists = [], [], []
    for name, p in cfg.sensitivity.parameters.items():
        scale = float(OmegaConf.select(cfg, p.key)) if p.relative else 1.0
        names.append(name)
        if p.distribution == Distribution.normal:
            bounds.append([p.mean * scale, p.sd * scale])
            dists.append("norm")
            continue
        low, high = (float(v) * scale for v in p.bounds)
        if p.distribution == Distribution.uniform:
            bounds.append([low, high])
            dists.append("unif")
        elif p.distribution == Distribution.loguniform:
            bounds.append([low, high])
            dists.append("logunif")
        else:  # triangular: SALib takes [start, end, peak as a fraction of the width]
            mode = (low + high) / 2 if p.mode is None else float(p.mode) * scale
            bounds.append([low, high, (mode - low) / (high - low)])
            dists.append("triang")
    return {"num_vars": len(names), "names": names, "bounds": bounds, "dists": dists}


def model_names(cfg: DictConfig) -> list[str]:
    return list(cfg.models.keys()) if cfg.sensitivity.all_models else list(cfg.select.models)


def cost_function(cfg: DictConfig, block_cells: int | None = None,
                  progress: Callable | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """``f(X) -> Y``: X (n, D) parameter values, Y (n, 3 x models) ordered output-major."""
    keys = [p.key for p in cfg.sensitivity.parameters.values()]
    models = model_names(cfg)
    hardware = cfg.select.hardware[0]
    lifted = OmegaConf.merge(cfg, {"select": {"models": models}})
    # every sampled ISL gets a cost (see the module docstring)
    no_context_limit = {f"models.{m}.max_context": float(2 ** 62) for m in models}

    def f(x: np.ndarray) -> np.ndarray:
        f.samples = x
        sample = {key: xr.DataArray(x[:, i], dims="sample") for i, key in enumerate(keys)}
        isl = sample.pop("workload.isl", xr.DataArray(float(cfg.workload.isl)))
        n = sample.pop("workload.concurrency", xr.DataArray(float(cfg.workload.concurrency)))
        n = np.maximum(1.0, np.rint(n))  # whole requests
        sample.update(no_context_limit)
        at = evaluate(lifted, sample, isl=isl, concurrency=n, variables=["cost_per_mtok"])
        kwargs = {} if block_cells is None else {"block_cells": block_cells}
        best = cheapest_under_sla(lifted, sample, isl=isl, progress=progress, **kwargs)
        columns = [at.cost_per_mtok, best.cost_per_mtok, best.concurrency]
        cols = [c.sel(hardware=hardware).transpose("sample", "model").values for c in columns]
        return np.concatenate(cols, axis=1)

    return f


def analyze(cfg: DictConfig, progress: Callable | None = None) -> xr.Dataset:
    """Sobol indices of the three outputs for every analysed model.

    Returns
    -------
    xarray.Dataset
        ``S1``, ``S1_conf``, ``ST``, ``ST_conf`` (output, model, parameter), ``S2``, ``S2_conf``
        (output, model, parameter, parameter_2), ``ST_by_n``, ``clipped``, ``valid_samples``,
        ``beyond_context`` (share of samples whose ISL exceeds the model's context).
    """
    s = cfg.sensitivity
    prob = problem(cfg)
    models = model_names(cfg)
    names = [f"{o}|{m}" for o in OUTPUTS for m in models]
    func = cost_function(cfg, progress=progress)
    ds = sobol(func, prob, int(s.n), int(s.seed), bool(s.second_order),
               outputs=names, conf_level=float(s.conf_level), num_resamples=int(s.num_resamples))
    split = [n.split("|") for n in ds.output.values]
    import pandas as pd

    index = pd.MultiIndex.from_tuples(split, names=["quantity", "model"])
    ds = ds.assign_coords(xr.Coordinates.from_pandas_multiindex(index, "output")).unstack("output")
    ds = ds.rename({"quantity": "output"}).transpose("output", "model", ...)
    ds = ds.reindex(output=list(OUTPUTS), model=models)
    context = xr.DataArray([float(cfg.models[m].max_context) for m in models], dims="model", coords={"model": models})
    keys = [p.key for p in s.parameters.values()]
    if "workload.isl" in keys:
        isl = xr.DataArray(func.samples[:, keys.index("workload.isl")], dims="sample")
        ds["beyond_context"] = (isl > context).mean("sample")
    else:
        ds["beyond_context"] = float(cfg.workload.isl) > context
    ds["beyond_context"].attrs.update(units="1", long_name="share of samples with ISL beyond the model's max_context")
    ds["key"] = ("parameter", [p.key for p in s.parameters.values()])
    ds.attrs.update(hardware=str(cfg.select.hardware[0]), sla_min_interactivity=float(cfg.sla.min_interactivity))
    return ds
