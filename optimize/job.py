"""The ``python -m optimize`` job: best concurrency, the fleet plan, their files and plot."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr
from omegaconf import DictConfig, OmegaConf

from model.app import io
from model.app.report import resident_hardware
from model.app.runner import EXIT_INFEASIBLE, JobResult
from model.config import with_values
from optimize import validate
from optimize.concurrency import best_concurrency, sla_by_model
from optimize.constants import SolveStatus
from optimize.fleet import plan_fleet
from optimize.inputs import bucket_grid
from optimize.plan import FleetPlan
from optimize.plots import frontier
from optimize.report import best_table, plan_text, prefill_modes_text

OUTPUTS = ("best_concurrency.nc", "plan.csv", "plan.json", "frontier.png")


def headline(plan: FleetPlan, best: xr.Dataset, isl: int) -> xr.Dataset:
    """The job's headline for sweeps: the fleet's totals and status, the best concurrency at the
    workload's ISL per (model, hardware).

    Parameters
    ----------
    plan
        The fleet plan.
    best
        :func:`optimize.best_concurrency` of the same config.
    isl
        The workload's ISL (best concurrency is reported there if the grid has it).
    """
    totals = plan.totals
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
    }, coords={"hardware": hardware})
    at = best.sel(isl=isl) if isl in best.isl.values else None
    if at is not None:
        ds["best_concurrency"] = at.concurrency.drop_vars("isl")
        ds["best_cost_per_mtok"] = at.cost_per_mtok.drop_vars("isl")
    ds.attrs = {"headline_metric": "fleet_cost_per_hour"}
    return ds


def run(cfg: DictConfig, out: Path) -> JobResult:
    """Run the job: print the best-concurrency table and the plan, write :data:`OUTPUTS` to ``out``.

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
    io.check_fresh(out, OUTPUTS)
    best = best_concurrency(cfg)
    isl = int(cfg.workload.isl)
    if isl in best.isl.values:
        print(best_table(best, isl))
    grid = bucket_grid(cfg)
    plan = plan_fleet(cfg, grid=grid)
    print()
    print(plan_text(plan))
    alternatives = {}
    for hardware in resident_hardware(cfg):
        # the wafer's prefill is an assumption (SPEC §8): show the answer under the other mode too
        mode = cfg.hardware[hardware].prefill_mode.value
        other = "physical" if mode == "ratio" else "ratio"
        alt_cfg = with_values(cfg, {f"hardware.{hardware}.prefill_mode": other}, validate)
        alt_best, alt_plan = best_concurrency(alt_cfg), plan_fleet(alt_cfg)
        alternatives[f"{hardware}.prefill_mode={other}"] = alt_plan.summary()
        if isl in best.isl.values:
            print()
            print(prefill_modes_text(hardware, (mode, other), (best, alt_best), (plan, alt_plan), isl))

    best.attrs["config"] = OmegaConf.to_yaml(cfg, resolve=True)
    io.write_netcdf(best, out / "best_concurrency.nc")
    io.write_text(plan.plan.to_csv(index=False), out / "plan.csv")
    io.write_text(json.dumps(dict(plan.summary(), alternative_prefill_modes=alternatives), indent=2, default=str),
                  out / "plan.json")
    if cfg.plots.enabled:
        io.save_figure(frontier(grid, plan, sla_by_model(cfg)), out / "frontier.png")
    print(f"\nwrote {', '.join(str(out / n) for n in OUTPUTS if (out / n).exists())}")
    ok = plan.status in (SolveStatus.optimal, SolveStatus.time_limit)
    return JobResult(0 if ok else EXIT_INFEASIBLE, headline(plan, best, isl), "ok" if ok else "infeasible")
