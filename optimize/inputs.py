"""Inputs of the fleet plan (SPEC §5): ISL buckets, demand, inventory and the evaluated grid.

Everything the MILP is asked to satisfy comes from here: the ISL distribution as weighted
buckets, the requests/s per model (the SLA per model is :func:`optimize.concurrency.sla_by_model`),
the cost model evaluated on (model, hardware, bucket, concurrency), the demand rows (one per
(model, bucket) with demand) and the inventory cap per hardware type.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr
from omegaconf import DictConfig
from scipy.stats import norm

from model.evaluate import evaluate
from optimize.concurrency import sla_by_model
from optimize.schema import IslKind

# the per-cell variables of the cost model that candidate columns and shortfall reports read
COLUMN_VARIABLES = ["requests_per_second", "systems", "cost_per_hour", "interactivity", "cost_per_mtok",
                    "meets_sla", "feasible"]


def isl_buckets(cfg: DictConfig) -> tuple[np.ndarray, np.ndarray]:
    """ISL per bucket (tokens) and its weight (share of requests).

    ``p50``: one bucket at ``workload.isl``.  ``lognormal``: ``buckets`` equal-probability
    buckets of ln ISL ~ N(ln median, sigma²), each represented by its median quantile
    ``exp(ln median + sigma * z((k + 1/2) / buckets))``.  ``buckets``: as listed.

    Parameters
    ----------
    cfg
        Validated optimizer config.

    Returns
    -------
    tuple of numpy.ndarray
        ISL (int, tokens) and weight (float, summing to 1), one entry per bucket.
    """
    distribution = cfg.fleet.isl
    if distribution.kind == IslKind.p50:
        return np.array([int(cfg.workload.isl)]), np.array([1.0])
    if distribution.kind == IslKind.lognormal:
        median = float(distribution.median if distribution.median is not None else cfg.workload.isl)
        quantile = (np.arange(distribution.buckets) + 0.5) / distribution.buckets
        isl = np.rint(median * np.exp(distribution.sigma * norm.ppf(quantile))).astype(np.int64)
        return isl, np.full(distribution.buckets, 1.0 / distribution.buckets)
    return (np.array([int(b.isl) for b in distribution.explicit]),
            np.array([float(b.weight) for b in distribution.explicit]))


def demand_by_model(cfg: DictConfig) -> xr.DataArray:
    """Requests/s of each selected model: ``fleet.demand``, else ``fleet.demand_default``.

    Parameters
    ----------
    cfg
        Validated optimizer config.

    Returns
    -------
    xarray.DataArray
        Dim ``model``, requests per second.
    """
    models = list(cfg.select.models)
    demand = cfg.fleet.demand
    values = [float(cfg.fleet.demand_default if demand.get(m) is None else demand[m]) for m in models]
    return xr.DataArray(values, dims="model", coords={"model": models},
                        attrs={"units": "1/s", "long_name": "demand, requests per second"})


def inventory_by_hardware(cfg: DictConfig, hardware: Sequence[str]) -> np.ndarray:
    """Most systems available per hardware type, in the order of ``hardware`` (``inf``: no cap).

    Parameters
    ----------
    cfg
        Validated optimizer config.
    hardware
        Hardware names (the grid's ``hardware`` coordinate).
    """
    inventory = cfg.fleet.inventory
    return np.array([np.inf if inventory.get(h) is None else float(inventory[h]) for h in hardware])


def bucket_grid(cfg: DictConfig) -> xr.Dataset:
    """The cost model on dims (model, hardware, bucket, concurrency) with each model's SLA.

    Parameters
    ----------
    cfg
        Validated optimizer config.

    Returns
    -------
    xarray.Dataset
        :data:`COLUMN_VARIABLES` with coordinates ``bucket_isl`` and ``bucket_weight`` on ``bucket``.
    """
    isl, weight = isl_buckets(cfg)
    bucket = xr.DataArray(isl, dims="bucket", coords={"bucket": np.arange(len(isl))})
    grid = evaluate(cfg, {"sla.min_interactivity": sla_by_model(cfg)}, isl=bucket, variables=COLUMN_VARIABLES)
    return grid.assign_coords(bucket_isl=("bucket", isl), bucket_weight=("bucket", weight))


@dataclass(frozen=True)
class DemandRows:
    """The demand rows of the MILP: one per (model, ISL bucket) with demand, in (model, bucket) order.

    Attributes
    ----------
    model, bucket
        Per row: index into the grid's ``model`` and ``bucket``.
    requests_per_second
        Per row: demand of the model times the bucket's weight.
    tokens_per_request
        Per row: ISL + OSL of the bucket (what one request costs in tokens).
    row_of_cell
        Shape (model, bucket): the row of each pair, ``-1`` where there is no demand.
    """

    model: np.ndarray
    bucket: np.ndarray
    requests_per_second: np.ndarray
    tokens_per_request: np.ndarray
    row_of_cell: np.ndarray

    def __len__(self) -> int:
        return len(self.requests_per_second)


def demand_rows(grid: xr.Dataset, demand: xr.DataArray) -> DemandRows:
    """Split each model's demand over the grid's ISL buckets, one row per (model, bucket) with demand.

    Parameters
    ----------
    grid
        A :func:`bucket_grid` (or a grid with the same coordinates and ``osl``).
    demand
        Requests/s per model (:func:`demand_by_model`).

    Returns
    -------
    DemandRows
    """
    weights = grid.bucket_weight.values
    per_cell = demand.sel(model=grid.model).values[:, None] * weights[None, :]  # (model, bucket)
    active = per_cell > 0
    row_of_cell = np.where(active, np.cumsum(active.ravel()).reshape(active.shape) - 1, -1)
    model, bucket = np.nonzero(active)
    # tokens per request of each bucket: L + O (OSL is a scalar, or along bucket when it depends on ISL)
    tokens = (grid.bucket_isl + grid.osl).values if grid.osl.ndim else grid.bucket_isl.values + float(grid.osl)
    per_cell_tokens = np.broadcast_to(tokens[None, :], per_cell.shape)
    return DemandRows(model=model, bucket=bucket, requests_per_second=per_cell[active],
                      tokens_per_request=per_cell_tokens[active], row_of_cell=row_of_cell)
