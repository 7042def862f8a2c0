"""Robust fleet plans (issue 14): plan for a confidence ``q`` over scenarios, then test plans on
every scenario.

The plan at confidence q is :func:`optimize.plan_fleet` on :func:`optimize.scenario_grid.quantile_grid`,
every cell at its pessimistic order statistic over the scenarios; :func:`optimize.evaluation.evaluate_plan`
tests a plan on every scenario.

Each column is pessimistic on its own: the plan meets demand in every scenario where every
column it buys does at least as well as its quantile, which may be fewer than a share ``q`` when
columns on different hardware fail in different scenarios (on the defaults: 83% at q = 0.9, the
wafer's decode and the B200's prefill depend on independent inputs).  :func:`compare_plans`
therefore calibrates the plan as a whole: a capacity margin (the plan covers a multiple of the
demand) and, where the rows' SLA is what fails, a more pessimistic order statistic, until the
plan meets demand and the SLA in a share ``q`` of its scenarios; held-out scenarios check it.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from omegaconf import DictConfig

from model.app.config import with_values
from model.app.validate import validate as validate_model
from optimize.constants import ShortfallKind, SolveStatus
from optimize.evaluation import evaluate_plan
from optimize.fleet import plan_fleet
from optimize.inputs import bucket_grid, demand_by_model
from optimize.plan import FleetPlan
from optimize.scenario_grid import (
    SCENARIO,
    column_confidence,
    order_index,
    quantile_grid,
    quantile_grids,
    scenario_count,
)


def robust_plan(cfg: DictConfig, params: Mapping[str, Any], q: float) -> FleetPlan:
    """The cheapest fleet whose every column serves at its pessimistic quantile: :func:`optimize.plan_fleet`
    on :func:`optimize.scenario_grid.quantile_grid` ``(cfg, params, q)``."""
    return plan_fleet(cfg, grid=quantile_grid(cfg, params, q))


@dataclass(frozen=True)
class RobustComparison:
    """The robust plan beside the point-estimate plan, both evaluated on every scenario.

    Attributes
    ----------
    q
        Target confidence: the share of scenarios in which the robust plan must meet demand and
        the SLA.
    column_confidence
        The confidence each column was taken at (``q``, or more where the joint calibration
        raised it, :func:`compare_plans`).
    capacity_margin
        The demand multiple the robust plan covers (1, or more where the calibration raised it).
    robust, point
        The plan at ``column_confidence`` and the plan on the catalog values, for the same demand:
        the models a robust plan can serve (``dropped`` lists the others).
    scenarios
        :func:`evaluate_plan` of both, along a ``plan`` dim (``robust``, ``point``).
    holdout
        The same on scenarios the plans were not made on (None if none were given).
    premium
        Robust $/hour over point $/hour at catalog prices, minus 1 (NaN without both plans).
    dropped
        Per model that no column serves at confidence ``q`` (so that no robust plan can serve it):
        the reason, from the robust plan's shortfall report.  Their demand is left out of both
        plans; if that is every model's, there is no robust plan (``robust`` is the infeasible
        one, with its report) and ``point`` is planned for the whole demand.
    """

    q: float
    column_confidence: float
    capacity_margin: float
    robust: FleetPlan
    point: FleetPlan
    scenarios: xr.Dataset
    premium: float
    holdout: xr.Dataset | None = None
    dropped: dict[str, str] = field(default_factory=dict)

    def summary(self, quantiles: Sequence[float] = (0.05, 0.5, 0.95)) -> pd.DataFrame:
        """One row per plan: status, $/hour at catalog prices, shares of scenarios met, $/hour quantiles.

        Parameters
        ----------
        quantiles
            Levels of the $/hour quantiles over scenarios.

        Returns
        -------
        pandas.DataFrame
            Index ``plan`` (robust, point).
        """
        out = []
        for name, plan in (("robust", self.robust), ("point", self.point)):
            s = self.scenarios.sel(plan=name)
            row = {"plan": name, "status": plan.status.value,
                   "q": self.q if name == "robust" else np.nan,
                   "column_confidence": self.column_confidence if name == "robust" else np.nan,
                   "capacity_margin": self.capacity_margin if name == "robust" else np.nan,
                   "cost_per_hour": plan.totals.cost_per_hour if plan.totals.cost_per_hour is not None else np.nan,
                   "systems": sum(plan.totals.systems.values()) if plan.totals.systems else 0,
                   "scenarios": s.sizes[SCENARIO],
                   "share_meets_demand_and_sla": float(s.meets_demand_and_sla.mean()),
                   "share_meets_sla": float(s.meets_sla.mean()), "share_meets_demand": float(s.meets_demand.mean()),
                   "share_serves_demand_at_full_load": float(s.serves_demand_at_full_load.mean())}
            if self.holdout is not None:
                row["holdout_scenarios"] = self.holdout.sizes[SCENARIO]
                row["holdout_share_meets_demand_and_sla"] = float(
                    self.holdout.sel(plan=name).meets_demand_and_sla.mean())
            cost = s.cost_per_hour.values
            for level in quantiles:
                row[f"cost_per_hour_p{100 * level:g}"] = float(np.quantile(cost, level)) if np.isfinite(cost).all() \
                    else np.nan
            row["premium"] = self.premium if name == "robust" else 0.0
            row["dropped_models"] = " ".join(self.dropped)
            out.append(row)
        return pd.DataFrame(out).set_index("plan")


UNSERVABLE = (ShortfallKind.sla_unreachable.value, ShortfallKind.ttft_unreachable.value,
              ShortfallKind.no_buildable_size.value, ShortfallKind.isl_beyond_context.value)
CALIBRATION_STEPS = (1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0)  # multiples of the first order index tried
CAPACITY_MARGINS = (1.0, 1.25, 1.5, 2.0, 3.0)  # demand multiples the plan may be calibrated to cover
MARGIN_BISECTIONS = 4  # then halvings of the bracket, for the least margin that meets q


def _unservable(plan: FleetPlan) -> dict[str, str]:
    """Models a plan's shortfall report says no column serves, with the reason."""
    if plan.status != SolveStatus.infeasible or not len(plan.shortfalls):
        return {}
    rows = plan.shortfalls[plan.shortfalls.kind.isin(UNSERVABLE)]
    def reason(part: pd.DataFrame) -> str:
        if len(part) == 1:
            return f"{part.kind.iloc[0]}: {part.detail.iloc[0]}"
        return "; ".join(f"ISL {int(r.bucket_isl):,}: {r.kind}: {r.detail}" for r in part.itertuples())

    return {str(m): reason(part) for m, part in rows.groupby("model", sort=False)}


def _evaluate_both(cfg: DictConfig, robust: FleetPlan, point: FleetPlan, params: Mapping[str, Any]) -> xr.Dataset:
    return xr.concat([evaluate_plan(cfg, robust, params), evaluate_plan(cfg, point, params)],
                     dim=xr.DataArray(["robust", "point"], dims="plan", name="plan",
                                      attrs={"units": "", "long_name": "fleet plan"}))


def _with_margin(cfg: DictConfig, margin: float, validate: Callable[[DictConfig], DictConfig]) -> DictConfig:
    """The config with every selected model's demand times ``margin``."""
    if margin == 1.0:
        return cfg
    demand = demand_by_model(cfg)
    return with_values(cfg, {f"fleet.demand.{m}": float(demand.sel(model=m)) * margin for m in demand.model.values},
                       validate)


def compare_plans(cfg: DictConfig, params: Mapping[str, Any], q: float, *, joint: bool = True,
                  holdout: Mapping[str, Any] | None = None,
                  validate: Callable[[DictConfig], DictConfig] = validate_model) -> RobustComparison:
    """Plan at confidence ``q`` and on the catalog values; evaluate both on every scenario.

    Columns taken at their own ``q`` quantile fail in different scenarios when they sit on
    different hardware (a B200 prefill column and a wafer decode column depend on independent
    inputs), so the plan as a whole may meet demand in fewer than a share ``q`` of the
    scenarios.  With ``joint`` the plan is calibrated until it meets demand and the SLA in at
    least a share ``q`` of its scenarios: first a capacity margin (the plan covers the demand
    times :data:`CAPACITY_MARGINS`, evaluated against the demand itself), which buys replicas
    without touching the SLA check; where the rows' SLA holds in fewer than a share ``q`` (no
    margin can help), the columns' order statistic is made more pessimistic in the steps
    :data:`CALIBRATION_STEPS` of the order index.  The first margin that meets ``q`` is narrowed
    by :data:`MARGIN_BISECTIONS` halvings of its bracket, and the cheapest plan that meets ``q``
    is kept (``column_confidence`` and ``capacity_margin`` record it); if none does (or the next
    step would drop more models), the plan with the largest share.
    ``holdout`` scenarios, if given, test both plans out of sample.

    A model that no column serves at confidence ``q`` (its SLA, TTFT limit, size or context
    fails in more than ``1 - q`` of the scenarios on every hardware) makes any robust plan
    infeasible; its demand is then left out of both plans and listed in ``dropped``, so that the
    others still get a robust plan and a premium.

    Parameters
    ----------
    cfg
        Validated config with ``fleet``.
    params
        Dotted key -> value, DataArrays along ``scenario``.
    q
        Confidence in (0, 1).
    joint
        Calibrate the plan so that it meets ``q`` as a whole.
    holdout
        Other scenarios (as ``params``) to evaluate both plans on.
    validate
        The app's validation, for the configs with changed demand.

    Returns
    -------
    RobustComparison
    """
    n = scenario_count(params)
    first = order_index(n, q)
    ks = sorted({int(np.floor(first * step)) for step in CALIBRATION_STEPS}, reverse=True) if joint else [first]
    grids = quantile_grids(cfg, params, ks)
    first_plan = plan_fleet(cfg, grid=grids[0])
    dropped = _unservable(first_plan)
    demand = demand_by_model(cfg)
    if not [m for m in demand.model.values if float(demand.sel(model=m)) > 0 and str(m) not in dropped]:
        # no model left to plan for: the robust plan is the report of why, the point plan the full one
        point = plan_fleet(cfg, grid=bucket_grid(cfg))
        return RobustComparison(q=q, column_confidence=column_confidence(n, first), capacity_margin=1.0,
                                robust=first_plan, point=point,
                                scenarios=_evaluate_both(cfg, first_plan, point, params), premium=np.nan,
                                holdout=None if holdout is None else _evaluate_both(cfg, first_plan, point, holdout),
                                dropped=dropped)
    served = with_values(cfg, {f"fleet.demand.{m}": 0.0 for m in dropped}, validate) if dropped else cfg
    point = plan_fleet(served, grid=bucket_grid(served))
    best = None  # (met, -cost, share, k, margin, plan, evaluation): the cheapest plan that meets q, else the best share

    def attempt(k: int, grid: xr.Dataset, margin: float) -> tuple[FleetPlan, xr.Dataset] | None:
        nonlocal best
        robust = plan_fleet(_with_margin(served, margin, validate), grid=grid)
        if best is not None and _unservable(robust):
            return None  # more pessimism would drop more models
        evaluated = _evaluate_both(served, robust, point, params)
        share = float(evaluated.sel(plan="robust").meets_demand_and_sla.mean())
        cost = robust.totals.cost_per_hour if robust.totals.cost_per_hour is not None else np.inf
        key = (share >= q, -cost if share >= q else share, share, k, margin, robust, evaluated)
        if best is None or key[:2] > best[:2]:
            best = key
        return robust, evaluated

    for k, grid in zip(ks, grids):
        low, stop = 1.0, False
        for margin in CAPACITY_MARGINS if joint else (1.0,):
            result = attempt(k, grid, margin)
            if result is None:
                stop = True
                break
            mine = result[1].sel(plan="robust")
            if float(mine.meets_demand_and_sla.mean()) >= q:
                high = margin
                for _ in range(MARGIN_BISECTIONS if margin > 1.0 else 0):  # the least margin that still meets q
                    middle = (low + high) / 2
                    result = attempt(k, grid, middle)
                    met = result is not None and float(result[1].sel(plan="robust").meets_demand_and_sla.mean()) >= q
                    low, high = (low, middle) if met else (middle, high)
                stop = True
                break
            if float(mine.meets_sla.mean()) < q:
                break  # the rows' SLA fails too often: no capacity margin fixes that, more pessimism may
            low = margin
        if stop:
            break
    _, _, _, k, margin, robust, evaluated = best
    costs = (robust.totals.cost_per_hour, point.totals.cost_per_hour)
    premium = costs[0] / costs[1] - 1 if None not in costs and costs[1] else np.nan
    out_of_sample = _evaluate_both(served, robust, point, holdout) if holdout is not None else None
    return RobustComparison(q=q, column_confidence=column_confidence(n, k), capacity_margin=margin, robust=robust,
                            point=point, scenarios=evaluated, premium=float(premium), holdout=out_of_sample,
                            dropped=dropped)
