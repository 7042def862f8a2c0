"""The ``python -m optimize`` job: best concurrency, the fleet plan, their files and plot."""
from __future__ import annotations

import json
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from model import io
from model.cli import EXIT_INFEASIBLE
from optimize.best import best_concurrency, sla_by_model
from optimize.fleet import bucket_grid, plan_fleet
from optimize.milp import SolveStatus
from optimize.plots import frontier
from optimize.report import best_table, plan_text

OUTPUTS = ("best_concurrency.nc", "plan.csv", "plan.json", "frontier.png")


def run(cfg: DictConfig, out: Path) -> int:
    io.check_fresh(out, OUTPUTS)
    best = best_concurrency(cfg)
    isl = int(cfg.workload.isl)
    if isl in best.isl.values:
        print(best_table(best, isl))
    grid = bucket_grid(cfg)
    plan = plan_fleet(cfg, grid=grid)
    print()
    print(plan_text(plan))

    best.attrs["config"] = OmegaConf.to_yaml(cfg, resolve=True)
    io.write_netcdf(best, out / "best_concurrency.nc")
    io.write_text(plan.plan.to_csv(index=False), out / "plan.csv")
    io.write_text(json.dumps(plan.summary(), indent=2, default=str), out / "plan.json")
    if cfg.plots.enabled:
        io.save_figure(frontier(grid, plan, sla_by_model(cfg)), out / "frontier.png")
    print(f"\nwrote {', '.join(str(out / n) for n in OUTPUTS if (out / n).exists())}")
    return 0 if plan.status in (SolveStatus.optimal, SolveStatus.time_limit) else EXIT_INFEASIBLE
