"""The ``python -m optimize`` job: best concurrency, the fleet plan (with disaggregated serving and
the best aggregated-only plan beside it), their files and plot."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from omegaconf import DictConfig, OmegaConf

from model import __version__
from model.app import io
from model.app.config import with_values
from model.app.progress import progress_bar
from model.app.report import resident_hardware
from model.app.runner import EXIT_INFEASIBLE, JobResult
from model.app.tables import fit_lines, summary_width
from model.results import label_coords
from optimize import caching, validate
from optimize.concurrency import best_concurrency, sla_by_model, ttft_by_model
from optimize.constants import SolveStatus
from optimize.day_job import run_day
from optimize.fleet import plan_fleet
from optimize.inputs import bucket_grid, demand_by_model, isl_buckets
from optimize.plan import PHASES, FleetPlan, plan_csv, plan_units
from optimize.plots import frontier
from optimize.report import best_table, plan_text, prefill_modes_text, saving_text, summary_text
from optimize.schema import DemandProfile

OUTPUTS = ("best_concurrency.nc", "plan.csv", "plan.json", "frontier.png")


def headline(plan: FleetPlan, best: xr.Dataset, isl: int, aggregated_only: FleetPlan | None = None) -> xr.Dataset:
    """The job's headline for sweeps: the fleet's totals and status (with $/hour by phase and the
    aggregated-only plan's $/hour), the best concurrency at the workload's ISL per (model, hardware).

    Parameters
    ----------
    plan
        The fleet plan.
    best
        :func:`optimize.best_concurrency` of the same config.
    isl
        The workload's ISL (best concurrency is reported there if the grid has it).
    aggregated_only
        The best aggregated-only plan of the same config (default: ``plan``).
    """
    totals = plan.totals
    aggregated_only = plan if aggregated_only is None else aggregated_only
    by_phase = [totals.cost_per_hour_by_phase.get(p, np.nan) if totals.cost_per_hour is not None else np.nan
                for p in PHASES]
    other = aggregated_only.totals.cost_per_hour
    hardware = list(best.hardware.values)
    systems = [totals.systems.get(str(h), 0) if totals.systems else np.nan for h in hardware]
    ds = xr.Dataset({
        "fleet_cost_per_hour": ((), np.nan if totals.cost_per_hour is None else totals.cost_per_hour,
                                {"units": "$/h", "long_name": "fleet cost per hour"}),
        "fleet_cost_per_mtok": ((), np.nan if totals.cost_per_mtok is None else totals.cost_per_mtok,
                                {"units": "$/Mtok", "long_name": "fleet cost per Mtok of demand"}),
        "fleet_systems": ("hardware", np.asarray(systems, dtype=float),
                          {"units": "systems", "long_name": "systems in the plan"}),
        "plan_status": ((), plan.status.value, {"units": "", "long_name": "normalized solver status"}),
        "fleet_cost_per_hour_by_phase": ("phase", np.asarray(by_phase, dtype=float),
                                         {"units": "$/h", "long_name": "fleet cost per hour by phase"}),
        "aggregated_only_cost_per_hour": ((), np.nan if other is None else other,
                                          {"units": "$/h", "long_name": "cost per hour of the best aggregated-only "
                                                                        "fleet"}),
    }, coords={"hardware": ("hardware", hardware, {"units": "", "long_name": "hardware name"}),
               "phase": ("phase", PHASES, {"units": "", "long_name": "serving phase (aggregated, prefill, decode)"})})
    at = best.sel(isl=isl) if isl in best.isl.values else None
    if at is not None:
        ds["best_concurrency"] = at.concurrency.drop_vars("isl")
        ds["best_cost_per_mtok"] = at.cost_per_mtok.drop_vars("isl")
    ds.attrs = {"headline_metric": "fleet_cost_per_hour"}
    return ds


def workload_text(cfg: DictConfig) -> str:
    """The demand in one phrase: requests/s per model (or in all) and the ISL (or its buckets)."""
    demand = demand_by_model(cfg)
    distinct = sorted({float(v) for v in demand.values})
    rate = (f"{distinct[0]:g} requests/s per model" if len(distinct) == 1
            else f"{float(demand.sum()):g} requests/s over {demand.sizes['model']} models")
    isl, _ = isl_buckets(cfg)
    where = (f"ISL {int(isl[0]):,} tokens" if len(isl) == 1
             else f"{len(isl)} ISL buckets ({cfg.fleet.isl.kind.value}, {int(isl.min()):,}-{int(isl.max()):,} tokens)")
    return f"{rate} at {where}"


def run(cfg: DictConfig, out: Path) -> JobResult:
    """Run the job: write :data:`OUTPUTS` to ``out``, then print the summary (the answer), and the
    best-concurrency table and the plan's detail with ``output.detail=true`` (files first, so that a
    closed stdout, e.g. ``| head``, cannot lose them).

    Parameters
    ----------
    cfg
        Validated optimizer config.
    out
        The run directory (must not hold earlier outputs).

    Returns
    -------
    JobResult
        Exit code 0 with a plan, ``EXIT_INFEASIBLE`` without one; the :func:`headline`.
    """
    if DemandProfile(cfg.fleet.demand_profile) != DemandProfile.constant:
        return run_day(cfg, out)  # docs/model.md §11: a demand that moves (optimize.day_job)
    io.check_fresh(out, OUTPUTS)
    # each step takes a second or more on a 2-core machine (a cost grid, a MILP): one stage counts them
    steps = (2 * caching.trace_mode(cfg) + 2 + bool(cfg.fleet.disaggregation) + len(resident_hardware(cfg))
             + 1)  # the files
    with progress_bar("planning the fleet", unit="step") as progress:
        done = 0

        def advance() -> None:
            nonlocal done
            done += 1
            progress(done, steps)

        progress(0, steps)
        tried: list[int] = []
        if caching.trace_mode(cfg):
            # docs/model.md §12: plan -> replica count -> h -> plan, until the count repeats
            cfg, _, tried = caching.settle(cfg, plan_fleet, validate)
            advance()
        best = label_coords(best_concurrency(cfg))
        advance()
        isl = int(cfg.workload.isl)
        report = []
        if isl in best.isl.values:
            report.append(best_table(best, isl))
        grid = bucket_grid(cfg)
        plan = plan_fleet(cfg, grid=grid)
        advance()
        report.append(plan_text(plan))
        routing_record, cache_report = None, []
        if caching.trace_mode(cfg) and plan.plan is not None and not plan.plan.empty:
            cache_report.append(caching.hit_rate_text(cfg, plan.plan, tried))
            routing = caching.routing_of(cfg)
            other = "random" if routing == "prefix_aware" else "prefix_aware"
            other_plan = plan_fleet(caching.with_replicas(cfg, int(cfg.workload.replicas), validate, other))
            advance()
            cache_report.append(caching.routing_text(routing, plan.totals.cost_per_hour, other,
                                                     other_plan.totals.cost_per_hour))
            routing_record = {"routing": routing, "replicas": int(cfg.workload.replicas), "replicas_tried": tried,
                              "cost_per_hour": plan.totals.cost_per_hour,
                              "other_routing": other, "other_cost_per_hour": other_plan.totals.cost_per_hour}
        aggregated_only = plan
        if cfg.fleet.disaggregation:
            # docs/model.md §9: the saving against the best plan that keeps every request on one replica
            aggregated_only = plan_fleet(with_values(cfg, {"fleet.disaggregation": False}, validate), grid=grid)
            advance()
            report.append(saving_text(plan, aggregated_only))
        alternatives, alternative_plans = {}, {}
        for hardware in resident_hardware(cfg):
            # the wafer's prefill is an assumption (docs/model.md §8): show the answer under the other mode too
            mode = cfg.hardware[hardware].prefill_mode.value
            other = "physical" if mode == "ratio" else "ratio"
            alt_cfg = with_values(cfg, {f"hardware.{hardware}.prefill_mode": other}, validate)
            alt_best, alt_plan = best_concurrency(alt_cfg), plan_fleet(alt_cfg)
            advance()
            alternatives[f"{hardware}.prefill_mode={other}"] = alt_plan.summary()
            alternative_plans[f"{hardware} prefill_mode={other} instead of {mode} (docs/model.md §8)"] = alt_plan
            if isl in best.isl.values:
                report.append(prefill_modes_text(hardware, (mode, other), (best, alt_best), (plan, alt_plan), isl))

        best.attrs["config"] = OmegaConf.to_yaml(cfg, resolve=True)
        io.write_netcdf(best, out / "best_concurrency.nc")
        io.write_text(plan_csv(plan.plan), out / "plan.csv")
        record = dict(toolkit_version=__version__, **plan.summary(), plan=records(plan.plan),
                      aggregated_only=dict(aggregated_only.summary(), plan=records(aggregated_only.plan)),
                      saving_per_hour=saving(plan, aggregated_only), alternative_prefill_modes=alternatives)
        if routing_record is not None:
            record["prefix_cache"] = routing_record
        record["units"] = json_units(alternatives)
        record["config"] = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
        io.write_text(json.dumps(record, indent=2, default=str), out / "plan.json")
        if cfg.plots.enabled:
            io.save_figure(frontier(grid, plan, sla_by_model(cfg), aggregated_only=aggregated_only, cfg=cfg),
                           out / "frontier.png")
        progress(steps, steps)
    print(summary_text(plan, aggregated_only if cfg.fleet.disaggregation else None, sla_by_model(cfg),
                       ttft_by_model(cfg), workload_text(cfg), alternative_plans))
    if cache_report:  # docs/model.md §12: the cached share the plan was made with, and what routing is worth
        print("\n" + fit_lines("\n\n".join(cache_report), summary_width()))
    if cfg.output.detail:
        print("\n" + fit_lines("\n\n".join(report)))
    else:
        print("\nDetail: output.detail=true prints every (model, hardware) and the plan's rows")
    print(f"\nwrote {out}/: {', '.join(n for n in OUTPUTS if (out / n).exists())}")
    ok = plan.status in (SolveStatus.optimal, SolveStatus.time_limit)
    return JobResult(0 if ok else EXIT_INFEASIBLE, headline(plan, best, isl, aggregated_only),
                     "ok" if ok else "infeasible")


def summary_units() -> dict[str, Any]:
    """Units of the numeric fields of :meth:`FleetPlan.summary` plus its ``plan`` records,
    shaped like them (per-hardware and per-phase maps share their parent's unit)."""
    return {
        "totals": {"cost_per_hour": "$/h", "systems": "systems", "tokens_per_second": "tok/s",
                   "cost_per_mtok": "$/Mtok", "cost_per_hour_by_phase": "$/h", "systems_by_phase": "systems",
                   "target_utilization": "1"},
        "mip_gap": "1", "build_seconds": "s", "solve_seconds": "s", "columns": "columns",
        "pruned_columns": "columns", "columns_by_phase": "columns",
        "shortfalls": {"bucket_isl": "tokens", "demand_rps": "1/s", "shortfall_rps": "1/s"},
        "plan": {name: units for name, units in plan_units().items() if units},
    }


def json_units(alternatives: dict[str, Any]) -> dict[str, Any]:
    """Units of every numeric field of ``plan.json``, shaped like it."""
    top = summary_units()
    alt = {k: v for k, v in top.items() if k != "plan"}
    return dict(top, aggregated_only=summary_units(), saving_per_hour="$/h",
                alternative_prefill_modes={name: alt for name in alternatives})


def records(table: pd.DataFrame) -> list[dict]:
    """A plan table as JSON records, NaN as null."""
    return table.astype(object).where(table.notna(), None).to_dict(orient="records")


def saving(plan: FleetPlan, aggregated_only: FleetPlan) -> float | None:
    """$/hour the plan saves against the aggregated-only plan (``None`` unless both exist)."""
    if plan.totals.cost_per_hour is None or aggregated_only.totals.cost_per_hour is None:
        return None
    return aggregated_only.totals.cost_per_hour - plan.totals.cost_per_hour
