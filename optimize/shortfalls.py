"""Why there is no fleet plan: the demand that cannot be served, and by how much (SPEC §5).

Two reports, one table layout (:data:`optimize.constants.SHORTFALL_COLUMNS`):

- :func:`no_column_shortfalls`, before any solve: (model, bucket) pairs with demand but no
  column on any hardware on offer, with the reason (ISL beyond the context, no buildable replica
  size, SLA unreachable and the best tok/s on offer);
- :func:`inventory_shortfalls`, from the elastic solve: the unmet requests/s per (model, bucket)
  when the inventory caps bind, with the caps' use and the systems the demand would need alone.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr
from omegaconf import DictConfig

from optimize.columns import Columns
from optimize.concurrency import sla_by_model
from optimize.constants import SHORTFALL_COLUMNS, ShortfallKind
from optimize.inputs import DemandRows
from optimize.milp import Solution

# unmet requests/s below this share of a row's demand (or of 1 req/s, if larger) is solver noise
UNMET_TOLERANCE = 1e-9


def empty_shortfalls() -> pd.DataFrame:
    """A shortfall report with no rows (the report of a plan that serves all demand)."""
    return pd.DataFrame(columns=SHORTFALL_COLUMNS)


def no_column_shortfalls(grid: xr.Dataset, demand: xr.DataArray, cols: Columns, cfg: DictConfig) -> pd.DataFrame:
    """(model, bucket) rows with demand but no column meeting the SLA on any hardware.

    Parameters
    ----------
    grid
        The evaluated :func:`optimize.inputs.bucket_grid`.
    demand
        Requests/s per model.
    cols
        All candidate columns (before pruning).
    cfg
        Validated optimizer config (SLA per model, each model's ``max_context``).

    Returns
    -------
    pandas.DataFrame
        One row per unservable (model, bucket); empty if every pair with demand has a column.
    """
    has_column = np.zeros((grid.sizes["model"], grid.sizes["bucket"]), dtype=bool)
    has_column[cols.model, cols.bucket] = True
    sla = sla_by_model(cfg)
    rows = []
    for i, model in enumerate(grid.model.values):
        for b in range(grid.sizes["bucket"]):
            if has_column[i, b] or float(demand.sel(model=model)) <= 0:
                continue
            cell = grid.isel(model=i, bucket=b)
            isl = int(cell.bucket_isl)
            weight = float(cell.bucket_weight)
            best = cell.interactivity.where(cell.feasible).max(["hardware", "concurrency"])
            max_context = int(cfg.models[model].max_context)
            if isl > max_context:
                kind, detail = ShortfallKind.isl_beyond_context, f"ISL {isl:,} > max_context {max_context:,}"
            elif not bool(cell.feasible.any()):
                kind = ShortfallKind.no_buildable_size
                detail = "no allowed replica size holds weights + KV on any hardware on offer"
            else:
                by_hw = cell.interactivity.where(cell.feasible).max("concurrency")
                offer = ", ".join(f"{h} {float(v):,.0f}" for h, v in zip(by_hw.hardware.values, by_hw.values)
                                  if np.isfinite(v))
                kind = ShortfallKind.sla_unreachable
                detail = (f"SLA {float(sla.sel(model=model)):,.0f} tok/s; best on offer {float(best):,.0f} tok/s "
                          f"({offer})")
            d = float(demand.sel(model=model)) * weight
            rows.append({"model": str(model), "bucket_isl": isl, "kind": kind.value, "demand_rps": d,
                         "shortfall_rps": d, "detail": detail})
    return pd.DataFrame(rows, columns=SHORTFALL_COLUMNS)


def inventory_shortfalls(elastic: Solution, cols: Columns, rows: DemandRows, grid: xr.Dataset,
                         hardware: Sequence[str], inventory: np.ndarray, target_utilization: float) -> pd.DataFrame:
    """Unmet requests/s per (model, bucket) when the inventory caps bind.

    Parameters
    ----------
    elastic
        The solution of the elastic MILP (``build_model(..., elastic=True)``) on ``cols``; if it
        has no values, all demand counts as unmet.
    cols
        The columns of the MILP, in variable order.
    rows
        The demand rows of the MILP.
    grid
        The evaluated grid (model names and bucket ISLs).
    hardware, inventory
        Hardware names and their caps (``inf``: no cap).
    target_utilization
        Largest share of a replica's requests/s that demand may use.

    Returns
    -------
    pandas.DataFrame
        One row per (model, bucket) with unmet demand.
    """
    unmet = elastic.shortfall if elastic.shortfall is not None else rows.requests_per_second
    used = np.zeros(len(hardware))
    if elastic.replicas is not None:
        np.add.at(used, cols.hardware, elastic.replicas * cols.systems)
    caps = "; ".join(f"{h}: {used[i]:,.0f} used of {inventory[i]:,.0f} available"
                     for i, h in enumerate(hardware) if np.isfinite(inventory[i]))
    models = grid.model.values
    report = []
    for r, demand in enumerate(rows.requests_per_second):
        if unmet[r] <= UNMET_TOLERANCE * max(demand, 1):
            continue
        serving = cols.row == r
        # systems the row would need alone, on its densest column (most requests/s per system)
        density = cols.requests_per_second[serving] / cols.systems[serving]
        j = np.flatnonzero(serving)[np.argmax(density)]
        need = np.ceil(demand / (cols.requests_per_second[j] * target_utilization)) * cols.systems[j]
        report.append({"model": str(models[rows.model[r]]), "bucket_isl": int(grid.bucket_isl.values[rows.bucket[r]]),
                       "kind": ShortfallKind.inventory.value, "demand_rps": float(demand),
                       "shortfall_rps": float(unmet[r]),
                       "detail": f"inventory too small ({caps}); alone this demand needs about "
                                 f"{need:,.0f} systems of {hardware[cols.hardware[j]]} at its densest configuration"})
    return pd.DataFrame(report, columns=SHORTFALL_COLUMNS)
