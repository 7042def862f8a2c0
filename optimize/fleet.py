"""The fleet plan of SPEC §5: integer replicas per (model, ISL bucket, hardware, concurrency).

``plan_fleet(config)`` evaluates the cost model at the ISL buckets, keeps the columns that meet
each model's SLA, prunes dominated concurrency levels, solves the MILP of :mod:`optimize.milp`
and returns a :class:`FleetPlan`.  An infeasible problem is a result: the plan carries a report
naming each (model, bucket) that cannot be served and by how much.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr
from omegaconf import DictConfig
from scipy.stats import norm

from model.evaluate import evaluate
from optimize.concurrency import sla_by_model
from optimize.schema import IslKind
from optimize.milp import SolveStatus, solve

COLUMN_VARIABLES = ["requests_per_second", "systems", "cost_per_hour", "interactivity", "cost_per_mtok",
                    "meets_sla", "feasible"]


def isl_buckets(cfg: DictConfig) -> tuple[np.ndarray, np.ndarray]:
    """ISL per bucket (tokens) and its weight (share of requests).

    ``p50``: one bucket at ``workload.isl``.  ``lognormal``: ``buckets`` equal-probability
    buckets of ln ISL ~ N(ln median, sigma²), each represented by its median quantile
    ``exp(ln median + sigma * z((k + 1/2) / buckets))``.  ``buckets``: as listed.
    """
    d = cfg.fleet.isl
    if d.kind == IslKind.p50:
        return np.array([int(cfg.workload.isl)]), np.array([1.0])
    if d.kind == IslKind.lognormal:
        median = float(d.median if d.median is not None else cfg.workload.isl)
        q = (np.arange(d.buckets) + 0.5) / d.buckets
        isl = np.rint(median * np.exp(d.sigma * norm.ppf(q))).astype(np.int64)
        return isl, np.full(d.buckets, 1.0 / d.buckets)
    return (np.array([int(b.isl) for b in d.explicit]), np.array([float(b.weight) for b in d.explicit]))


def demand_by_model(cfg: DictConfig) -> xr.DataArray:
    models = list(cfg.select.models)
    demand = cfg.fleet.demand
    values = [float(cfg.fleet.demand_default if demand.get(m) is None else demand[m]) for m in models]
    return xr.DataArray(values, dims="model", coords={"model": models},
                        attrs={"units": "1/s", "long_name": "demand, requests per second"})


def bucket_grid(cfg: DictConfig) -> xr.Dataset:
    """The cost model on dims (model, hardware, bucket, concurrency) with each model's SLA."""
    isl, weight = isl_buckets(cfg)
    bucket = xr.DataArray(isl, dims="bucket", coords={"bucket": np.arange(len(isl))})
    grid = evaluate(cfg, {"sla.min_interactivity": sla_by_model(cfg)}, isl=bucket, variables=COLUMN_VARIABLES)
    return grid.assign_coords(bucket_isl=("bucket", isl), bucket_weight=("bucket", weight))


@dataclass(frozen=True)
class Columns:
    """Candidate replica configurations, flattened: one entry per (model, bucket, hardware, N)."""

    model: np.ndarray
    bucket: np.ndarray
    hardware: np.ndarray
    concurrency: np.ndarray
    requests_per_second: np.ndarray
    systems: np.ndarray
    cost_per_hour: np.ndarray
    interactivity: np.ndarray

    def take(self, keep: np.ndarray) -> "Columns":
        return Columns(**{k: getattr(self, k)[keep] for k in self.__dataclass_fields__})

    def __len__(self) -> int:
        return len(self.model)


def candidate_columns(grid: xr.Dataset, demand: xr.DataArray) -> Columns:
    """Cells that meet the SLA for a model with demand, flattened (pure numpy masking)."""
    g = grid.transpose("model", "bucket", "hardware", "concurrency")
    ok = g.meets_sla.values & (demand.sel(model=g.model).values > 0)[:, None, None, None]
    m, b, h, n = np.nonzero(ok)
    return Columns(model=m, bucket=b, hardware=h, concurrency=g.concurrency.values[n],
                   requests_per_second=g.requests_per_second.values[ok],
                   systems=g.systems.values[ok].astype(float),
                   cost_per_hour=g.cost_per_hour.values[ok],
                   interactivity=g.interactivity.values[ok])


def prune_dominated(cols: Columns) -> Columns:
    """Drop every column that another column of its (model, bucket, hardware) dominates: no more
    systems and at least as many requests/s (of equal pairs the first is kept).

    Sort each group by systems (ascending), then requests/s (descending); a column survives if
    it serves strictly more requests/s than every column before it in its group.  Vectorized:
    a cumulative maximum over groups offset so that each group starts above all earlier ones.
    """
    if len(cols) == 0:
        return cols
    group = (cols.model * (cols.bucket.max() + 1) + cols.bucket) * (cols.hardware.max() + 1) + cols.hardware
    order = np.lexsort((-cols.requests_per_second, cols.systems, group))
    g, rps = group[order], cols.requests_per_second[order]
    _, dense = np.unique(g, return_inverse=True)
    offset = dense * 2.0 * (rps.max() + 1.0)
    running = np.maximum.accumulate(rps + offset)
    previous = np.concatenate([[-np.inf], running[:-1]])
    first = np.concatenate([[True], g[1:] != g[:-1]])
    keep_sorted = first | (rps + offset > previous)
    keep = np.zeros(len(cols), dtype=bool)
    keep[order[keep_sorted]] = True
    return cols.take(keep)


@dataclass(frozen=True)
class FleetPlan:
    """A fleet plan, or the report of why there is none.

    ``plan``: one row per chosen configuration.  ``totals``: ``cost_per_hour`` ($/h),
    ``systems`` (by hardware), ``cost_per_mtok`` ($/Mtok of the demand served),
    ``tokens_per_second`` (demand).  ``shortfalls``: per (model, bucket) that cannot be served,
    the kind, the demand and the unmet requests/s with a detail line.
    """

    status: SolveStatus
    plan: pd.DataFrame
    totals: dict
    shortfalls: pd.DataFrame
    mip_gap: float | None
    build_seconds: float
    solve_seconds: float
    columns: int
    pruned_columns: int
    notes: list = field(default_factory=list)

    def summary(self) -> dict:
        return {"status": self.status.value, "totals": self.totals, "mip_gap": self.mip_gap,
                "build_seconds": self.build_seconds, "solve_seconds": self.solve_seconds,
                "columns": self.columns, "pruned_columns": self.pruned_columns,
                "shortfalls": self.shortfalls.to_dict(orient="records"), "notes": self.notes}


def _no_column_report(grid: xr.Dataset, demand: xr.DataArray, cols: Columns, cfg: DictConfig) -> pd.DataFrame:
    """(model, bucket) rows with demand but no column meeting the SLA on any hardware."""
    has = np.zeros((grid.sizes["model"], grid.sizes["bucket"]), dtype=bool)
    has[cols.model, cols.bucket] = True
    sla = sla_by_model(cfg)
    rows = []
    for i, model in enumerate(grid.model.values):
        for b in range(grid.sizes["bucket"]):
            if has[i, b] or float(demand.sel(model=model)) <= 0:
                continue
            cell = grid.isel(model=i, bucket=b)
            isl = int(cell.bucket_isl)
            weight = float(cell.bucket_weight)
            best = cell.interactivity.where(cell.feasible).max(["hardware", "concurrency"])
            if isl > int(cfg.models[model].max_context):
                kind, detail = "isl_beyond_context", f"ISL {isl:,} > max_context {int(cfg.models[model].max_context):,}"
            elif not bool(cell.feasible.any()):
                kind, detail = "no_buildable_size", "no allowed replica size holds weights + KV on any hardware on offer"
            else:
                by_hw = cell.interactivity.where(cell.feasible).max("concurrency")
                offer = ", ".join(f"{h} {float(v):,.0f}" for h, v in zip(by_hw.hardware.values, by_hw.values)
                                  if np.isfinite(v))
                kind = "sla_unreachable"
                detail = (f"SLA {float(sla.sel(model=model)):,.0f} tok/s; best on offer {float(best):,.0f} tok/s "
                          f"({offer})")
            d = float(demand.sel(model=model)) * weight
            rows.append({"model": str(model), "bucket_isl": isl, "kind": kind, "demand_rps": d,
                         "shortfall_rps": d, "detail": detail})
    return pd.DataFrame(rows, columns=["model", "bucket_isl", "kind", "demand_rps", "shortfall_rps", "detail"])


def plan_fleet(cfg: DictConfig, prune: bool | None = None, grid: xr.Dataset | None = None) -> FleetPlan:
    """Cost-minimizing integer fleet for the config's demand (SPEC §5).

    Parameters
    ----------
    cfg
        Validated optimizer config.
    prune
        Override ``fleet.prune``.
    grid
        A precomputed :func:`bucket_grid` (else evaluated here).
    """
    f = cfg.fleet
    prune = f.prune if prune is None else prune
    grid = bucket_grid(cfg) if grid is None else grid
    demand = demand_by_model(cfg)
    weights = grid.bucket_weight.values
    all_cols = candidate_columns(grid, demand)
    cols = prune_dominated(all_cols) if prune else all_cols
    models, hardware = list(grid.model.values), list(grid.hardware.values)
    row_demand = (demand.sel(model=grid.model).values[:, None] * weights[None, :])  # (model, bucket)
    n_buckets = grid.sizes["bucket"]
    notes = []

    missing = _no_column_report(grid, demand, all_cols, cfg)
    empty_totals = {"cost_per_hour": None, "systems": {}, "cost_per_mtok": None, "tokens_per_second": None}
    if len(missing):
        return FleetPlan(SolveStatus.infeasible, pd.DataFrame(), empty_totals, missing, None, 0.0, 0.0,
                         len(all_cols), len(all_cols) - len(cols), notes)

    active = row_demand.ravel() > 0
    row_of_cell = np.cumsum(active) - 1  # demand rows: (model, bucket) pairs with demand
    row = row_of_cell[cols.model * n_buckets + cols.bucket]
    demand_rows = row_demand.ravel()[active]
    inventory = np.array([np.inf if f.inventory.get(h) is None else float(f.inventory[h]) for h in hardware])
    u = float(f.target_utilization)
    args = dict(cost=cols.cost_per_hour, capacity=cols.requests_per_second * u, row=row, demand=demand_rows,
                systems=cols.systems, hardware=cols.hardware, inventory=inventory,
                time_limit=float(f.solver.time_limit_s), mip_rel_gap=float(f.solver.mip_rel_gap),
                threads=f.solver.threads)
    solution = solve(**args)
    if solution.status == SolveStatus.infeasible:
        elastic = solve(**args, shortfall=True)
        shortfalls = _inventory_report(elastic, cols, row, demand_rows, active, models, grid, hardware,
                                       inventory, n_buckets, u)
        return FleetPlan(SolveStatus.infeasible, pd.DataFrame(), empty_totals, shortfalls, None,
                         solution.build_seconds, solution.solve_seconds, len(all_cols),
                         len(all_cols) - len(cols), notes)
    if solution.status == SolveStatus.no_solution:
        notes.append("the solver stopped (time limit) before finding any plan")
        return FleetPlan(solution.status, pd.DataFrame(), empty_totals, _empty_shortfalls(), None,
                         solution.build_seconds, solution.solve_seconds, len(all_cols),
                         len(all_cols) - len(cols), notes)

    # tokens per request of each demand row: L + O at its bucket
    tokens = (grid.bucket_isl + grid.osl).values if grid.osl.ndim else grid.bucket_isl.values + float(grid.osl)
    row_tokens = np.broadcast_to(tokens[None, :], row_demand.shape).ravel()[active]
    plan, totals = _plan_table(solution.values, cols, row, demand_rows, row_tokens, models, hardware, grid, u)
    return FleetPlan(solution.status, plan, totals, _empty_shortfalls(), solution.mip_gap,
                     solution.build_seconds, solution.solve_seconds, len(all_cols),
                     len(all_cols) - len(cols), notes)


def _empty_shortfalls() -> pd.DataFrame:
    return pd.DataFrame(columns=["model", "bucket_isl", "kind", "demand_rps", "shortfall_rps", "detail"])


def _inventory_report(elastic, cols, row, demand_rows, active, models, grid, hardware, inventory,
                      n_buckets, u) -> pd.DataFrame:
    """Unmet requests/s per (model, bucket) when the inventory caps bind."""
    n = len(cols)
    unmet = elastic.values[n:] if elastic.values is not None else demand_rows
    used = np.zeros(len(hardware))
    if elastic.values is not None:
        np.add.at(used, cols.hardware, elastic.values[:n] * cols.systems)
    caps = "; ".join(f"{h}: {used[i]:,.0f} used of {inventory[i]:,.0f} available"
                     for i, h in enumerate(hardware) if np.isfinite(inventory[i]))
    cells = np.flatnonzero(active)
    rows = []
    for r, cell in enumerate(cells):
        if unmet[r] <= 1e-9 * max(demand_rows[r], 1):
            continue
        m, b = divmod(cell, n_buckets)
        mine = row == r
        # systems the row would need alone, on its densest column (most requests/s per system)
        density = cols.requests_per_second[mine] / cols.systems[mine]
        j = np.flatnonzero(mine)[np.argmax(density)]
        need = np.ceil(demand_rows[r] / (cols.requests_per_second[j] * u)) * cols.systems[j]
        rows.append({"model": models[m], "bucket_isl": int(grid.bucket_isl.values[b]), "kind": "inventory",
                     "demand_rps": float(demand_rows[r]), "shortfall_rps": float(unmet[r]),
                     "detail": f"inventory too small ({caps}); alone this demand needs about "
                               f"{need:,.0f} systems of {hardware[cols.hardware[j]]} at its densest configuration"})
    return pd.DataFrame(rows, columns=["model", "bucket_isl", "kind", "demand_rps", "shortfall_rps", "detail"])


def _plan_table(x, cols, row, demand_rows, row_tokens, models, hardware, grid, u):
    chosen = np.flatnonzero(x > 0)
    replicas = x[chosen].astype(int)
    capacity = cols.requests_per_second[chosen] * replicas
    row_capacity = np.zeros(len(demand_rows))
    np.add.at(row_capacity, row[chosen], capacity)
    plan = pd.DataFrame({
        "model": [models[i] for i in cols.model[chosen]],
        "bucket_isl": grid.bucket_isl.values[cols.bucket[chosen]],
        "bucket_weight": grid.bucket_weight.values[cols.bucket[chosen]],
        "hardware": [hardware[i] for i in cols.hardware[chosen]],
        "concurrency": cols.concurrency[chosen],
        "replicas": replicas,
        "systems_per_replica": cols.systems[chosen].astype(int),
        "systems": (cols.systems[chosen] * replicas).astype(int),
        "cost_per_hour": cols.cost_per_hour[chosen] * replicas,
        "capacity_rps": capacity,
        "demand_rps": demand_rows[row[chosen]],
        "utilization": demand_rows[row[chosen]] / row_capacity[row[chosen]],
        "interactivity": cols.interactivity[chosen],
    }).sort_values(["model", "bucket_isl", "hardware", "concurrency"]).reset_index(drop=True)
    total_tokens = float(demand_rows @ row_tokens)
    cost = float(plan.cost_per_hour.sum())
    totals = {
        "cost_per_hour": cost,
        "systems": {str(h): int(plan.systems[plan.hardware == h].sum()) for h in hardware},
        "tokens_per_second": total_tokens,
        "cost_per_mtok": cost / (total_tokens * 3600 / 1e6) if total_tokens > 0 else None,
        "target_utilization": u,
    }
    return plan, totals
