"""The fleet MILP over periods (docs/model.md §11) in Pyomo, solved by HiGHS.

Variables are *offers*: a candidate column (:mod:`optimize.columns`) bought in one capacity tier.
A reserved offer has one integer variable for the whole horizon; an on-demand or spot offer has
one integer variable per period; the flows of disaggregated serving (docs/model.md §9) have one
continuous variable per period.  With ``h_t`` the hours of period t and ``H = Σ h_t``::

    min  Σ_{reserved o} H c_o x_o + Σ_t h_t Σ_{per-period o} c_o x_ot
    s.t. every covering row r of :meth:`optimize.coverage.CoverageMatrix.milp_rows`, in every period t:
             Σ_o a_ro x_o(t) + Σ_k b_rk z_kt >= rhs_rt        (rhs: demand x burst, 0 for the flow rows)
         Σ_{o on hardware h} systems_o x_o(t) <= inventory_h   per capped h and period
         Σ_o systems_o power_o x_o(t) <= power_cap              per period (MW, power at the wall)
         x integer >= 0,  z >= 0

where ``x_o(t)`` is ``x_o`` for a reserved offer and ``x_ot`` otherwise.

**Spot rule (N+k).** A spot offer counts at its availability ``a`` (its expected capacity), and a
covering row that holds any spot replica in period t also gives up ``k`` whole replicas of its
largest spot offer: ``Σ ... - k c_max / a · s_rt >= rhs_rt`` with a binary ``s_rt`` that each spot
offer's replicas switch on (``x_ot <= M s_rt``).  So the row survives the loss of ``k`` more spot
replicas than expected at the target utilization.  At ``a = 1`` nothing is lost and spot is a
cheap on-demand tier.  The elastic variant
adds a continuous excess to every power and inventory row and minimizes their sum, each over its
cap: how far the caps must move for the demand to be served.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression

from optimize.constants import SolveStatus
from optimize.milp import Coverage, Solution, solve_model


@dataclass(frozen=True)
class DayProblem:
    """The flat arrays of the multi-period MILP.

    Attributes
    ----------
    cost
        Per offer: $/hour of one replica in its tier.
    periodic
        Per offer: bought per period (on-demand, spot) rather than for the horizon (reserved).
    systems, hardware, power_mw
        Per offer: systems of one replica, index of its hardware, MW at the wall of one replica.
    coverage
        Covering triplets over offers (``column < n offers``) and flows (``n offers + k``).
    rhs
        Shape (covering rows, periods): requests/s each row must cover in each period.
    flows
        Flow variables per period.
    hours
        Per period: its length in hours.
    inventory
        Per hardware: most systems in any period (``inf``: no cap).
    power_cap_mw
        Most MW per period (``None``: no cap).
    availability
        Per offer: the share of its capacity counted (spot: ``spot_availability``, else 1;
        ``None``: all 1).
    spot_spare
        Spot rule (N+k): every covering row that counts spot offers with availability < 1 keeps
        its right-hand side after losing ``spot_spare`` more replicas of its largest spot offer
        than the expected share, whenever it holds any spot replica.
    """

    cost: np.ndarray
    periodic: np.ndarray
    systems: np.ndarray
    hardware: np.ndarray
    power_mw: np.ndarray
    coverage: Coverage
    rhs: np.ndarray
    flows: int
    hours: np.ndarray
    inventory: np.ndarray
    power_cap_mw: float | None = None
    availability: np.ndarray | None = None
    spot_spare: int = 0

    @property
    def periods(self) -> int:
        return self.rhs.shape[1]

    def variable_index(self) -> np.ndarray:
        """(offers, periods): the integer variable that holds each offer's replicas in each period."""
        n_t = self.periods
        width = np.where(self.periodic, n_t, 1)
        base = np.concatenate([[0], np.cumsum(width)[:-1]])
        return base[:, None] + np.where(self.periodic[:, None], np.arange(n_t)[None, :], 0)

    def replicas_by_period(self, values: np.ndarray) -> np.ndarray:
        """(offers, periods) replicas from the integer variables' values."""
        return values[self.variable_index()]


def _groups(keys: np.ndarray, n_groups: int) -> list[np.ndarray]:
    order = np.argsort(keys, kind="stable")
    edges = np.searchsorted(keys[order], np.arange(n_groups + 1))
    return [order[edges[i]:edges[i + 1]] for i in range(n_groups)]


def _linear(coefs: np.ndarray, variables: list) -> LinearExpression:
    return LinearExpression(constant=0, linear_coefs=[float(c) for c in coefs], linear_vars=variables)


def build_day_model(p: DayProblem, *, elastic: bool = False) -> pyo.ConcreteModel:
    """Build the multi-period MILP (or its elastic variant, see the module docstring).

    Returns
    -------
    pyomo.environ.ConcreteModel
        Components ``replicas`` (integer variables, :meth:`DayProblem.variable_index`), ``flow``
        (flow k of period t at ``k * periods + t``), ``cover``, ``inventory``, ``power`` and, when
        elastic, ``power_excess`` (per period) and ``inventory_excess`` (per capped hardware and
        period).
    """
    n_offers, n_t = len(p.cost), p.periods
    n_rows = p.rhs.shape[0]
    index = p.variable_index()
    n_int = int(index.max()) + 1 if n_offers else 0
    m = pyo.ConcreteModel()
    m.replicas = pyo.Var(range(n_int), domain=pyo.NonNegativeIntegers)
    m.flow = pyo.Var(range(p.flows * n_t), domain=pyo.NonNegativeReals)
    ints = [m.replicas[i] for i in range(n_int)]
    flows = [m.flow[i] for i in range(p.flows * n_t)]
    # covering rows: each triplet once per period, on that period's variable
    cov = p.coverage
    is_offer = cov.column < n_offers
    t = np.repeat(np.arange(n_t)[None, :], len(cov.row), axis=0)
    var = np.where(is_offer[:, None], index[np.minimum(cov.column, max(n_offers - 1, 0))[:, None], t] if n_offers
                   else 0, -1)
    flow_var = (cov.column[:, None] - n_offers) * n_t + t
    global_row = (t * n_rows + cov.row[:, None]).ravel()
    is_offer_flat = np.repeat(is_offer, n_t)
    var_flat, flow_flat = var.ravel(), flow_var.ravel()
    coef_flat = np.repeat(cov.coefficient, n_t)
    entries = _groups(global_row, n_rows * n_t)
    rhs = p.rhs.T.ravel()  # period-major, as global_row

    # spot rule: per covering row with lossy spot entries, a binary per period and a margin
    availability = np.ones(n_offers) if p.availability is None else p.availability
    lossy = is_offer & (availability[np.minimum(cov.column, max(n_offers - 1, 0))] < 1) & (p.spot_spare > 0) \
        if n_offers else np.zeros(len(cov.row), dtype=bool)
    margin = np.zeros(n_rows)
    if lossy.any():
        np.maximum.at(margin, cov.row[lossy], cov.coefficient[lossy] / availability[cov.column[lossy]])
        margin *= p.spot_spare
    spot_rows = np.flatnonzero(margin > 0)
    m.spot_used = pyo.Var([(r, s) for r in spot_rows.tolist() for s in range(n_t)], domain=pyo.Binary)
    rhs_max = float(max(p.rhs.max(), 0.0)) if p.rhs.size else 0.0

    def cover(m: pyo.ConcreteModel, g: int):
        e = entries[g]
        r, s = g % n_rows, g // n_rows
        if len(e) == 0:
            return pyo.Constraint.Skip if rhs[g] <= 0 else pyo.Constraint.Infeasible
        variables = [ints[v] if o else flows[f] for v, f, o in zip(var_flat[e].tolist(), flow_flat[e].tolist(),
                                                                   is_offer_flat[e].tolist())]
        coefs = coef_flat[e]
        if margin[r] > 0:
            variables, coefs = variables + [m.spot_used[r, s]], np.append(coefs, -margin[r])
        return _linear(coefs, variables) >= float(rhs[g])

    m.cover = pyo.Constraint(range(n_rows * n_t), rule=cover)
    link = [(int(j), int(r), s) for j, r in zip(cov.column[lossy].tolist(), cov.row[lossy].tolist())
            for s in range(n_t)]
    least = {j: float(cov.coefficient[lossy & (cov.column == j)].min()) for j in set(cov.column[lossy].tolist())}
    big = {j: p.spot_spare + 1 + float(np.ceil((rhs_max + margin.max()) / c)) for j, c in least.items()}

    def spot_link(m: pyo.ConcreteModel, j: int, r: int, s: int):
        return ints[int(index[j, s])] - big[j] * m.spot_used[r, s] <= 0

    m.spot_link = pyo.Constraint(link, rule=spot_link)
    capped = [h for h in range(len(p.inventory)) if np.isfinite(p.inventory[h])]
    if elastic:
        m.inventory_excess = pyo.Var([(h, s) for h in capped for s in range(n_t)], domain=pyo.NonNegativeReals)
        m.power_excess = pyo.Var(range(n_t) if p.power_cap_mw is not None else [], domain=pyo.NonNegativeReals)
    on_hw = _groups(p.hardware, len(p.inventory))

    def cap(m: pyo.ConcreteModel, h: int, s: int):
        offers = on_hw[h]
        if len(offers) == 0:
            return pyo.Constraint.Skip
        expr = _linear(p.systems[offers], [ints[v] for v in index[offers, s].tolist()])
        if elastic:
            expr = expr - m.inventory_excess[h, s]
        return expr <= float(p.inventory[h])

    m.inventory = pyo.Constraint([(h, s) for h in capped for s in range(n_t)], rule=cap)

    def power(m: pyo.ConcreteModel, s: int):
        expr = _linear(p.power_mw, [ints[v] for v in index[:, s].tolist()])
        if elastic:
            expr = expr - m.power_excess[s]
        return expr <= float(p.power_cap_mw)

    m.power = pyo.Constraint(range(n_t) if p.power_cap_mw is not None and n_offers else [], rule=power)
    if elastic:
        terms = [m.power_excess[s] / float(p.power_cap_mw) for s in range(n_t)] if p.power_cap_mw else []
        terms += [m.inventory_excess[h, s] / max(float(p.inventory[h]), 1.0) for h in capped for s in range(n_t)]
        m.objective = pyo.Objective(expr=sum(terms) if terms else 0.0)
    else:
        weight = np.zeros(n_int)
        horizon = float(p.hours.sum())
        weight[index[~p.periodic, 0]] = p.cost[~p.periodic] * horizon
        periodic = np.flatnonzero(p.periodic)
        weight[index[periodic].ravel()] = (p.cost[periodic][:, None] * p.hours[None, :]).ravel()
        m.objective = pyo.Objective(expr=_linear(weight, ints))
    return m


@dataclass(frozen=True)
class DaySolution:
    """A solve of the multi-period MILP.

    Attributes
    ----------
    solution
        The normalized status and values (:class:`optimize.milp.Solution`).
    replicas
        (offers, periods) replicas, ``None`` without a plan.
    flows
        (flows, periods), ``None`` without a plan.
    power_excess, inventory_excess
        Elastic solves: MW over the cap per period; systems over the cap per (hardware, period).
    """

    solution: Solution
    replicas: np.ndarray | None
    flows: np.ndarray | None
    power_excess: np.ndarray | None = None
    inventory_excess: np.ndarray | None = None


def solve_day(p: DayProblem, *, elastic: bool = False, **options) -> DaySolution:
    """Build and solve the multi-period MILP; ``options`` go to :func:`optimize.milp.solve_model`."""
    m = build_day_model(p, elastic=elastic)
    solution = solve_model(m, **options)
    if solution.replicas is None:
        return DaySolution(solution=solution, replicas=None, flows=None)
    replicas = p.replicas_by_period(solution.replicas)
    flows = solution.flows.reshape(p.flows, p.periods) if p.flows else np.zeros((0, p.periods))
    power = inventory = None
    if elastic:
        power = np.array([pyo.value(m.power_excess[s]) for s in range(p.periods)]) if p.power_cap_mw else None
        inventory = np.zeros((len(p.inventory), p.periods))
        for (h, s), v in m.inventory_excess.items():
            inventory[h, s] = pyo.value(v)
    return DaySolution(solution=solution, replicas=replicas, flows=flows, power_excess=power,
                       inventory_excess=inventory)


def solve_day_by_block(p: DayProblem, block_of_offer: np.ndarray, block_of_flow: np.ndarray,
                       block_of_row: np.ndarray, **options) -> DaySolution:
    """Solve a problem that no cap couples as one small MILP per block, and stitch the answers.

    Without an inventory or power cap, a demand row (model, ISL bucket) shares no variable and
    no constraint with another: its offers, its flows and its capacity and Hall rows are its own
    (:meth:`optimize.coverage.CoverageMatrix.milp_rows`).  The MILP is then the sum of one MILP per row, and
    solving each alone gives the same optimum, much faster than one MILP with every period of
    every row (HiGHS spends its time on root cuts of the joint model).  With a cap, this is
    :func:`solve_day` on the whole problem.

    Parameters
    ----------
    p
        The problem.
    block_of_offer, block_of_flow, block_of_row
        The block (demand row) of each offer, flow and covering row.
    options
        Passed to :func:`optimize.milp.solve_model`.
    """
    if p.power_cap_mw is not None or np.isfinite(p.inventory).any():
        return solve_day(p, **options)
    n_offers = len(p.cost)
    replicas = np.zeros((n_offers, p.periods), dtype=np.int64)
    flows = np.zeros((p.flows, p.periods))
    objective, bound, gap, seconds = 0.0, 0.0, 0.0, 0.0
    statuses = []
    cov = p.coverage
    entry_block = np.where(cov.column < n_offers, block_of_offer[np.minimum(cov.column, max(n_offers - 1, 0))],
                           block_of_flow[np.maximum(cov.column - n_offers, 0)] if p.flows else -1)
    for b in np.unique(block_of_row):
        offers, fl = np.flatnonzero(block_of_offer == b), np.flatnonzero(block_of_flow == b)
        rows = np.flatnonzero(block_of_row == b)
        e = np.flatnonzero(entry_block == b)
        new_col = np.full(n_offers + p.flows, -1)
        new_col[offers] = np.arange(len(offers))
        new_col[n_offers + fl] = len(offers) + np.arange(len(fl))
        new_row = np.full(len(block_of_row), -1)
        new_row[rows] = np.arange(len(rows))
        sub = DayProblem(cost=p.cost[offers], periodic=p.periodic[offers], systems=p.systems[offers],
                         hardware=p.hardware[offers], power_mw=p.power_mw[offers],
                         coverage=Coverage(row=new_row[cov.row[e]], column=new_col[cov.column[e]],
                                           coefficient=cov.coefficient[e]),
                         rhs=p.rhs[rows], flows=len(fl), hours=p.hours, inventory=p.inventory,
                         availability=None if p.availability is None else p.availability[offers],
                         spot_spare=p.spot_spare)
        s = solve_day(sub, **options)
        statuses.append(s.solution.status)
        seconds += s.solution.solve_seconds
        if s.replicas is None:
            return DaySolution(solution=Solution(status=s.solution.status, replicas=None, shortfall=None,
                                                 objective=None, bound=None, mip_gap=None, solve_seconds=seconds),
                               replicas=None, flows=None)
        replicas[offers] = s.replicas
        flows[fl] = s.flows
        objective += float(s.solution.objective)
        bound += float(s.solution.bound) if s.solution.bound is not None else float(s.solution.objective)
        gap = max(gap, s.solution.mip_gap or 0.0)
    status = SolveStatus.time_limit if SolveStatus.time_limit in statuses else SolveStatus.optimal
    solution = Solution(status=status, replicas=None, shortfall=None, objective=objective, bound=bound,
                        mip_gap=gap, solve_seconds=seconds)
    return DaySolution(solution=solution, replicas=replicas, flows=flows)


def least_power(p: DayProblem, block_of_offer: np.ndarray, block_of_flow: np.ndarray, block_of_row: np.ndarray,
                **options) -> DaySolution:
    """The elastic answer of a problem whose one cap is the power cap: each period's least power at
    the wall that covers its demand, and its excess over the cap.

    Every offer is bought per period at a cost of its MW (a reserved replica is held in every period,
    so buying per period can only lower a period's power): the objective ``Σ_t Σ_o power_o x_ot``
    then splits into one least-power problem per period and per demand row, solved block by block
    (:func:`solve_day_by_block`, no cap couples them).  A period's least power is what it needs at
    the wall whatever the other periods buy: "needs at least".  The joint elastic solve
    (:func:`solve_day` with ``elastic``, which minimizes the sum of the excesses with the reserved
    offers shared) gives the same excesses wherever an on-demand offer matches each reserved one,
    and took HiGHS ~10 s on the five models' diurnal day where this takes well under one.
    """
    least = replace(p, cost=p.power_mw, periodic=np.ones_like(p.periodic), hours=np.ones_like(p.hours),
                    power_cap_mw=None)
    solved = solve_day_by_block(least, block_of_offer, block_of_flow, block_of_row, **options)
    if solved.replicas is None:
        return solved
    power = p.power_mw @ solved.replicas
    cap = np.inf if p.power_cap_mw is None else p.power_cap_mw
    return replace(solved, power_excess=np.maximum(power - cap, 0.0),
                   inventory_excess=np.zeros((len(p.inventory), p.periods)))

