"""The ``python -m optimize`` job for a demand that moves (``fleet.demand_profile`` diurnal or
trace, docs/model.md §11): the day plan, its files, its figure and its report."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from omegaconf import DictConfig, OmegaConf

from model import __version__
from model.app import io
from model.app.progress import progress_bar
from model.app.runner import EXIT_INFEASIBLE, JobResult
from model.app.traces import read_trace
from optimize.concurrency import sla_by_model, ttft_by_model
from optimize.day import DAY_PLAN_COLUMNS, DayPlan, plan_day
from optimize.day_report import day_text, demand_vs_capacity
from optimize.demand import trace_buckets
from optimize.replay import compare, fleet_of_plan, requests_of_trace, simulate, summarize
from optimize.schema import DemandProfile, TraceShape

DAY_OUTPUTS = ("plan.csv", "plan.json", "periods.nc", "demand_vs_capacity.png", "replay.csv")
REPLAY_UNITS = {"requests": "requests", "served": "requests", "sla_attainment": "1", "engine_utilization": "1",
                "plan_utilization": "1", "prefill_wait_mean_s": "s", "md1_wait_s": "s", "ttft_mean_s": "s",
                "plan_ttft_s": "s", **{f"{k}_p{q}_s": "s" for k in ("ttft", "tpot") for q in (50, 90, 99)}}


def replay_day(cfg: DictConfig, day: DayPlan, trace) -> pd.DataFrame:
    """Replay the trace through the day plan (:mod:`optimize.replay`): per period the requests,
    the share meeting the SLA, TTFT and TPOT percentiles, and the plan's queueing numbers beside
    the measured ones."""
    f = cfg.fleet
    _, trace_isl = trace_buckets(trace.input_tokens, int(f.isl.buckets))
    bucket_of_request, _ = trace_buckets(trace.input_tokens, int(f.isl.buckets))
    fleet, groups = fleet_of_plan(day.plan, {h: float(cfg.hardware[h].get("spot_availability") or 1.0)
                                             for h in cfg.hardware})
    trace_mean = len(trace) / max(trace.duration_s, 1.0)
    mean = day.profile.demand.sum("bucket") * day.profile.period_hours
    mean = (mean.sum("period") / day.profile.period_hours.sum()).to_series()
    scale = {m: float(mean[m]) / trace_mean for m in groups.model.unique()}
    outputs = {m: int(round(float(day.plan[day.plan.model == m].osl.iloc[0]))) for m in groups.model.unique()}
    period_s = day.profile.period_hours.values * 3600.0
    requests = requests_of_trace(trace.arrival_s, bucket_of_request, trace_isl, scale, groups, outputs,
                                 float(f.period_s), len(period_s), seed=int(f.replay_seed))
    result = simulate(fleet, requests, seed=int(f.replay_seed))
    sla, ttft = sla_by_model(cfg), ttft_by_model(cfg)
    per_group_sla = np.array([float(sla.sel(model=m)) for m in groups.model])
    per_group_ttft = np.array([float(ttft.sel(model=m)) for m in groups.model])
    table = summarize(result, per_group_sla, per_group_ttft)
    return table.merge(compare(result, fleet, day.plan, period_s), on="period")


def replay_text(table: pd.DataFrame) -> str:
    """The replay per period: attainment, TTFT and TPOT percentiles, and the plan's formulas against it."""
    lines = ["Replay (SimPy; replay.csv): what users see, and the plan's queueing against it",
             f"{'period':>6}{'requests':>9}{'SLA met':>8}{'TTFT p50/p99 s':>16}{'TPOT p50/p99 ms':>17}"
             f"{'util plan/rep':>14}{'wait rep/MD1 s':>16}{'TTFT plan/rep':>14}"]
    for r in table.itertuples():
        lines.append(f"{r.period:>6}{r.requests:>9,}{r.sla_attainment:>8.1%}{r.ttft_p50_s:>8.3f}/{r.ttft_p99_s:<7.3f}"
                     f"{1e3 * r.tpot_p50_s:>9.2f}/{1e3 * r.tpot_p99_s:<7.2f}"
                     f"{r.plan_utilization:>7.2f}/{r.engine_utilization:<6.2f}"
                     f"{r.prefill_wait_mean_s:>8.3f}/{r.md1_wait_s:<7.3f}{r.plan_ttft_s:>7.3f}/{r.ttft_mean_s:<6.3f}")
    return "\n".join(lines)


def day_plan_csv(table: pd.DataFrame) -> str:
    """The day plan as CSV text: every numeric column's units in its header."""
    header = [f"{c} [{DAY_PLAN_COLUMNS[c][0]}]" if DAY_PLAN_COLUMNS.get(c, ("",))[0] else c for c in table.columns]
    return table.to_csv(index=False, header=header, float_format="%.10g")


def describe(cfg: DictConfig) -> str:
    """What the periods are, for the report's first line."""
    kind = DemandProfile(cfg.fleet.demand_profile)
    if kind != DemandProfile.trace:
        return kind.value
    shape = TraceShape(cfg.fleet.trace_shape).value
    return f"trace {Path(cfg.fleet.trace).name}, {shape}, rate {cfg.fleet.trace_rate.value}"


def headline(day: DayPlan) -> xr.Dataset:
    """The day plan's headline for sweeps: $/day, reserved base, peak, savings and status."""
    t = day.totals

    def value(key: str) -> float:
        v = t.get(key)
        return np.nan if v is None else float(v)

    variables = {
        "cost_per_day": ("$/d", "fleet cost per day"),
        "reserved_cost_per_hour": ("$/h", "cost per hour of the reserved base"),
        "peak_cost_per_hour": ("$/h", "cost per hour of the dearest period"),
        "peak_power_mw": ("MW", "largest power at the wall of any period"),
        "saving_vs_peak_on_demand": ("$/d", "saving against every period sized for the peak at on-demand prices"),
        "saving_vs_all_on_demand": ("$/d", "saving against all on-demand capacity"),
    }
    ds = xr.Dataset({k: ((), value(k), {"units": u, "long_name": n}) for k, (u, n) in variables.items()})
    ds["plan_status"] = ((), day.status.value, {"units": "", "long_name": "normalized solver status"})
    ds.attrs = {"headline_metric": "cost_per_day"}
    return ds


def run_day(cfg: DictConfig, out: Path) -> JobResult:
    """Plan the day, write :data:`DAY_OUTPUTS` (the figure only with a plan and plots on), then
    print the report (the answer first).

    Parameters
    ----------
    cfg
        Validated optimizer config with a diurnal or trace demand profile.
    out
        The run directory (must not hold earlier outputs).
    """
    io.check_fresh(out, DAY_OUTPUTS)
    trace = None
    if DemandProfile(cfg.fleet.demand_profile) == DemandProfile.trace:
        trace = read_trace(cfg.fleet.trace, "fleet.trace")
    # the periods' MILP, then the files, the figure and the replay: seconds each on a 2-core machine
    steps = 3 + bool(cfg.fleet.replay)
    with progress_bar("planning the day", unit="step") as progress:
        progress(0, steps)
        day = plan_day(cfg, trace)
        progress(1, steps)
        periods = day.profile if day.periods is None else xr.merge([day.profile, day.periods.drop_vars(
            ["period_start_h", "period_hours"])], combine_attrs="drop_conflicts")
        periods.attrs["config"] = OmegaConf.to_yaml(cfg, resolve=True)
        io.write_netcdf(periods, out / "periods.nc")
        io.write_text(day_plan_csv(day.plan), out / "plan.csv")
        record = {"toolkit_version": __version__, "status": day.status.value, "totals": day.totals,
                  "solve_seconds": day.build_solve_seconds,
                  "shortfalls": day.shortfalls.astype(object).where(day.shortfalls.notna(), None).to_dict("records"),
                  "notes": list(day.notes),
                  "units": {"totals": {"cost_per_day": "$/d", "horizon_hours": "h", "reserved_cost_per_hour": "$/h",
                                       "reserved_systems": "systems", "peak_cost_per_hour": "$/h",
                                       "peak_systems": "systems", "peak_power_mw": "MW", "cost_per_mtok": "$/Mtok",
                                       "peak_on_demand_cost_per_day": "$/d", "all_on_demand_cost_per_day": "$/d",
                                       "saving_vs_peak_on_demand": "$/d", "saving_vs_all_on_demand": "$/d",
                                       "saving_vs_peak_on_demand_share": "1", "saving_vs_all_on_demand_share": "1"},
                            "plan": {k: u for k, (u, _) in DAY_PLAN_COLUMNS.items() if u}, "solve_seconds": "s",
                            "shortfalls": {"cap": "the row's units", "shortfall": "the row's units", "period": "",
                                           "bucket_isl": "tokens", "demand_rps": "1/s", "shortfall_rps": "1/s"}},
                  "config": OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)}
        io.write_text(json.dumps(record, indent=2, default=str), out / "plan.json")
        progress(2, steps)
        if cfg.plots.enabled and day.solved:
            io.save_figure(demand_vs_capacity(day, float(cfg.fleet.target_utilization)), out / "demand_vs_capacity.png")
            progress(3, steps)
        report = [day_text(day, describe(cfg))]
        if cfg.fleet.replay and day.solved:
            table = replay_day(cfg, day, trace)
            header = [f"{c} [{REPLAY_UNITS[c]}]" if c in REPLAY_UNITS else c for c in table.columns]
            io.write_text(table.to_csv(index=False, header=header, float_format="%.6g"), out / "replay.csv")
            report.append(replay_text(table))
        progress(steps, steps)
    print("\n\n".join(report))
    print(f"\nwrote {', '.join(str(out / n) for n in DAY_OUTPUTS if (out / n).exists())}")
    return JobResult(0 if day.solved else EXIT_INFEASIBLE, headline(day), "ok" if day.solved else "infeasible")
