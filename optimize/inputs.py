"""Inputs of the fleet plan (docs/model.md §5, §9): ISL buckets, demand, inventory and the evaluated grid.

Everything the MILP is asked to satisfy comes from here: the ISL distribution as weighted
buckets, the requests/s per model (the SLA per model is :func:`optimize.concurrency.sla_by_model`,
the TTFT limit :func:`optimize.concurrency.ttft_by_model`), the cost model evaluated on (model,
hardware, bucket, concurrency) over the hardware on offer and the prefill hardware, the demand
rows (one per (model, bucket) with demand), the inventory cap per hardware type and the
:class:`ColumnOptions` that say which hardware makes which kind of column.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
from omegaconf import DictConfig

from model.app.config import with_values
from model.app.validate import validate as validate_model
from model.errors import ConfigError
from model.evaluate import evaluate
from model.parameters import SLA_QUANTILE
from model.schema import PrefillMode, SlaPercentile
from optimize.concurrency import sla_by_model, ttft_by_model
from optimize.schema import IslKind

# a config and its params -> the same, trimmed (optimize.scenario_grid.selected_catalog)
Trim = Callable[[DictConfig, Mapping[str, Any]], tuple[DictConfig, dict[str, Any]]]
MAX_BUCKET_ISL = 1e9  # tokens: the "[1, 1e9]" rule of workload.isl and of explicit buckets

# the per-cell variables of the cost model that candidate columns and shortfall reports read
# (the disaggregated columns of docs/model.md §9 read the decode step, the prefill terms and the TTFT)
COLUMN_VARIABLES = ["requests_per_second", "systems", "cost_per_hour", "interactivity", "cost_per_mtok",
                    "meets_sla", "feasible", "step_time", "prefill_time", "prefill_capacity", "ttft",
                    "admitted_requests", "pool_prefill_time", "pool_prefill_capacity"]


def isl_buckets(cfg: DictConfig) -> tuple[np.ndarray, np.ndarray]:
    """ISL per bucket (tokens) and its weight (share of requests), one bucket per distinct ISL.

    ``p50``: one bucket at ``workload.isl``.  ``lognormal``: ``buckets`` equal-probability
    buckets of ln ISL ~ N(ln median, sigma²), each represented by its median quantile
    ``exp(ln median + sigma * z((k + 1/2) / buckets))``.  ``buckets``: as listed.  Buckets that
    land on the same ISL are one bucket with their weights summed: two rows for the same requests
    would each get their own replicas, and a tiny sigma would plan the same ISL eight times.

    Parameters
    ----------
    cfg
        Validated optimizer config.

    Returns
    -------
    tuple of numpy.ndarray
        ISL (int, tokens, increasing) and weight (float, summing to 1), one entry per bucket.

    Raises
    ------
    model.errors.ConfigError
        A lognormal whose buckets fall outside 1 .. ``MAX_BUCKET_ISL`` tokens.
    """
    distribution = cfg.fleet.isl
    if distribution.kind == IslKind.p50:
        return np.array([int(cfg.workload.isl)]), np.array([1.0])
    if distribution.kind == IslKind.lognormal:
        median = float(distribution.median if distribution.median is not None else cfg.workload.isl)
        quantile = (np.arange(distribution.buckets) + 0.5) / distribution.buckets
        from scipy.stats import norm  # scipy.stats takes ~0.5 s to import: only for lognormal buckets

        with np.errstate(over="ignore", invalid="ignore"):
            raw = np.rint(median * np.exp(distribution.sigma * norm.ppf(quantile)))
        if not (np.isfinite(raw).all() and raw.min() >= 1 and raw.max() <= MAX_BUCKET_ISL):
            key = "fleet.isl.sigma" if distribution.sigma > 1 else "fleet.isl.median"
            value = distribution.sigma if key == "fleet.isl.sigma" else median
            raise ConfigError(key, value, f"the lognormal's buckets must lie in 1 .. {MAX_BUCKET_ISL:.0e} tokens "
                                          f"(they span {raw.min():.3g} .. {raw.max():.3g}); use a smaller sigma")
        isl, weight = raw.astype(np.int64), np.full(distribution.buckets, 1.0 / distribution.buckets)
    else:
        isl = np.array([int(b.isl) for b in distribution.explicit])
        weight = np.array([float(b.weight) for b in distribution.explicit])
    merged, which = np.unique(isl, return_inverse=True)
    return merged, np.bincount(which, weights=weight, minlength=len(merged))


def demand_by_model(cfg: DictConfig) -> xr.DataArray:
    """Requests/s of each selected model of a validated optimizer config: ``fleet.demand``, else
    ``fleet.demand_default`` (a DataArray on ``model``, 1/s)."""
    models = list(cfg.select.models)
    demand = cfg.fleet.demand
    values = [float(cfg.fleet.demand_default if demand.get(m) is None else demand[m]) for m in models]
    return xr.DataArray(values, dims="model", coords={"model": models},
                        attrs={"units": "1/s", "long_name": "demand, requests per second"})


def inventory_by_hardware(cfg: DictConfig, hardware: Sequence[str]) -> np.ndarray:
    """Most systems available per hardware type of a validated optimizer config, in the order of
    ``hardware`` (names, e.g. the grid's ``hardware`` coordinate; ``inf``: no cap)."""
    inventory = cfg.fleet.inventory
    return np.array([np.inf if inventory.get(h) is None else float(inventory[h]) for h in hardware])


def prefill_hardware(cfg: DictConfig) -> list[str]:
    """The hardware that may prefill for decode replicas: ``fleet.prefill_hardware``, else the
    hardware on offer (none when ``fleet.disaggregation`` is off)."""
    if not cfg.fleet.disaggregation:
        return []
    chosen = cfg.fleet.prefill_hardware
    return list(cfg.select.hardware) if chosen is None else list(chosen)


def grid_hardware(cfg: DictConfig) -> list[str]:
    """Hardware of the fleet's grid: the hardware on offer, then the prefill hardware not on offer."""
    offered = list(cfg.select.hardware)
    return offered + [h for h in prefill_hardware(cfg) if h not in offered]


def bucket_grid(cfg: DictConfig, params: Mapping[str, Any] | None = None, concurrency: Any = None,
                trim: Trim | None = None) -> xr.Dataset:
    """The cost model on dims (model, hardware, bucket, concurrency) with each model's SLA.

    The hardware is :func:`grid_hardware`: the hardware on offer (``select.hardware``) and any
    prefill hardware that is not on offer (it makes prefill columns only).  Each model's
    interactivity SLA enters ``meets_sla``; the TTFT limits (``sla.max_ttft_s`` and the per-model
    ``fleet.max_ttft_s``) do not: the columns apply them (:class:`ColumnOptions`), since a
    per-model limit may be looser than the global one.

    Parameters
    ----------
    cfg
        Validated optimizer config.
    params
        Dotted key -> value applied to the evaluation (e.g. DataArrays along ``scenario``).
    concurrency
        Concurrency levels (default: the config's grid).
    trim
        Applied to the grid's config and ``params`` before the evaluation (e.g.
        :func:`optimize.scenario_grid.selected_catalog`).

    Returns
    -------
    xarray.Dataset
        :data:`COLUMN_VARIABLES` with coordinates ``bucket_isl`` and ``bucket_weight`` on ``bucket``.
    """
    isl, weight = isl_buckets(cfg)
    bucket = xr.DataArray(isl, dims="bucket", coords={"bucket": np.arange(len(isl))})
    values: dict[str, Any] = {}
    hardware = grid_hardware(cfg)
    if hardware != list(cfg.select.hardware):
        values["select.hardware"] = hardware
    if cfg.sla.max_ttft_s is not None:
        values["sla.max_ttft_s"] = None
    if values:
        cfg = with_values(cfg, values, validate_model)
    params = dict(params or {})
    if trim is not None:
        cfg, params = trim(cfg, params)
    grid = evaluate(cfg, {**params, "sla.min_interactivity": sla_by_model(cfg)}, isl=bucket, concurrency=concurrency,
                    variables=COLUMN_VARIABLES)
    return grid.assign_coords(bucket_isl=("bucket", isl), bucket_weight=("bucket", weight))


@dataclass(frozen=True)
class ColumnOptions:
    """Which hardware of a grid makes which kind of column, and the numbers the disaggregated
    columns need (docs/model.md §9).

    Attributes
    ----------
    offered
        Per grid hardware: on offer (makes aggregated and decode columns).
    prefill
        Per grid hardware: may prefill for decode replicas (makes prefill columns).
    link_bytes_per_s
        Per grid hardware: KV link bandwidth per system, bytes/s (``interconnect_gb_s * 1e9``;
        NaN: no link, no disaggregated columns on it).
    min_interactivity, max_ttft
        Per grid model: the SLA (tok/s) and the TTFT limit (s, ``inf``: none).
    target_utilization
        Largest share of a replica's capacity that demand may use (also the prefill queue's load).
    decode_keeps_prefix
        Only the KV beyond the cached prefix moves to the decode replica.
    sla_quantile, physical
        The quantile of ``sla.percentile`` (0.5: the median, as before) and, per grid hardware,
        whether it prefills in the physical mode (has a prefill queue to spread; docs/model.md §10).
    data_parallel
        Per grid hardware, whether it runs attention-DP (its rank wait is a queue the percentiles
        spread too).
    """

    offered: np.ndarray
    prefill: np.ndarray
    link_bytes_per_s: np.ndarray
    min_interactivity: np.ndarray
    max_ttft: np.ndarray
    target_utilization: float
    decode_keeps_prefix: bool = False
    sla_quantile: float = 0.5
    physical: np.ndarray | None = None
    data_parallel: np.ndarray | None = None

    @classmethod
    def aggregated_only(cls, grid: xr.Dataset, target_utilization: float = 1.0) -> ColumnOptions:
        """Every grid hardware on offer, no disaggregated columns, no TTFT limit."""
        n_hw, n_models = grid.sizes["hardware"], grid.sizes["model"]
        return cls(offered=np.ones(n_hw, dtype=bool), prefill=np.zeros(n_hw, dtype=bool),
                   link_bytes_per_s=np.full(n_hw, np.nan), min_interactivity=np.zeros(n_models),
                   max_ttft=np.full(n_models, np.inf), target_utilization=target_utilization)


def column_options(cfg: DictConfig, grid: xr.Dataset) -> ColumnOptions:
    """The :class:`ColumnOptions` of a config on its :func:`bucket_grid`.

    Parameters
    ----------
    cfg
        Validated optimizer config.
    grid
        The evaluated grid (its ``hardware`` and ``model`` coordinates).
    """
    hardware = [str(h) for h in grid.hardware.values]
    offered, prefill = set(cfg.select.hardware), set(prefill_hardware(cfg))
    link = [cfg.hardware[h].interconnect_gb_s for h in hardware]
    models = list(grid.model.values)
    return ColumnOptions(
        offered=np.array([h in offered for h in hardware]),
        prefill=np.array([h in prefill for h in hardware]),
        link_bytes_per_s=np.array([np.nan if v is None else float(v) * 1e9 for v in link]),
        min_interactivity=sla_by_model(cfg).sel(model=models).values,
        max_ttft=ttft_by_model(cfg).sel(model=models).values,
        target_utilization=float(cfg.fleet.target_utilization),
        decode_keeps_prefix=bool(cfg.fleet.decode_keeps_prefix),
        sla_quantile=SLA_QUANTILE[SlaPercentile(cfg.sla.percentile)],
        physical=np.array([PrefillMode(cfg.hardware[h].prefill_mode) == PrefillMode.physical for h in hardware]),
        data_parallel=np.array([bool(cfg.hardware[h].attention_data_parallel) for h in hardware]))


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
