"""Why there is no fleet plan: the demand that cannot be served, and by how much (docs/model.md §5).

Two reports, one table layout (:data:`optimize.constants.SHORTFALL_COLUMNS`):

- :func:`no_column_shortfalls`, before any solve: (model, bucket) pairs with demand but no
  aggregated column and no disaggregated (prefill + decode) pair, with the reason (ISL beyond
  the context, no buildable replica size, SLA unreachable and the best tok/s on offer, TTFT
  unreachable and the least TTFT on offer);
- :func:`inventory_shortfalls`, from the elastic solve: the unmet requests/s per (model, bucket)
  when the inventory caps bind, with the caps' use and the systems the demand would need alone.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr
from omegaconf import DictConfig

from optimize.columns import Columns, disaggregated_columns
from optimize.concurrency import sla_by_model, ttft_by_model
from optimize.constants import SHORTFALL_COLUMNS, Phase, ShortfallKind
from optimize.inputs import ColumnOptions, DemandRows, demand_rows
from optimize.milp import Solution

# unmet requests/s below this share of a row's demand (or of 1 req/s, if larger) is solver noise
UNMET_TOLERANCE = 1e-9


def empty_shortfalls() -> pd.DataFrame:
    """A shortfall report with no rows (the report of a plan that serves all demand)."""
    return pd.DataFrame(columns=SHORTFALL_COLUMNS)


def _least_disaggregated_ttft(prefill: Columns, decode: Columns, model: int, bucket: int,
                              hardware: Sequence[str]) -> tuple[float, str]:
    """Least TTFT of any prefill + decode pair of one (model, bucket), and which pair."""
    p = np.flatnonzero((prefill.model == model) & (prefill.bucket == bucket))
    d = np.flatnonzero((decode.model == model) & (decode.bucket == bucket))
    if len(p) == 0 or len(d) == 0:
        return np.inf, ""
    # TTFT_p + max(a_p, a_d) is least with the decode column of least a_d
    j = d[np.argmin(decode.t_kv[d])]
    ttft = prefill.ttft[p] + np.maximum(prefill.t_kv[p], decode.t_kv[j])
    i = p[np.argmin(ttft)]
    return float(ttft.min()), f"{hardware[prefill.hardware[i]]} prefill -> {hardware[decode.hardware[j]]} decode"


def no_column_shortfalls(grid: xr.Dataset, demand: xr.DataArray, cols: Columns, cfg: DictConfig,
                         options: ColumnOptions | None = None) -> pd.DataFrame:
    """(model, bucket) rows with demand but no aggregated column and no disaggregated pair.

    Parameters
    ----------
    grid
        The evaluated :func:`optimize.inputs.bucket_grid`.
    demand
        Requests/s per model.
    cols
        All candidate columns (before pruning, after the TTFT filter).
    cfg
        Validated optimizer config (SLA and TTFT limit per model, each model's ``max_context``).
    options
        The column options of ``grid`` (default: aggregated columns on every grid hardware).

    Returns
    -------
    pandas.DataFrame
        One row per unservable (model, bucket); empty if every pair with demand has a column.
    """
    options = ColumnOptions.aggregated_only(grid) if options is None else options
    serving = cols.phase(Phase.aggregated) | cols.phase(Phase.decode)
    has_column = np.zeros((grid.sizes["model"], grid.sizes["bucket"]), dtype=bool)
    has_column[cols.model[serving], cols.bucket[serving]] = True
    sla, max_ttft = sla_by_model(cfg), ttft_by_model(cfg)
    hardware = [str(h) for h in grid.hardware.values]
    offered = [h for h, on in zip(hardware, options.offered) if on]
    missing = [(i, b) for i, model in enumerate(grid.model.values) for b in range(grid.sizes["bucket"])
               if not has_column[i, b] and float(demand.sel(model=model)) > 0]
    if not missing:
        return pd.DataFrame(columns=SHORTFALL_COLUMNS)
    # the disaggregated pairs before the TTFT limit: what decode reaches and the least TTFT on offer
    prefill, decode = disaggregated_columns(grid, demand_rows(grid, demand), options)
    rows = []
    for i, b in missing:
        model = str(grid.model.values[i])
        cell = grid.isel(model=i, bucket=b).sel(hardware=offered)
        isl = int(cell.bucket_isl)
        weight = float(cell.bucket_weight)
        max_context = int(cfg.models[model].max_context)
        limit = float(max_ttft.sel(model=model))
        reach = float(sla.sel(model=model))
        if isl > max_context:
            kind, detail = ShortfallKind.isl_beyond_context, f"ISL {isl:,} > max_context {max_context:,}"
        elif not bool(cell.feasible.any()):
            kind = ShortfallKind.no_buildable_size
            detail = "no allowed replica size holds weights + KV on any hardware on offer"
        else:
            # best tok/s per hardware: aggregated, or decode-only where a disaggregated pair exists
            rate = cell.interactivity.where(cell.feasible)
            if ((prefill.model == i) & (prefill.bucket == b)).any():
                decodes = xr.DataArray(np.isfinite(options.link_bytes_per_s) & options.offered, dims="hardware",
                                       coords={"hardware": hardware}).sel(hardware=offered)
                solo = (1.0 / cell.step_time).where(cell.feasible & decodes)
                rate = np.fmax(rate, solo)
            by_hw = rate.max("concurrency")
            best = float(by_hw.max())
            if best < reach:
                offer = ", ".join(f"{h} {float(v):,.0f}" for h, v in zip(by_hw.hardware.values, by_hw.values)
                                  if np.isfinite(v))
                kind = ShortfallKind.sla_unreachable
                detail = f"SLA {reach:,.0f} tok/s; best on offer {best:,.0f} tok/s ({offer})"
            else:
                meets = cell.feasible & (cell.interactivity >= reach)
                agg = cell.ttft.where(meets).min("concurrency")
                offers = [f"aggregated {h} {float(v):,.3g} s" for h, v in zip(agg.hardware.values, agg.values)
                          if np.isfinite(v)]
                least_pair, pair = _least_disaggregated_ttft(prefill, decode, i, b, hardware)
                if np.isfinite(least_pair):
                    offers.append(f"disaggregated {pair} {least_pair:,.3g} s")
                elif pair:  # M/D/1 at utilization 1: the prefill queue grows without bound
                    offers.append(f"disaggregated {pair}: unbounded prefill queue at target_utilization 1")
                least = min(float(agg.min()) if np.isfinite(agg).any() else np.inf, least_pair)
                kind = ShortfallKind.ttft_unreachable
                detail = (f"TTFT SLA {limit:,.3g} s; least TTFT on offer {least:,.3g} s ("
                          + "; ".join(offers) + ")")
        d = float(demand.sel(model=model)) * weight
        rows.append({"model": model, "bucket_isl": isl, "kind": kind.value, "demand_rps": d,
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
    serves = cols.phase(Phase.aggregated) | cols.phase(Phase.decode)
    for r, demand in enumerate(rows.requests_per_second):
        if unmet[r] <= UNMET_TOLERANCE * max(demand, 1):
            continue
        serving = (cols.row == r) & serves
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
