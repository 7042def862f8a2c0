"""The fleet plan: the chosen configurations, their totals, or the report of why there is none.

:func:`assign_solution` turns the MILP's replicas into the plan table and :class:`FleetTotals`
(the last step of build, solve, assign); :class:`FleetPlan` is what :func:`optimize.plan_fleet`
returns, made by one named constructor per outcome.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from optimize.columns import Columns
from optimize.constants import SolveStatus
from optimize.inputs import DemandRows
from optimize.shortfalls import empty_shortfalls

NO_SOLUTION_NOTE = "the solver stopped (time limit) before finding any plan"
PLAN_ORDER = ["model", "bucket_isl", "hardware", "concurrency"]


@dataclass(frozen=True)
class FleetTotals:
    """Totals of a fleet plan (all ``None``, no systems, when there is no plan).

    Attributes
    ----------
    cost_per_hour
        $/hour of the whole fleet.
    systems
        Systems in the plan by hardware type (every hardware type on offer, 0 if unused).
    tokens_per_second
        Tokens (input + output) per second of the demand.
    cost_per_mtok
        $/Mtok of the demand served (``None`` if there is no demand).
    target_utilization
        Largest share of capacity the demand may use.
    """

    cost_per_hour: float | None
    systems: dict[str, int]
    tokens_per_second: float | None
    cost_per_mtok: float | None
    target_utilization: float | None

    @classmethod
    def empty(cls) -> FleetTotals:
        """The totals of no plan."""
        return cls(cost_per_hour=None, systems={}, tokens_per_second=None, cost_per_mtok=None,
                   target_utilization=None)

    def as_dict(self) -> dict[str, Any]:
        """The totals for JSON (``plan.json``); ``target_utilization`` only when there is a plan."""
        totals = {"cost_per_hour": self.cost_per_hour, "systems": dict(self.systems),
                  "tokens_per_second": self.tokens_per_second, "cost_per_mtok": self.cost_per_mtok}
        if self.target_utilization is not None:
            totals["target_utilization"] = self.target_utilization
        return totals


@dataclass(frozen=True)
class FleetPlan:
    """A fleet plan, or the report of why there is none.

    Make one with :meth:`solved`, :meth:`infeasible` or :meth:`no_solution`.

    Attributes
    ----------
    status
        Normalized solver status.
    plan
        One row per chosen configuration (empty without a plan).
    totals
        :class:`FleetTotals`.
    shortfalls
        Per (model, bucket) that cannot be served: the kind, the demand and the unmet
        requests/s with a detail line (empty with a plan).
    mip_gap
        Relative MIP gap of the plan (``None`` without one).
    build_seconds, solve_seconds
        Wall time of the Pyomo build and the HiGHS solve (0 when no MILP was built).
    columns, pruned_columns
        Candidate columns, and how many of them were pruned as dominated.
    notes
        Remarks printed under the plan.
    """

    status: SolveStatus
    plan: pd.DataFrame
    totals: FleetTotals
    shortfalls: pd.DataFrame
    mip_gap: float | None
    build_seconds: float
    solve_seconds: float
    columns: int
    pruned_columns: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def solved(cls, *, status: SolveStatus, plan: pd.DataFrame, totals: FleetTotals, mip_gap: float | None,
               build_seconds: float, solve_seconds: float, columns: int, pruned_columns: int) -> FleetPlan:
        """A plan that serves all demand (status ``optimal`` or ``time_limit``)."""
        return cls(status=status, plan=plan, totals=totals, shortfalls=empty_shortfalls(), mip_gap=mip_gap,
                   build_seconds=build_seconds, solve_seconds=solve_seconds, columns=columns,
                   pruned_columns=pruned_columns)

    @classmethod
    def infeasible(cls, *, shortfalls: pd.DataFrame, columns: int, pruned_columns: int,
                   build_seconds: float = 0.0, solve_seconds: float = 0.0) -> FleetPlan:
        """No plan can serve the demand; ``shortfalls`` says which and by how much."""
        return cls(status=SolveStatus.infeasible, plan=pd.DataFrame(), totals=FleetTotals.empty(),
                   shortfalls=shortfalls, mip_gap=None, build_seconds=build_seconds, solve_seconds=solve_seconds,
                   columns=columns, pruned_columns=pruned_columns)

    @classmethod
    def no_solution(cls, *, columns: int, pruned_columns: int, build_seconds: float,
                    solve_seconds: float) -> FleetPlan:
        """The solver stopped before finding any plan (not a proof that there is none)."""
        return cls(status=SolveStatus.no_solution, plan=pd.DataFrame(), totals=FleetTotals.empty(),
                   shortfalls=empty_shortfalls(), mip_gap=None, build_seconds=build_seconds,
                   solve_seconds=solve_seconds, columns=columns, pruned_columns=pruned_columns,
                   notes=(NO_SOLUTION_NOTE,))

    def summary(self) -> dict[str, Any]:
        """Everything but the plan table, for JSON (``plan.json``)."""
        return {"status": self.status.value, "totals": self.totals.as_dict(), "mip_gap": self.mip_gap,
                "build_seconds": self.build_seconds, "solve_seconds": self.solve_seconds,
                "columns": self.columns, "pruned_columns": self.pruned_columns,
                "shortfalls": self.shortfalls.to_dict(orient="records"), "notes": list(self.notes)}


def assign_solution(replicas: np.ndarray, cols: Columns, rows: DemandRows, grid: xr.Dataset,
                    hardware: Sequence[str], target_utilization: float) -> tuple[pd.DataFrame, FleetTotals]:
    """The plan table and totals of a MILP solution.

    Parameters
    ----------
    replicas
        Whole replicas per column (:attr:`optimize.milp.Solution.replicas`).
    cols
        The columns of the MILP, in variable order.
    rows
        The demand rows the columns serve.
    grid
        The evaluated grid (model names, bucket ISLs and weights).
    hardware
        Hardware names on offer (every one gets a systems total, 0 if unused).
    target_utilization
        Largest share of capacity the demand may use.

    Returns
    -------
    tuple of (pandas.DataFrame, FleetTotals)
        One row per chosen column, sorted by model, bucket ISL, hardware and concurrency; and the
        fleet's totals.
    """
    chosen = np.flatnonzero(replicas > 0)
    bought = replicas[chosen]
    capacity = cols.requests_per_second[chosen] * bought
    row_capacity = np.zeros(len(rows))
    np.add.at(row_capacity, cols.row[chosen], capacity)
    demand = rows.requests_per_second[cols.row[chosen]]
    models = grid.model.values
    plan = pd.DataFrame({
        "model": [models[i] for i in cols.model[chosen]],
        "bucket_isl": grid.bucket_isl.values[cols.bucket[chosen]],
        "bucket_weight": grid.bucket_weight.values[cols.bucket[chosen]],
        "hardware": [hardware[i] for i in cols.hardware[chosen]],
        "concurrency": cols.concurrency[chosen],
        "replicas": bought,
        "systems_per_replica": cols.systems[chosen].astype(int),
        "systems": (cols.systems[chosen] * bought).astype(int),
        "cost_per_hour": cols.cost_per_hour[chosen] * bought,
        "capacity_rps": capacity,
        "demand_rps": demand,
        "utilization": demand / row_capacity[cols.row[chosen]],
        "interactivity": cols.interactivity[chosen],
    }).sort_values(PLAN_ORDER).reset_index(drop=True)
    tokens_per_second = float(rows.requests_per_second @ rows.tokens_per_request)
    cost = float(plan.cost_per_hour.sum())
    totals = FleetTotals(
        cost_per_hour=cost,
        systems={str(h): int(plan.systems[plan.hardware == h].sum()) for h in hardware},
        tokens_per_second=tokens_per_second,
        cost_per_mtok=cost / (tokens_per_second * 3600 / 1e6) if tokens_per_second > 0 else None,
        target_utilization=target_utilization,
    )
    return plan, totals
