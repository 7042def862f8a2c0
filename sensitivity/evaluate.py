"""Step 2 of the analysis: the cost model on a Sobol design, ``X -> Y`` for all samples in one call.

Outputs, for each analysed model on the selected hardware:

- ``cost_per_mtok``: $/Mtok at the sampled ISL and concurrency;
- ``optimal_cost_per_mtok``: the least $/Mtok over the concurrency grid among concurrencies
  that meet the SLA, at the sampled ISL;
- ``optimal_concurrency``: where that least cost is.

The samples become a ``sample`` dim of the cost model, so one call evaluates them all.  The
models' ``max_context`` is lifted so that every sampled ISL has a cost (``sensitivity.analysis``
reports how many samples lie beyond a model's context).
"""
from __future__ import annotations

import numpy as np
import xarray as xr
from omegaconf import DictConfig, OmegaConf

from model.cheapest import cheapest_under_sla
from model.engine import Progress
from model.evaluate import evaluate

OUTPUTS = ("cost_per_mtok", "optimal_cost_per_mtok", "optimal_concurrency")
OUTPUT_ATTRS = {
    "cost_per_mtok": ("$/Mtok", "hardware cost per Mtok at the sampled ISL and concurrency"),
    "optimal_cost_per_mtok": ("$/Mtok", "least cost per Mtok over the concurrency grid meeting the SLA"),
    "optimal_concurrency": ("requests", "concurrency of that least cost"),
}
SEPARATOR = "|"  # between output and model in the flat column names of Y


def model_names(cfg: DictConfig) -> list[str]:
    """The models the sensitivity config ``cfg`` analyses: every catalog model with
    ``sensitivity.all_models``, else ``select.models``."""
    return list(cfg.models.keys()) if cfg.sensitivity.all_models else list(cfg.select.models)


def output_names(cfg: DictConfig) -> list[str]:
    """Names of the columns of :func:`evaluate_design`'s ``Y`` for the sensitivity config ``cfg``:
    ``output|model``, output-major (``len(OUTPUTS) x len(model_names(cfg))`` names)."""
    return [f"{o}{SEPARATOR}{m}" for o in OUTPUTS for m in model_names(cfg)]


def evaluate_design(cfg: DictConfig, x: np.ndarray, *, block_cells: int | None = None,
                    progress: Progress | None = None) -> np.ndarray:
    """The cost model's outputs on every row of a design, in one vectorized call.

    Parameters
    ----------
    cfg
        A validated sensitivity config; its ``sensitivity.parameters`` give the columns of ``x``.
    x
        ``(samples, D)`` parameter values, columns in the order of ``sensitivity.parameters``
        (the design of :func:`sensitivity.sample.sample` on :func:`sensitivity.sample.problem`).
    block_cells
        Cells per block of the cost model's minimum over the concurrency grid (default: the
        cost model's).
    progress
        Called as blocks of that minimum finish.

    Returns
    -------
    numpy.ndarray
        ``(samples, len(OUTPUTS) x models)``, columns named by :func:`output_names`.  NaN where no
        concurrency meets the SLA.
    """
    keys = [p.key for p in cfg.sensitivity.parameters.values()]
    models = model_names(cfg)
    hardware = cfg.select.hardware[0]
    lifted = OmegaConf.merge(cfg, {"select": {"models": models}})
    sample = {key: xr.DataArray(x[:, i], dims="sample") for i, key in enumerate(keys)}
    isl = sample.pop("workload.isl", xr.DataArray(float(cfg.workload.isl)))
    n = sample.pop("workload.concurrency", xr.DataArray(float(cfg.workload.concurrency)))
    n = np.maximum(1.0, np.rint(n))  # whole requests
    # every sampled ISL gets a cost (see the module docstring)
    sample.update({f"models.{m}.max_context": float(2 ** 62) for m in models})
    at = evaluate(lifted, sample, isl=isl, concurrency=n, variables=["cost_per_mtok"])
    kwargs = {} if block_cells is None else {"block_cells": block_cells}
    best = cheapest_under_sla(lifted, sample, isl=isl, progress=progress, **kwargs)
    columns = [at.cost_per_mtok, best.cost_per_mtok, best.concurrency]
    cols = [c.sel(hardware=hardware).transpose("sample", "model").values for c in columns]
    return np.concatenate(cols, axis=1)
