"""The ``python -m optimize`` job for a demand that moves (``fleet.demand_profile`` diurnal or
trace, SPEC §11): the day plan, its files, its figure and its report."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from omegaconf import DictConfig, OmegaConf

from model import __version__
from model.app import io
from model.app.runner import EXIT_INFEASIBLE, JobResult
from model.app.traces import read_trace
from optimize.day import DAY_PLAN_COLUMNS, DayPlan, plan_day
from optimize.day_report import day_text, demand_vs_capacity
from optimize.schema import DemandProfile, TraceShape

DAY_OUTPUTS = ("plan.csv", "plan.json", "periods.nc", "demand_vs_capacity.png")


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
    day = plan_day(cfg, trace)
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
                        "plan": {k: u for k, (u, _) in DAY_PLAN_COLUMNS.items() if u}, "solve_seconds": "s"},
              "config": OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)}
    io.write_text(json.dumps(record, indent=2, default=str), out / "plan.json")
    if cfg.plots.enabled and day.solved:
        io.save_figure(demand_vs_capacity(day, float(cfg.fleet.target_utilization)), out / "demand_vs_capacity.png")
    print(day_text(day, describe(cfg)))
    print(f"\nwrote {', '.join(str(out / n) for n in DAY_OUTPUTS if (out / n).exists())}")
    return JobResult(0 if day.solved else EXIT_INFEASIBLE, headline(day), "ok" if day.solved else "infeasible")
