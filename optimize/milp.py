"""The fleet MILP (docs/model.md §5) in Pyomo, solved by HiGHS through ``pyomo.contrib.solver``.

Split by step as PyPSA's ``pypsa/optimization/optimize.py`` (create_model, solve_model,
assign_solution): :func:`build_model` returns the Pyomo model, :func:`solve_model` solves it and
reads the normalized status and the values; the plan table is assembled by
:func:`optimize.plan.assign_solution`.

The model is built from flat, pre-masked numpy arrays: one integer variable per candidate column
(a replica configuration), optionally continuous flow variables after them (the requests/s
disaggregated serving routes, docs/model.md §9), one covering row per right-hand side, one capacity row
per capped hardware type.  The covering rows take generic coverage coefficients
(:class:`Coverage`, sparse triplets over columns and then flows), so a variable may appear in any
number of rows with any sign; rows are sums over index lists grouped once in numpy, and no rule
looks anything up.

    min  Σ_j cost_j x_j
    s.t. Σ_j a_rj x_j + Σ_k b_rk z_k >= demand_r              for every row r
         Σ_{j on hardware h} systems_j x_j <= inventory_h    for every capped h
         x_j ∈ {0, 1, 2, ...},  z_k >= 0

The elastic variant adds a continuous shortfall s_r >= 0 to every covering row with demand
(right-hand side > 0) and minimizes Σ_r s_r, which says how much demand the constraints leave
unmet.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.solver.common.factory import SolverFactory
from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition
from pyomo.core.expr.numeric_expr import LinearExpression

from optimize.constants import SolveStatus

# a gap relative to an objective of 0 is measured against this instead
GAP_DENOMINATOR_FLOOR = 1e-12
# relative slack of a covering row the rounded plan may show (HiGHS' primal feasibility tolerance is 1e-7)
COVER_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Coverage:
    """Coverage coefficients of the covering rows as sparse triplets.

    Entry ``k``: column ``column[k]`` contributes ``coefficient[k]`` per replica to row
    ``row[k]``.  Within a row, terms keep the order of the entries.
    """

    row: np.ndarray
    column: np.ndarray
    coefficient: np.ndarray

    @classmethod
    def one_row_per_column(cls, row: np.ndarray, capacity: np.ndarray) -> Coverage:
        """Each column ``j`` covers only row ``row[j]``, by ``capacity[j]``."""
        return cls(row=np.asarray(row), column=np.arange(len(row)), coefficient=np.asarray(capacity, dtype=float))


@dataclass(frozen=True)
class Solution:
    """What a solve returns: the normalized status and, when there is a plan, its values.

    Attributes
    ----------
    replicas
        Integer replicas per column (``None`` without a plan).
    shortfall
        Elastic solves: unmet demand per covering row (``None`` otherwise, or without a plan).
    objective, bound, mip_gap
        Incumbent objective, best bound, and their relative gap.
    solve_seconds
        Wall time of the HiGHS call.
    flows
        Values of the continuous flow variables (``None`` without a plan; empty without flows).
    """

    status: SolveStatus
    replicas: np.ndarray | None
    shortfall: np.ndarray | None
    objective: float | None
    bound: float | None
    mip_gap: float | None
    solve_seconds: float
    flows: np.ndarray | None = None


def positions_by_key(keys: np.ndarray, n_keys: int) -> list[np.ndarray]:
    """Positions of each key value ``0 .. n_keys - 1`` in ``keys``, in their original order."""
    order = np.argsort(keys, kind="stable")
    edges = np.searchsorted(keys[order], np.arange(n_keys + 1))
    return [order[edges[i]:edges[i + 1]] for i in range(n_keys)]


def normalize(termination: TerminationCondition, solution: SolutionStatus) -> SolveStatus:
    """Map the solver's termination condition and solution status to a :class:`SolveStatus`.

    Parameters
    ----------
    termination
        ``results.termination_condition``.
    solution
        ``results.solution_status``.
    """
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


def build_model(cost: np.ndarray, coverage: Coverage, demand: np.ndarray, systems: np.ndarray,
                hardware: np.ndarray, inventory: np.ndarray, *, elastic: bool = False,
                flows: int = 0) -> pyo.ConcreteModel:
    """Build the covering MILP (or its elastic variant).

    Parameters
    ----------
    cost, systems
        Per column: $/hour of one replica, systems it occupies.
    coverage
        Coverage coefficients: requests/s one replica of a column (variable ``j < len(cost)``)
        or one unit of a flow (variable ``len(cost) + k``) carries in a row.
    demand
        Requests/s per covering row (the right-hand sides).
    hardware
        Per column: index of its hardware type.
    inventory
        Max systems per hardware type (``inf``: no cap).
    elastic
        Add a continuous shortfall per covering row with demand and minimize the total shortfall
        instead of the cost.
    flows
        Number of continuous flow variables (cost 0) after the columns.

    Returns
    -------
    pyomo.environ.ConcreteModel
        Components ``replicas`` (per column), ``flow`` (per flow), ``shortfall`` (per row with
        demand, elastic only), ``cover``, ``inventory`` and ``objective``.
    """
    n_columns, n_rows = len(cost), len(demand)
    m = pyo.ConcreteModel()
    m.replicas = pyo.Var(range(n_columns), domain=pyo.NonNegativeIntegers)
    m.flow = pyo.Var(range(flows), domain=pyo.NonNegativeReals)
    replicas = [m.replicas[j] for j in range(n_columns)]
    variables_of = replicas + [m.flow[k] for k in range(flows)]
    entries_of_row = positions_by_key(coverage.row, n_rows)
    short_rows = [r for r in range(n_rows) if demand[r] > 0] if elastic else []
    if elastic:
        m.shortfall = pyo.Var(short_rows, domain=pyo.NonNegativeReals)
    has_shortfall = set(short_rows)

    def cover(m: pyo.ConcreteModel, r: int):
        entries = entries_of_row[r]
        coefs = coverage.coefficient[entries].tolist()
        variables = [variables_of[j] for j in coverage.column[entries].tolist()]
        if r in has_shortfall:
            coefs, variables = coefs + [1.0], variables + [m.shortfall[r]]
        return LinearExpression(constant=0, linear_coefs=coefs, linear_vars=variables) >= float(demand[r])

    m.cover = pyo.Constraint(range(n_rows), rule=cover)
    capped = [h for h in range(len(inventory)) if np.isfinite(inventory[h])]
    columns_on_hardware = positions_by_key(hardware, len(inventory))

    def cap(m: pyo.ConcreteModel, h: int):
        columns = columns_on_hardware[h]
        if len(columns) == 0:
            return pyo.Constraint.Skip
        return LinearExpression(constant=0, linear_coefs=systems[columns].tolist(),
                                linear_vars=[replicas[j] for j in columns]) <= float(inventory[h])

    m.inventory = pyo.Constraint(capped, rule=cap)
    if elastic:
        m.objective = pyo.Objective(expr=sum(m.shortfall[r] for r in short_rows))
    else:
        m.objective = pyo.Objective(expr=LinearExpression(constant=0, linear_coefs=cost.tolist(),
                                                          linear_vars=replicas))
    return m


def covers_demand(model: pyo.ConcreteModel, tolerance: float = COVER_TOLERANCE) -> bool:
    """Whether the loaded (rounded) values meet every covering row, to ``tolerance`` relative."""
    for row in model.cover.values():
        lower = pyo.value(row.lower)
        if pyo.value(row.body) < lower - tolerance * max(1.0, abs(lower)):
            return False
    return True


def solve_model(model: pyo.ConcreteModel, *, time_limit: float = 60.0, mip_rel_gap: float = 1e-6,
                threads: int | None = None) -> Solution:
    """Solve a :func:`build_model` model with HiGHS and read its status and values.

    A non-optimal result is not an exception: the termination condition is normalized to a
    :class:`SolveStatus`, and values are loaded only when there is a plan.

    Parameters
    ----------
    model
        The model from :func:`build_model`.
    time_limit
        Seconds; a plan found by then is returned with status ``time_limit``.
    mip_rel_gap
        HiGHS relative MIP gap.
    threads
        HiGHS threads (``None``: HiGHS default).

    Returns
    -------
    Solution
    """
    options = {"threads": threads} if threads else {}
    start = time.perf_counter()
    results = SolverFactory("highs").solve(
        model, load_solutions=False, raise_exception_on_nonoptimal_result=False,
        time_limit=time_limit, rel_gap=mip_rel_gap, solver_options=options)
    solve_seconds = time.perf_counter() - start
    status = normalize(results.termination_condition, results.solution_status)
    if status not in (SolveStatus.optimal, SolveStatus.time_limit):
        return Solution(status=status, replicas=None, shortfall=None, objective=None, bound=None, mip_gap=None,
                        solve_seconds=solve_seconds)
    results.solution_loader.load_vars()
    # HiGHS returns integers within its feasibility tolerance: round them to whole replicas
    replicas = np.rint([pyo.value(v) for v in model.replicas.values()]).astype(np.int64)
    for var, whole in zip(model.replicas.values(), replicas.tolist()):
        var.set_value(whole, skip_validation=True)
    if model.component("shortfall") is None and not covers_demand(model):
        # a plan that serves less than its demand is never reported as optimal (e.g. values the
        # solver cannot carry exactly): say so instead of returning it
        return Solution(status=SolveStatus.unverified, replicas=None, shortfall=None, objective=None, bound=None,
                        mip_gap=None, solve_seconds=solve_seconds)
    flow = model.component("flow")
    flows = np.zeros(0) if flow is None else np.array([pyo.value(v) for v in flow.values()], dtype=float)
    elastic = model.component("shortfall")
    shortfall = None
    if elastic is not None:  # per covering row, 0 where a row has no demand
        shortfall = np.zeros(len(model.cover))
        for r, v in elastic.items():
            shortfall[r] = pyo.value(v)
    objective, bound = results.incumbent_objective, results.objective_bound
    gap = None
    if objective is not None and bound is not None:
        gap = abs(objective - bound) / max(abs(objective), GAP_DENOMINATOR_FLOOR)
    return Solution(status=status, replicas=replicas, shortfall=shortfall, objective=objective, bound=bound,
                    mip_gap=gap, solve_seconds=solve_seconds, flows=flows)
