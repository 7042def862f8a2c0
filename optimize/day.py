"""Fleets over a day (docs/model.md §11): one MILP over the periods of a demand profile, with reserved,
on-demand and spot capacity, an optional site power cap, and the savings against the plans a
planner would otherwise buy.

:func:`plan_day` runs the steps: the demand profile (:mod:`optimize.demand`), the grid and the
candidate columns of today's plan (:mod:`optimize.inputs`, :mod:`optimize.columns`), one offer
per (column, tier) pruned per tier (:func:`offers`), the MILP (:mod:`optimize.periods`), and the
plan table per period (:func:`optimize.plan.assign_solution` on each period's replicas).

Baselines, solved on the same offers:

- **peak at on-demand**: one fleet for the whole horizon, sized for the largest demand x burst
  of any period, bought at on-demand prices (hardware without an on-demand tier, the owned wafer,
  at its reserved price);
- **all on-demand**: the same periods, on-demand only (the same exception).

``$/day`` is the horizon's cost scaled to 24 hours (a horizon shorter than a day repeats).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from omegaconf import DictConfig

from model.app.config import with_values
from model.app.validate import validate as validate_model
from model.trace import Trace
from optimize.columns import PHASES, Columns, candidate_columns, concat
from optimize.constants import Phase, SolveStatus
from optimize.coverage import CoverageMatrix
from optimize.demand import demand_profile
from optimize.inputs import DemandRows, bucket_grid, column_options, demand_by_model, inventory_by_hardware, isl_buckets
from optimize.periods import DayProblem, DaySolution, least_power, solve_day, solve_day_by_block
from optimize.plan import PLAN_COLUMNS, assign_solution
from optimize.pruning import prune_dominated
from optimize.schema import DemandProfile, IslBucket
from optimize.shortfalls import no_column_shortfalls
from optimize.tiers import ON_DEMAND, RESERVED, SPOT, TIERS, TierPrices, tier_prices
from optimize.validate import validate_fleet

HOURS_PER_DAY = 24.0


def _validate(cfg: DictConfig) -> DictConfig:
    cfg = validate_model(cfg)
    validate_fleet(cfg)
    return cfg

# plan.csv of a day plan: the period and tier first, then today's columns
DAY_PLAN_COLUMNS: dict[str, tuple[str, str]] = {
    "period": ("", "period index"),
    "period_start_h": ("h", "start of the period"),
    "tier": ("", "capacity tier: reserved (for the horizon), on_demand or spot (per period)"),
    **PLAN_COLUMNS,
}
DAY_PLAN_COLUMNS["capacity_rps"] = ("1/s", "requests/s the row's replicas carry at full utilization (spot: "
                                           "times spot_availability, its expected capacity)")
DAY_PLAN_COLUMNS["prefill_time_s"] = ("s", "the cell's prefill time per request (what the replay's engines take)")
DAY_PLAN_COLUMNS["prefill_busy_s"] = ("s", "the cell's prefill busy time per request, 1 / prefill_capacity (a "
                                            "replica that prefills N at once counts 1/N of its prefill time)")
DAY_PLAN_COLUMNS["osl"] = ("tokens", "output tokens per request of the cell")
DAY_PLAN_COLUMNS["bucket_demand_rps"] = ("1/s", "mean requests/s of this (model, bucket) in the period: on its "
                                                "first row of the period only")
TIER_SEPARATOR = "@"


@dataclass(frozen=True)
class Offers:
    """The MILP's offers: candidate columns, each bought in one tier.

    The columns' hardware label is (hardware, tier), ``hardware@tier`` (``names``, in the order
    ``tier * n_hardware + hardware``), so that the plan table of
    :func:`optimize.plan.assign_solution` keeps them apart; ``hardware`` and ``tier`` hold the
    plain indices; ``coverage`` is their
    coverage matrix once the MILP's utilization and TTFT limits are known.
    """

    cols: Columns
    hardware: np.ndarray
    tier: np.ndarray
    names: list[str]
    coverage: CoverageMatrix | None = None


def offers(candidates: Columns, prices: TierPrices, hardware: list[str], uncapped: np.ndarray | None,
           prune: bool = True) -> Offers:
    """One offer per (candidate column, tier its hardware sells), pruned within each tier.

    A replica bought in a tier costs ``systems x price`` of that tier; a spot replica carries
    its requests/s times the hardware's ``spot_availability``.  Pruning within a tier
    (:func:`optimize.pruning.prune_dominated` on that tier's costs and rates) keeps the optimum:
    each offer's variables enter the MILP only through its own coverage, cost, systems and power,
    so an offer another one of its tier replaces at no more cost can go.  ``uncapped`` (per
    hardware: no inventory cap and no power cap) allows replacements across hardware.

    Parameters
    ----------
    candidates
        The candidate columns (costs at ``price_per_hour``, the reserved price).
    prices
        :func:`optimize.tiers.tier_prices`.
    hardware
        Hardware names of the grid.
    uncapped
        Per hardware: may replace columns of other hardware (None: same hardware only).
    prune
        Prune within each tier.
    """
    parts, hw_parts, tier_parts = [], [], []
    n_hw = len(hardware)
    names = [f"{h}{TIER_SEPARATOR}{t}" for t in TIERS for h in hardware]
    for k in range(len(TIERS)):
        sells = np.isfinite(prices.price[:, k])
        chosen = candidates.take(sells[candidates.hardware])
        if len(chosen) == 0:
            continue
        if k != RESERVED:  # reserved keeps the grid's own cost_per_hour: today's numbers, bit for bit
            chosen = chosen.assign(cost_per_hour=chosen.systems * prices.price[chosen.hardware, k])
        if k == SPOT:
            chosen = chosen.assign(requests_per_second=chosen.requests_per_second
                                   * prices.availability[chosen.hardware])
        if prune:
            chosen = prune_dominated(chosen, uncapped)
        hw_parts.append(chosen.hardware)
        tier_parts.append(np.full(len(chosen), k))
        parts.append(chosen.relabel("hardware", names, chosen.hardware + k * n_hw))
    if not parts:
        empty = candidates.take(np.zeros(len(candidates), dtype=bool)).relabel("hardware", names, np.zeros(0))
        return Offers(empty, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), names)
    return Offers(concat(*parts), np.concatenate(hw_parts), np.concatenate(tier_parts), names)


@dataclass(frozen=True)
class DayPlan:
    """A plan over the periods of a demand profile, or the report of why there is none.

    Attributes
    ----------
    status
        Normalized solver status.
    plan
        One row per (period, tier, configuration) (:data:`DAY_PLAN_COLUMNS`).
    periods
        Per period (dims ``period``, ``tier``, ``hardware``): demand, capacity by tier, cost,
        power, tokens per MW, $/Mtok.
    totals
        $/day, the reserved base, the peak, the baselines and savings (see :meth:`as_dict`).
    shortfalls
        Why there is no plan: per (model, bucket) or per binding cap, with the shortfall.
    profile
        The demand profile (:func:`optimize.demand.demand_profile`).
    """

    status: SolveStatus
    plan: pd.DataFrame
    periods: xr.Dataset | None
    totals: dict[str, Any]
    shortfalls: pd.DataFrame
    profile: xr.Dataset
    build_solve_seconds: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def solved(self) -> bool:
        return self.status in (SolveStatus.optimal, SolveStatus.time_limit)


def _day_rows(grid: xr.Dataset, profile: xr.Dataset) -> tuple[DemandRows, np.ndarray, np.ndarray]:
    """Demand rows: one per (model, bucket) with demand in any period, their mean demand and their
    demand x burst, each (rows, periods)."""
    demand = profile.demand.sel(model=grid.model).values  # (model, bucket, period)
    burst = profile.burst.sel(model=grid.model).values  # (model, period)
    active = (demand > 0).any(axis=2)
    row_of_cell = np.where(active, np.cumsum(active.ravel()).reshape(active.shape) - 1, -1)
    model, bucket = np.nonzero(active)
    tokens = (grid.bucket_isl + grid.osl).values if grid.osl.ndim else grid.bucket_isl.values + float(grid.osl)
    mean = demand[model, bucket, :]
    rows = DemandRows(model=model, bucket=bucket, requests_per_second=mean.max(axis=1),
                      tokens_per_request=np.broadcast_to(tokens[None, :], active.shape)[active],
                      row_of_cell=row_of_cell)
    return rows, mean, mean * burst[model, :]


def _rows_of_period(rows: DemandRows, mean: np.ndarray, t: int) -> DemandRows:
    return replace(rows, requests_per_second=mean[:, t])


def plan_day(cfg: DictConfig, trace: Trace | None = None, baselines: bool = True) -> DayPlan:
    """The cost-minimizing fleet over the periods of ``fleet.demand_profile`` (docs/model.md §11).

    Parameters
    ----------
    cfg
        Validated optimizer config.
    trace
        The request log of ``demand_profile=trace`` (:func:`model.app.traces.read_trace`).
    baselines
        Also solve the peak-at-on-demand and all-on-demand baselines (the savings).

    Returns
    -------
    DayPlan
    """
    f = cfg.fleet
    mean_rate = demand_by_model(cfg)
    isl, weight = isl_buckets(cfg)
    profile = demand_profile(cfg, mean_rate, isl, weight, trace)
    if DemandProfile(f.demand_profile) == DemandProfile.trace:
        weights = profile.bucket_weight.values.astype(float)
        weights[-1] += 1.0 - weights.sum()
        explicit = [IslBucket(isl=int(i), weight=float(w)) for i, w in zip(profile.bucket_isl.values, weights)]
        cfg = with_values(cfg, {"fleet.isl.kind": "buckets", "fleet.isl.explicit": explicit}, _validate)
    grid = bucket_grid(cfg)
    rows, mean, need = _day_rows(grid, profile)
    options = column_options(cfg, grid)
    candidates = candidate_columns(grid, rows, options)
    hardware = [str(h) for h in grid.hardware.values]
    peak_by_model = xr.DataArray(profile.demand.sum("bucket").max("period").sel(model=grid.model).values,
                                 dims="model", coords={"model": grid.model.values})
    missing = no_column_shortfalls(grid, peak_by_model, candidates, cfg, options)
    if len(missing):
        return DayPlan(SolveStatus.infeasible, pd.DataFrame(), None, {}, missing, profile)
    prices = tier_prices(cfg, hardware)
    inventory = inventory_by_hardware(cfg, hardware)
    power_cap = None if f.power_cap_mw is None else float(f.power_cap_mw)
    uncapped = ~np.isfinite(inventory) if power_cap is None else None
    hours = profile.period_hours.values.astype(float)
    solver = {"time_limit": float(f.solver.time_limit_s), "mip_rel_gap": float(f.solver.mip_rel_gap),
              "threads": f.solver.threads}
    utilization = float(f.target_utilization)
    max_ttft_of_row = options.max_ttft[rows.model]

    def blocks(o: Offers, flow_row: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # the demand row (block) of each offer, flow and covering row (demand, capacity and Hall rows)
        return o.cols.row, flow_row, np.concatenate([np.arange(len(rows)), flow_row, flow_row])

    def solve(dp: DayProblem, o: Offers, flow_row: np.ndarray) -> DaySolution:
        return solve_day_by_block(dp, *blocks(o, flow_row), **solver)

    def problem(p: TierPrices, rhs: np.ndarray, period_hours: np.ndarray) -> tuple[DayProblem, Offers, np.ndarray]:
        o = offers(candidates, p, hardware, uncapped, bool(f.prune))
        o = replace(o, coverage=CoverageMatrix.of(o.cols, utilization, max_ttft_of_row))
        cover = o.coverage.milp_rows(np.zeros(len(rows)))
        full = np.zeros((len(cover.demand), rhs.shape[1]))
        full[:len(rows)] = rhs
        power_mw = o.cols.systems * p.power_kw[o.hardware] / 1e3
        dp = DayProblem(cost=o.cols.cost_per_hour, periodic=o.tier != RESERVED, systems=o.cols.systems,
                        hardware=o.hardware, power_mw=np.nan_to_num(power_mw), coverage=cover.coverage, rhs=full,
                        flows=cover.flows, hours=period_hours, inventory=inventory, power_cap_mw=power_cap,
                        availability=np.where(o.tier == SPOT, p.availability[o.hardware], 1.0),
                        spot_spare=int(f.spot_spare))
        return dp, o, cover.flow_row

    start = time.perf_counter()
    dp, o, flow_row = problem(prices, need, hours)
    result = solve(dp, o, flow_row)
    seconds = time.perf_counter() - start
    if result.solution.status == SolveStatus.infeasible:
        if np.isfinite(dp.inventory).any():  # inventory caps couple the rows: one joint elastic solve
            elastic = solve_day(dp, elastic=True, **solver)
        else:  # the power cap alone: each period's least power, block by block
            elastic = least_power(dp, *blocks(o, flow_row), **solver)
        # a shortfall read off a plan the solver did not prove optimal may overstate what is needed
        unproven = (f"shortfalls from a solve stopped at its time limit ({solver['time_limit']:g} s): "
                    "they may overstate the need",) if elastic.solution.status == SolveStatus.time_limit else ()
        return DayPlan(SolveStatus.infeasible, pd.DataFrame(), None, {},
                       cap_shortfalls(elastic, dp, hardware, profile), profile, seconds, notes=unproven)
    if result.replicas is None:
        return DayPlan(result.solution.status, pd.DataFrame(), None, {}, pd.DataFrame(), profile, seconds,
                       notes=("the solver stopped (time limit) before finding any plan",))
    plan = with_cell_times(day_table(result, o, rows, mean, grid, profile), grid)
    periods = period_dataset(result, dp, o, rows, mean, need, profile, hardware)
    totals = day_totals(periods)
    if baselines:
        on_demand = prices.only([ON_DEMAND], fallback_reserved=True)
        peak = solve(*problem(on_demand, need.max(axis=1, keepdims=True), np.array([float(hours.sum())])))
        every = solve(*problem(on_demand, need, hours))
        totals.update(baseline_totals(totals["cost_per_day"], peak, every, float(hours.sum())))
    return DayPlan(result.solution.status, plan, periods, totals, pd.DataFrame(), profile, seconds)


def _per_day(cost_of_horizon: float, horizon_hours: float) -> float:
    return cost_of_horizon * HOURS_PER_DAY / horizon_hours


def baseline_totals(cost_per_day: float, peak: DaySolution, every: DaySolution, horizon_hours: float) -> dict:
    """$/day of the two baselines and the plan's saving against each (None where a baseline has no plan)."""
    out: dict[str, Any] = {}
    for name, s in (("peak_on_demand", peak), ("all_on_demand", every)):
        if s.solution.objective is None or s.replicas is None:
            out[f"{name}_cost_per_day"] = out[f"saving_vs_{name}"] = out[f"saving_vs_{name}_share"] = None
            continue
        base = _per_day(float(s.solution.objective), horizon_hours)
        out[f"{name}_cost_per_day"] = base
        out[f"saving_vs_{name}"] = base - cost_per_day
        out[f"saving_vs_{name}_share"] = (base - cost_per_day) / base if base > 0 else None
    return out


def day_table(result: DaySolution, o: Offers, rows: DemandRows, mean: np.ndarray, grid: xr.Dataset,
              profile: xr.Dataset) -> pd.DataFrame:
    """The plan table: :func:`optimize.plan.assign_solution` on each period's replicas (reserved
    plus that period's on-demand and spot), with the period and tier added."""
    tables = []
    for t in range(result.replicas.shape[1]):
        table = assign_solution(result.replicas[:, t], o.cols, o.coverage, _rows_of_period(rows, mean, t), grid).plan
        if len(table) == 0:
            continue
        split = table.hardware.str.split(TIER_SEPARATOR, n=1, expand=True)
        table = table.assign(hardware=split[0], tier=split[1], period=t,
                             period_start_h=float(profile.period_start_h.values[t]))
        tables.append(table)
    if not tables:
        return pd.DataFrame(columns=list(DAY_PLAN_COLUMNS))
    plan = pd.concat(tables, ignore_index=True)
    plan["tier"] = pd.Categorical(plan.tier, categories=TIERS, ordered=True)
    plan["phase"] = pd.Categorical(plan.phase, categories=PHASES, ordered=True)
    plan = plan.sort_values(["period", "model", "bucket_isl", "phase", "hardware", "tier", "concurrency"])
    plan["tier"], plan["phase"] = plan.tier.astype(str), plan.phase.astype(str)
    return plan[[c for c in DAY_PLAN_COLUMNS if c in plan.columns]].reset_index(drop=True)


def with_cell_times(plan: pd.DataFrame, grid: xr.Dataset) -> pd.DataFrame:
    """The plan with each row's cell prefill time and OSL (from the grid), for the replay."""
    if len(plan) == 0:
        return plan
    bucket = pd.Series(np.arange(grid.sizes["bucket"]), index=grid.bucket_isl.values)[plan.bucket_isl].to_numpy()
    at = {"model": xr.DataArray(plan.model.to_numpy(), dims="row"),
          "hardware": xr.DataArray(plan.hardware.to_numpy(), dims="row"),
          "bucket": xr.DataArray(bucket, dims="row"),
          "concurrency": xr.DataArray(plan.concurrency.to_numpy(), dims="row")}
    osl = grid.osl.broadcast_like(grid.systems)
    # a prefill row's replica is in a disaggregated prefill pool (docs/model.md §10)
    pool = (plan.phase == Phase.prefill.value).to_numpy()
    time = np.where(pool, grid.pool_prefill_time.sel(**at).values, grid.prefill_time.sel(**at).values)
    capacity = np.where(pool, grid.pool_prefill_capacity.sel(**at).values, grid.prefill_capacity.sel(**at).values)
    return plan.assign(prefill_time_s=time, prefill_busy_s=1.0 / capacity, osl=osl.sel(**at).values)


def period_dataset(result: DaySolution, dp: DayProblem, o: Offers, rows: DemandRows, mean: np.ndarray,
                   need: np.ndarray, profile: xr.Dataset, hardware: list[str]) -> xr.Dataset:
    """Per period: demand, capacity and cost by tier, systems by (tier, hardware), power, tokens
    per MW and $/Mtok (every variable with units and a long name)."""
    x = result.replicas  # (offers, periods)
    n_t, n_hw = x.shape[1], len(hardware)
    cost = np.zeros((len(TIERS), n_t))
    systems = np.zeros((len(TIERS), n_hw, n_t))
    capacity = np.zeros((len(TIERS), n_t))
    serving = o.cols.kind != 1  # prefill replicas carry no completed requests (optimize.constants.PHASE_CODE)
    np.add.at(cost, o.tier, o.cols.cost_per_hour[:, None] * x)
    np.add.at(systems, (o.tier, o.hardware), o.cols.systems[:, None] * x)
    np.add.at(capacity, o.tier[serving], (o.cols.requests_per_second[serving][:, None] * x[serving]))
    prefill = np.zeros((len(TIERS), n_t))
    np.add.at(prefill, o.tier[~serving], (o.cols.requests_per_second[~serving][:, None] * x[~serving]))
    power = (dp.power_mw[:, None] * x).sum(axis=0)
    tokens = (mean * rows.tokens_per_request[:, None]).sum(axis=0)
    total_cost = cost.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_mw = np.where(power > 0, tokens / power, np.nan)
        per_mtok = np.where(tokens > 0, total_cost / (tokens * 3600 / 1e6), np.nan)
    coords = {"period": ("period", np.arange(n_t), {"units": "", "long_name": "period index"}),
              "period_start_h": ("period", profile.period_start_h.values, {"units": "h", "long_name": "start"}),
              "period_hours": ("period", profile.period_hours.values, {"units": "h", "long_name": "length"}),
              "tier": ("tier", TIERS, {"units": "", "long_name": "capacity tier"}),
              "hardware": ("hardware", hardware, {"units": "", "long_name": "hardware name"})}
    return xr.Dataset({
        "demand_rps": ("period", mean.sum(axis=0), {"units": "1/s", "long_name": "mean requests/s of the period"}),
        "demand_burst_rps": ("period", need.sum(axis=0),
                             {"units": "1/s", "long_name": "requests/s the capacity covers: demand x burst"}),
        "capacity_rps": (("tier", "period"), capacity,
                         {"units": "1/s", "long_name": "requests/s of the serving replicas (aggregated, decode) "
                                                       "at full utilization (spot: expected)"}),
        "prefill_capacity_rps": (("tier", "period"), prefill,
                                 {"units": "1/s", "long_name": "requests/s of the prefill replicas (disaggregated) "
                                                               "at full utilization (spot: expected)"}),
        "cost_per_hour": (("tier", "period"), cost, {"units": "$/h", "long_name": "fleet cost per hour by tier"}),
        "systems": (("tier", "hardware", "period"), systems, {"units": "systems", "long_name": "systems bought"}),
        "power_mw": ("period", power, {"units": "MW", "long_name": "power at the wall (systems x power_kw x pue)"}),
        "tokens_per_second": ("period", tokens, {"units": "tok/s", "long_name": "tokens/s of the mean demand"}),
        "tokens_per_mw": ("period", per_mw, {"units": "tok/s/MW", "long_name": "tokens per second per MW"}),
        "cost_per_mtok": ("period", per_mtok, {"units": "$/Mtok", "long_name": "fleet $ per Mtok of demand"}),
    }, coords=coords)


def day_totals(periods: xr.Dataset) -> dict[str, Any]:
    """$/day, the reserved base and the peak of a :func:`period_dataset`."""
    hours = periods.period_hours.values
    by_period = periods.cost_per_hour.sum("tier").values
    horizon = float(hours.sum())
    reserved = periods.systems.sel(tier="reserved").isel(period=0)
    peak = int(np.argmax(by_period))
    return {
        "cost_per_day": _per_day(float(by_period @ hours), horizon),
        "horizon_hours": horizon,
        "reserved_cost_per_hour": float(periods.cost_per_hour.sel(tier="reserved").isel(period=0)),
        "reserved_systems": {str(h): int(v) for h, v in zip(reserved.hardware.values, reserved.values)},
        "peak_period": int(periods.period.values[peak]),
        "peak_cost_per_hour": float(by_period[peak]),
        "peak_systems": {str(h): int(v) for h, v in zip(periods.hardware.values,
                                                        periods.systems.sum("tier").isel(period=peak).values)},
        "peak_power_mw": float(periods.power_mw.max()),
        "cost_per_mtok": float(by_period @ hours / (float(periods.tokens_per_second.values @ hours) * 3600 / 1e6))
        if float(periods.tokens_per_second.values @ hours) > 0 else None,
    }


def cap_shortfalls(elastic: DaySolution, dp: DayProblem, hardware: list[str], profile: xr.Dataset) -> pd.DataFrame:
    """The binding caps of an infeasible day plan: per cap and period, how far it must move."""
    records = []
    if elastic.replicas is None:
        return pd.DataFrame([{"constraint": "unknown", "period": None, "cap": None, "shortfall": None, "units": "",
                              "detail": f"the elastic solve found no answer ({elastic.solution.status.value})"}])
    tol = 1e-6
    if elastic.power_excess is not None:
        for t, excess in enumerate(elastic.power_excess):
            if excess > tol * max(1.0, dp.power_cap_mw):
                records.append({"constraint": "power_cap", "period": t, "cap": dp.power_cap_mw,
                                "shortfall": float(excess), "units": "MW",
                                "detail": f"period {t} needs at least {dp.power_cap_mw + excess:,.3f} MW at the "
                                          f"wall (cap {dp.power_cap_mw:,.3f} MW)"})
    if elastic.inventory_excess is not None:
        for h, t in zip(*np.nonzero(elastic.inventory_excess > tol)):
            e = float(elastic.inventory_excess[h, t])
            records.append({"constraint": f"inventory.{hardware[h]}", "period": int(t), "cap": float(dp.inventory[h]),
                            "shortfall": e, "units": "systems",
                            "detail": f"period {t} needs {dp.inventory[h] + e:,.1f} systems, "
                                      f"{dp.inventory[h]:,.0f} available"})
    return pd.DataFrame(records, columns=["constraint", "period", "cap", "shortfall", "units", "detail"])
