"""The fleet MILP (SPEC §5) in Pyomo, solved by HiGHS through ``pyomo.contrib.solver``.

Built from flat, pre-masked numpy arrays: one integer variable per candidate column (a
replica configuration), one covering row per (model, ISL bucket), one capacity row per capped
hardware type.  Rows are sums over index lists grouped once in numpy; no rule looks anything up.

    min  Σ_j cost_j x_j
    s.t. Σ_{j in row r} capacity_j x_j >= demand_r          for every (model, bucket) r
         Σ_{j on hardware h} systems_j x_j <= inventory_h    for every capped h
         x_j ∈ {0, 1, 2, ...}
"""
from __future__ import annotations

import enum
import time
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.solver.common.factory import SolverFactory
from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition
from pyomo.core.expr.numeric_expr import LinearExpression


class SolveStatus(enum.Enum):
    """Normalized outcome of a solve (never the solver's raw strings)."""

    optimal = "optimal"            # proven optimal within the configured gap
    time_limit = "time_limit"      # stopped by the time limit with a feasible plan
    infeasible = "infeasible"      # no plan meets demand under the constraints
    no_solution = "no_solution"    # stopped (time limit, error) without a feasible plan


@dataclass(frozen=True)
class Solution:
    status: SolveStatus
    values: np.ndarray | None      # variable values (integers for x, floats for slacks)
    objective: float | None
    bound: float | None
    mip_gap: float | None
    build_seconds: float
    solve_seconds: float


def _groups(keys: np.ndarray, n_groups: int) -> list[np.ndarray]:
    order = np.argsort(keys, kind="stable")
    edges = np.searchsorted(keys[order], np.arange(n_groups + 1))
    return [order[edges[i]:edges[i + 1]] for i in range(n_groups)]


def normalize(termination: TerminationCondition, solution: SolutionStatus) -> SolveStatus:
    has_plan = solution in (SolutionStatus.feasible, SolutionStatus.optimal)
    if termination == TerminationCondition.convergenceCriteriaSatisfied and has_plan:
        return SolveStatus.optimal
    if termination in (TerminationCondition.provenInfeasible, TerminationCondition.infeasibleOrUnbounded,
                       TerminationCondition.locallyInfeasible):
        return SolveStatus.infeasible
    if termination in (TerminationCondition.maxTimeLimit, TerminationCondition.iterationLimit,
                       TerminationCondition.interrupted) and has_plan:
        return SolveStatus.time_limit
    return SolveStatus.no_solution


def solve(cost: np.ndarray, capacity: np.ndarray, row: np.ndarray, demand: np.ndarray,
          systems: np.ndarray, hardware: np.ndarray, inventory: np.ndarray, *,
          shortfall: bool = False, time_limit: float = 60.0, mip_rel_gap: float = 1e-6,
          threads: int | None = None) -> Solution:
    """Build and solve the covering MILP.

    Parameters
    ----------
    cost, capacity, systems
        Per column: $/hour of one replica, requests/s it may carry (after the utilization
        target), systems it occupies.
    row, hardware
        Per column: index of its (model, bucket) demand row and of its hardware type.
    demand
        Requests/s per row.
    inventory
        Max systems per hardware type (``inf``: no cap).
    shortfall
        Solve the elastic problem instead: a continuous shortfall per row, minimized, so the
        result says how much demand the constraints leave unmet (``values[-len(demand):]``).
    """
    start = time.perf_counter()
    n, n_rows = len(cost), len(demand)
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(n), domain=pyo.NonNegativeIntegers)
    xs = [m.x[j] for j in range(n)]
    by_row = _groups(row, n_rows)
    if shortfall:
        m.s = pyo.Var(range(n_rows), domain=pyo.NonNegativeReals)

    def cover(m, r):
        idx = by_row[r]
        coefs, variables = capacity[idx].tolist(), [xs[j] for j in idx]
        if shortfall:
            coefs, variables = coefs + [1.0], variables + [m.s[r]]
        return LinearExpression(constant=0, linear_coefs=coefs, linear_vars=variables) >= float(demand[r])

    m.demand = pyo.Constraint(range(n_rows), rule=cover)
    capped = [h for h in range(len(inventory)) if np.isfinite(inventory[h])]
    by_hw = _groups(hardware, len(inventory))

    def cap(m, h):
        idx = by_hw[h]
        if len(idx) == 0:
            return pyo.Constraint.Skip
        return LinearExpression(constant=0, linear_coefs=systems[idx].tolist(),
                                linear_vars=[xs[j] for j in idx]) <= float(inventory[h])

    m.inventory = pyo.Constraint(capped, rule=cap)
    if shortfall:
        m.objective = pyo.Objective(expr=sum(m.s[r] for r in range(n_rows)))
    else:
        m.objective = pyo.Objective(expr=LinearExpression(constant=0, linear_coefs=cost.tolist(), linear_vars=xs))
    build_seconds = time.perf_counter() - start

    options = {"threads": threads} if threads else {}
    start = time.perf_counter()
    results = SolverFactory("highs").solve(
        m, load_solutions=False, raise_exception_on_nonoptimal_result=False,
        time_limit=time_limit, rel_gap=mip_rel_gap, solver_options=options)
    solve_seconds = time.perf_counter() - start
    status = normalize(results.termination_condition, results.solution_status)
    values = objective = bound = gap = None
    if status in (SolveStatus.optimal, SolveStatus.time_limit):
        results.solution_loader.load_vars()
        values = np.array([pyo.value(v) for v in xs])
        values = np.rint(values)
        if shortfall:
            values = np.concatenate([values, [pyo.value(m.s[r]) for r in range(n_rows)]])
        objective = results.incumbent_objective
        bound = results.objective_bound
        if objective is not None and bound is not None:
            gap = abs(objective - bound) / max(abs(objective), 1e-12)
    return Solution(status, values, objective, bound, gap, build_seconds, solve_seconds)
