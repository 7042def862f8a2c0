"""Benchmark of the fleet plan: 5 models x 8 ISL buckets x 6 hardware types x 1,024 concurrency
levels (245,760 cells), with all three column kinds (aggregated, prefill, decode; docs/model.md §9), built
in Pyomo and solved by HiGHS, with and without pruning.

    python benchmarks/bench_optimize.py

The SLA is set to 0 so that every buildable cell is a candidate column (the largest problem);
ISL buckets are lognormal (median 32k, sigma 0.8) so that every bucket fits every model's context.
Every hardware type on offer also prefills (``fleet.prefill_hardware`` null) and has a KV link.
Times are medians of --repeats runs after one warm-up run; the unpruned plan, which takes tens of
seconds, runs --off-repeats times without a warm-up.  Two more pruned rows: aggregated columns
only (``fleet.disaggregation=false``), and a TTFT limit of 1 s, which splits the disaggregated
columns into TTFT tiers.
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np

import optimize
from optimize.columns import candidate_columns
from optimize.constants import Phase
from optimize.fleet import plan_fleet
from optimize.inputs import bucket_grid, column_options, demand_by_model, demand_rows, inventory_by_hardware
from optimize.plan import FleetPlan
from optimize.pruning import prune_dominated

OVERRIDES = ["select.hardware=[cerebras_wse3,h100_sxm,h200,b200,mi300x,mi355x]", "sla.min_interactivity=0",
             "fleet.isl.kind=lognormal", "fleet.isl.median=32000", "fleet.isl.sigma=0.8", "fleet.isl.buckets=8"]
T = TypeVar("T")


def median_time(func: Callable[[], T], repeats: int, warm_up: bool = True) -> tuple[float, T]:
    """Median wall time of ``repeats`` calls (after one warm-up call), and the last call's result."""
    if warm_up:
        func()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def plan_row(label: str, cfg, grid, prune: bool, repeats: int, warm_up: bool = True) -> None:
    """Time ``plan_fleet`` and print one row of the table."""
    runs: list[tuple[float, FleetPlan]] = []

    def once() -> FleetPlan:
        start = time.perf_counter()
        plan = plan_fleet(cfg, prune=prune, grid=grid)
        runs.append((time.perf_counter() - start, plan))
        return plan

    median_time(once, repeats, warm_up)
    runs = runs[1:] if warm_up else runs
    plan = runs[-1][1]
    total = statistics.median(t for t, _ in runs)
    build = statistics.median(p.build_seconds for _, p in runs)
    solve = statistics.median(p.solve_seconds for _, p in runs)
    kept = [plan.columns_by_phase[p.value][1] for p in Phase]
    print(f"{label:<26}{sum(kept):>9,}{kept[0]:>8,}{kept[1]:>8,}{kept[2]:>8,}{build:>9.3f}{solve:>9.3f}{total:>9.3f}"
          f"{plan.totals.cost_per_hour:>10,.2f}  {plan.status.value}")


def main() -> None:
    """Time the grid, column extraction, pruning and ``plan_fleet`` with and without pruning."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--off-repeats", type=int, default=1, help="runs of the unpruned plan (no warm-up)")
    args = parser.parse_args()
    cfg = optimize.load_config(OVERRIDES)

    grid_s, grid = median_time(lambda: bucket_grid(cfg), args.repeats)
    cells = grid.sizes["model"] * grid.sizes["hardware"] * grid.sizes["bucket"] * grid.sizes["concurrency"]
    rows = demand_rows(grid, demand_by_model(cfg))
    options = column_options(cfg, grid)
    uncapped = ~np.isfinite(inventory_by_hardware(cfg, [str(h) for h in grid.hardware.values]))
    extract_s, cols = median_time(lambda: candidate_columns(grid, rows, options), args.repeats)
    prune_s, kept = median_time(lambda: prune_dominated(cols, uncapped), args.repeats)
    by_kind = ", ".join(f"{p.value} {int(cols.phase(p).sum()):,} -> {int(kept.phase(p).sum()):,}" for p in Phase)
    print(f"grid: {dict(grid.sizes)} = {cells:,} cells, evaluated in {grid_s:.3f} s")
    print(f"candidate columns: {len(cols):,} (extracted in {extract_s:.3f} s); after pruning {len(kept):,} "
          f"(pruned in {prune_s:.3f} s): {by_kind}")
    print(f"{'plan':<26}{'columns':>9}{'aggr':>8}{'prefill':>8}{'decode':>8}{'build s':>9}{'solve s':>9}"
          f"{'total s':>9}{'$/hour':>10}  status")
    plan_row("pruning on", cfg, grid, True, args.repeats)
    ttft_cfg = optimize.load_config([*OVERRIDES, "sla.max_ttft_s=1.0"])
    plan_row("pruning on, TTFT <= 1 s", ttft_cfg, bucket_grid(ttft_cfg), True, args.repeats)
    plan_row("pruning on, aggregated only", optimize.load_config([*OVERRIDES, "fleet.disaggregation=false"]), grid,
             True, args.repeats)
    plan_row("pruning off", cfg, grid, False, args.off_repeats, warm_up=False)
    print("total = plan_fleet on the evaluated grid: column extraction, pruning, Pyomo build, HiGHS solve, "
          "plan table")


if __name__ == "__main__":
    main()
