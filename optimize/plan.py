"""The fleet plan: the chosen configurations, their totals, or the report of why there is none.

:func:`assign_solution` turns the MILP's replicas into the plan table and :class:`FleetTotals`
(the last step of build, solve, assign); :class:`FleetPlan` is what :func:`optimize.plan_fleet`
returns, made by one named constructor per outcome.  Plan rows carry their ``phase``
(aggregated, prefill, decode; docs/model.md §9) and totals split $/hour and systems by phase.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from optimize.columns import PHASES, Columns
from optimize.constants import PHASE_CODE, Phase, SolveStatus
from optimize.coverage import CoverageMatrix
from optimize.inputs import DemandRows
from optimize.shortfalls import empty_shortfalls

NO_SOLUTION_NOTE = "the solver stopped (time limit) before finding any plan"
UNVERIFIED_NOTE = ("the solver's plan, in whole replicas, does not meet every model's demand (numbers the solver "
                   "cannot carry exactly?): no plan is reported")
PLAN_ORDER = ["model", "bucket_isl", "phase", "hardware", "concurrency"]  # the labels of optimize.columns.Columns
# columns of the plan table: (units, meaning); plan.csv puts the units in its header, plan.json in "units"
PLAN_COLUMNS: dict[str, tuple[str, str]] = {
    "model": ("", "model name"),
    "bucket_isl": ("tokens", "ISL of the bucket (tokens of context per request)"),
    "bucket_weight": ("1", "share of the model's requests in this ISL bucket"),
    "bucket_demand_rps": ("1/s", "requests/s of this (model, bucket): on its first row only, blank on the others, "
                                 "so that the column sums to the total demand"),
    "phase": ("", "aggregated, prefill or decode (docs/model.md §9)"),
    "hardware": ("", "hardware name"),
    "concurrency": ("requests", "concurrent requests per replica N"),
    "replicas": ("replicas", "replicas bought of this configuration"),
    "systems_per_replica": ("systems", "systems per replica"),
    "systems": ("systems", "systems of the row, replicas x systems_per_replica"),
    "cost_per_hour": ("$/h", "hardware $/hour of the row"),
    "capacity_rps": ("1/s", "requests/s the row's replicas carry at full utilization"),
    "load_rps": ("1/s", "requests/s passing through the row (a disaggregated request loads a prefill and a "
                        "decode row)"),
    "served_rps": ("1/s", "requests/s the row completes, each request counted once: aggregated and decode rows; "
                          "0 on prefill rows (their requests complete on the decode rows); sums to the total "
                          "demand"),
    "demand_share": ("1", "served_rps over the (model, bucket)'s demand: sums to 1 per (model, bucket)"),
    "utilization": ("1", "load_rps / capacity_rps"),
    "interactivity": ("tok/s", "output tokens per second per request (blank on prefill rows)"),
    "ttft_s": ("s", "worst time to first token over the row's possible partners"),
    "t_kv_s": ("s", "worst KV transfer time over the row's partners (disaggregated rows)"),
}


def plan_units() -> dict[str, str]:
    """Units of the plan table's columns ("" for names)."""
    return {name: units for name, (units, _) in PLAN_COLUMNS.items()}


def plan_csv(table: pd.DataFrame) -> str:
    """The plan table as CSV text for ``plan.csv``: every numeric column's units in its header
    (``served_rps [1/s]``), ``bucket_demand_rps`` blank on a (model, bucket)'s repeated rows."""
    header = [f"{c} [{PLAN_COLUMNS[c][0]}]" if PLAN_COLUMNS.get(c, ("",))[0] else c for c in table.columns]
    return table.to_csv(index=False, header=header, float_format="%.10g")


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
    cost_per_hour_by_phase
        $/hour by phase (aggregated, prefill, decode; every phase, 0 if unused).
    systems_by_phase
        Systems by phase, then by hardware type (as ``systems``).
    """

    cost_per_hour: float | None
    systems: dict[str, int]
    tokens_per_second: float | None
    cost_per_mtok: float | None
    target_utilization: float | None
    cost_per_hour_by_phase: dict[str, float] = field(default_factory=dict)
    systems_by_phase: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> FleetTotals:
        """The totals of no plan."""
        return cls(cost_per_hour=None, systems={}, tokens_per_second=None, cost_per_mtok=None,
                   target_utilization=None)

    def as_dict(self) -> dict[str, Any]:
        """The totals for JSON (``plan.json``); the split by phase and ``target_utilization``
        only when there is a plan."""
        totals = {"cost_per_hour": self.cost_per_hour, "systems": dict(self.systems),
                  "tokens_per_second": self.tokens_per_second, "cost_per_mtok": self.cost_per_mtok}
        if self.cost_per_hour_by_phase:
            totals["cost_per_hour_by_phase"] = dict(self.cost_per_hour_by_phase)
            totals["systems_by_phase"] = {k: dict(v) for k, v in self.systems_by_phase.items()}
        if self.target_utilization is not None:
            totals["target_utilization"] = self.target_utilization
        return totals


@dataclass(frozen=True)
class Assignment:
    """A MILP solution read back (:func:`assign_solution`).

    Attributes
    ----------
    plan
        The plan table (:data:`PLAN_COLUMNS`), one row per chosen column.
    totals
        :class:`FleetTotals`.
    columns, coverage
        The chosen columns (with their labels) and their coverage matrix, in the plan table's
        row order: what :func:`optimize.evaluation.evaluate_plan` takes to other scenarios.
    """

    plan: pd.DataFrame
    totals: FleetTotals
    columns: Columns
    coverage: CoverageMatrix


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
    columns_by_phase
        Per phase: (candidate columns, columns left after pruning).
    assignment
        With a plan: its :class:`Assignment` (the plan's columns and coverage matrix).
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
    columns_by_phase: dict[str, tuple[int, int]] = field(default_factory=dict)
    assignment: Assignment | None = None

    @classmethod
    def solved(cls, *, status: SolveStatus, assignment: Assignment, mip_gap: float | None,
               build_seconds: float, solve_seconds: float, columns: int, pruned_columns: int,
               columns_by_phase: dict[str, tuple[int, int]] | None = None) -> FleetPlan:
        """A plan that serves all demand (status ``optimal`` or ``time_limit``)."""
        return cls(status=status, plan=assignment.plan, totals=assignment.totals, shortfalls=empty_shortfalls(),
                   mip_gap=mip_gap, build_seconds=build_seconds, solve_seconds=solve_seconds, columns=columns,
                   pruned_columns=pruned_columns, columns_by_phase=dict(columns_by_phase or {}),
                   assignment=assignment)

    @classmethod
    def infeasible(cls, *, shortfalls: pd.DataFrame, columns: int, pruned_columns: int,
                   build_seconds: float = 0.0, solve_seconds: float = 0.0,
                   columns_by_phase: dict[str, tuple[int, int]] | None = None) -> FleetPlan:
        """No plan can serve the demand; ``shortfalls`` says which and by how much."""
        return cls(status=SolveStatus.infeasible, plan=pd.DataFrame(), totals=FleetTotals.empty(),
                   shortfalls=shortfalls, mip_gap=None, build_seconds=build_seconds, solve_seconds=solve_seconds,
                   columns=columns, pruned_columns=pruned_columns, columns_by_phase=dict(columns_by_phase or {}))

    @classmethod
    def no_solution(cls, *, columns: int, pruned_columns: int, build_seconds: float,
                    solve_seconds: float, columns_by_phase: dict[str, tuple[int, int]] | None = None,
                    status: SolveStatus = SolveStatus.no_solution) -> FleetPlan:
        """The solver stopped before finding any plan (not a proof that there is none), or
        (``status=unverified``) its plan, in whole replicas, does not meet the demand."""
        note = UNVERIFIED_NOTE if status == SolveStatus.unverified else NO_SOLUTION_NOTE
        return cls(status=status, plan=pd.DataFrame(), totals=FleetTotals.empty(),
                   shortfalls=empty_shortfalls(), mip_gap=None, build_seconds=build_seconds,
                   solve_seconds=solve_seconds, columns=columns, pruned_columns=pruned_columns,
                   notes=(note,), columns_by_phase=dict(columns_by_phase or {}))

    def summary(self) -> dict[str, Any]:
        """Everything but the plan table, for JSON (``plan.json``)."""
        return {"status": self.status.value, "totals": self.totals.as_dict(), "mip_gap": self.mip_gap,
                "build_seconds": self.build_seconds, "solve_seconds": self.solve_seconds,
                "columns": self.columns, "pruned_columns": self.pruned_columns,
                "shortfalls": self.shortfalls.to_dict(orient="records"), "notes": list(self.notes),
                "columns_by_phase": {k: {"candidates": c, "after_pruning": kept}
                                     for k, (c, kept) in self.columns_by_phase.items()}}


def _pair_times(cols: Columns, matrix: CoverageMatrix, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per chosen column: the worst TTFT and KV transfer time a request may see over the plan's
    partners it may be paired with (aggregated: the cell's TTFT, no transfer).

    A prefill column p and a decode column d of one row pair if p may feed d (``level_p <=
    tier_d`` in the coverage matrix); the request then sees ``TTFT_p + max(a_p, a_d)`` and a
    transfer of ``max(a_p, a_d)``.
    """
    kind, row, level, tier = matrix.kind, matrix.row, matrix.level, matrix.tier
    own_ttft, own_t_kv = cols.ttft, cols.t_kv
    ttft, t_kv = own_ttft[chosen].copy(), np.full(len(chosen), np.nan)
    pre = chosen[kind[chosen] == PHASE_CODE[Phase.prefill]]
    dec = chosen[kind[chosen] == PHASE_CODE[Phase.decode]]
    for i, j in enumerate(chosen):
        if kind[j] == PHASE_CODE[Phase.aggregated]:
            continue
        if kind[j] == PHASE_CODE[Phase.decode]:
            partners = pre[(row[pre] == row[j]) & (level[pre] <= tier[j])]
            p_side, d_side = partners, np.full(len(partners), j)
        else:
            partners = dec[(row[dec] == row[j]) & (tier[dec] >= level[j])]
            p_side, d_side = np.full(len(partners), j), partners
        if len(partners) == 0:
            ttft[i] = np.nan
            continue
        transfer = np.maximum(own_t_kv[p_side], own_t_kv[d_side])
        t_kv[i], ttft[i] = transfer.max(), (own_ttft[p_side] + transfer).max()
    return ttft, t_kv


def assign_solution(replicas: np.ndarray, cols: Columns, matrix: CoverageMatrix, rows: DemandRows,
                    grid: xr.Dataset) -> Assignment:
    """The plan table and totals of a MILP solution.

    Each demand row's requests are split between its aggregated columns and its disaggregated
    path in proportion to what each may carry at the target utilization (the disaggregated path
    carries at most the maximum flow from its prefill to its decode capacity,
    :meth:`optimize.coverage.CoverageMatrix.disaggregated`), and a phase's share between its
    columns in proportion to their capacity.  ``load_rps`` is what passes through a row (a
    disaggregated request loads a prefill and a decode row), ``served_rps`` counts each request
    once (on its aggregated or decode row, 0 on prefill rows), so that it sums to the demand;
    ``demand_share`` is ``served_rps`` over the (model, bucket)'s demand and
    ``bucket_demand_rps`` that demand, on the (model, bucket)'s first row only (see
    :data:`PLAN_COLUMNS` for every column's units).  The labels (model, bucket ISL, phase,
    hardware, concurrency) are the columns' own.

    Parameters
    ----------
    replicas
        Whole replicas per column (:attr:`optimize.milp.Solution.replicas`).
    cols
        The columns of the MILP, in variable order.
    matrix
        Their coverage matrix (target utilization, which prefill and decode columns pair).
    rows
        The demand rows the columns serve.
    grid
        The evaluated grid (bucket weights).

    Returns
    -------
    Assignment
        The plan table, one row per chosen column, sorted by model, bucket ISL, phase, hardware
        and concurrency, with ``ttft_s`` (the worst over the column's possible partners) and
        ``t_kv_s`` (disaggregated columns); the fleet's totals (every hardware of the columns
        gets a systems total, 0 if unused); the chosen columns and their coverage in the table's
        order.
    """
    target_utilization = matrix.target_utilization
    chosen = np.flatnonzero(replicas > 0)
    bought = replicas[chosen]
    capacity = cols.requests_per_second[chosen] * bought
    kind = matrix.kind[chosen]
    row = matrix.row[chosen]
    n_rows = len(rows)
    by_phase = {}
    for phase in Phase:
        cap = np.zeros(n_rows)
        np.add.at(cap, row[kind == PHASE_CODE[phase]], capacity[kind == PHASE_CODE[phase]])
        by_phase[phase] = cap
    demand = rows.requests_per_second
    aggregated = by_phase[Phase.aggregated] * target_utilization
    disaggregated = matrix.disaggregated(replicas)
    with np.errstate(invalid="ignore", divide="ignore"):
        share_dis = np.where(aggregated + disaggregated > 0, demand * disaggregated / (aggregated + disaggregated), 0.0)
    share = {Phase.aggregated: demand - share_dis, Phase.prefill: share_dis, Phase.decode: share_dis}
    load = np.zeros(len(chosen))
    for phase in Phase:
        here = kind == PHASE_CODE[phase]
        # a phase's share of the row's demand, split between its columns in proportion to capacity
        with np.errstate(invalid="ignore", divide="ignore"):
            load[here] = np.where(by_phase[phase][row[here]] > 0,
                                  share[phase][row[here]] * capacity[here] / by_phase[phase][row[here]], 0.0)
    served = np.where(kind == PHASE_CODE[Phase.prefill], 0.0, load)  # a request counted once, where it completes
    with np.errstate(invalid="ignore", divide="ignore"):
        demand_share = np.where(demand[row] > 0, served / demand[row], 0.0)
    ttft, t_kv = _pair_times(cols, matrix, chosen)
    picked = cols.take(chosen)
    labels = picked.labels()
    systems = picked.systems
    plan = labels.assign(
        bucket_weight=grid.bucket_weight.values[picked.bucket],
        phase=pd.Categorical(labels.phase, categories=PHASES, ordered=True),
        replicas=bought,
        systems_per_replica=systems.astype(int),
        systems=(systems * bought).astype(int),
        cost_per_hour=picked.cost_per_hour * bought,
        bucket_demand_rps=demand[row],
        capacity_rps=capacity,
        load_rps=load,
        served_rps=served,
        demand_share=demand_share,
        utilization=load / capacity,
        interactivity=picked.interactivity,
        ttft_s=ttft,
        t_kv_s=t_kv,
    ).sort_values(PLAN_ORDER)
    order = plan.index.to_numpy()
    plan = plan.reset_index(drop=True)
    plan["phase"] = plan.phase.astype(str)
    repeated = plan.duplicated(["model", "bucket_isl"])
    plan["bucket_demand_rps"] = plan.bucket_demand_rps.where(~repeated)  # once per (model, bucket): sums to demand
    plan = plan[[c for c in PLAN_COLUMNS if c in plan.columns]]
    tokens_per_second = float(rows.requests_per_second @ rows.tokens_per_request)
    cost = float(plan.cost_per_hour.sum())
    hardware = list(cols.table.index.levels[PLAN_ORDER.index("hardware")])

    def systems_of(table: pd.DataFrame) -> dict[str, int]:
        return {str(h): int(table.systems[table.hardware == h].sum()) for h in hardware}

    totals = FleetTotals(
        cost_per_hour=cost,
        systems=systems_of(plan),
        tokens_per_second=tokens_per_second,
        cost_per_mtok=cost / (tokens_per_second * 3600 / 1e6) if tokens_per_second > 0 else None,
        target_utilization=target_utilization,
        cost_per_hour_by_phase={p: float(plan.cost_per_hour[plan.phase == p].sum()) for p in PHASES},
        systems_by_phase={p: systems_of(plan[plan.phase == p]) for p in PHASES},
    )
    return Assignment(plan=plan, totals=totals, columns=picked.take(order), coverage=matrix.take(chosen[order]))
