"""Benchmark of the fleet plan: 5 models x 8 ISL buckets x 6 hardware types x 1,024 concurrency
levels (245,760 cells), built in Pyomo and solved by HiGHS, with and without pruning.

    python benchmarks/bench_optimize.py

The SLA is set to 0 so that every buildable cell is a candidate column (the largest problem);
ISL buckets are lognormal (median 32k, sigma 0.8) so that every bucket fits every model's context.
Times are medians of --repeats runs after one warm-up run.
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import TypeVar

import optimize
from optimize.columns import candidate_columns, prune_dominated
from optimize.fleet import plan_fleet
from optimize.inputs import bucket_grid, demand_by_model, demand_rows

OVERRIDES = ["select.hardware=[cerebras_wse3,h100_sxm,h200,b200,mi300x,mi355x]", "sla.min_interactivity=0",
             "fleet.isl.kind=lognormal", "fleet.isl.median=32000", "fleet.isl.sigma=0.8", "fleet.isl.buckets=8"]
T = TypeVar("T")


def median_time(func: Callable[[], T], repeats: int) -> tuple[float, T]:
    """Median wall time of ``repeats`` calls after one warm-up call, and the last call's result."""
    func()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    """Time the grid, column extraction, pruning and ``plan_fleet`` with and without pruning."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    cfg = optimize.load_config(OVERRIDES)

    grid_s, grid = median_time(lambda: bucket_grid(cfg), args.repeats)
    cells = grid.sizes["model"] * grid.sizes["hardware"] * grid.sizes["bucket"] * grid.sizes["concurrency"]
    rows = demand_rows(grid, demand_by_model(cfg))
    extract_s, cols = median_time(lambda: candidate_columns(grid, rows), args.repeats)
    prune_s, kept = median_time(lambda: prune_dominated(cols), args.repeats)
    print(f"grid: {dict(grid.sizes)} = {cells:,} cells, evaluated in {grid_s:.3f} s")
    print(f"candidate columns: {len(cols):,} (extracted in {extract_s:.3f} s); after pruning {len(kept):,} "
          f"(pruned in {prune_s:.3f} s)")
    print(f"{'pruning':<10}{'columns':>10}{'build s':>10}{'solve s':>10}{'total s':>10}{'$/hour':>14}  status")
    for prune in (True, False):
        repeats = args.repeats if prune else max(1, args.repeats // 2)
        runs = []
        for _ in range(repeats + 1):
            start = time.perf_counter()
            plan = plan_fleet(cfg, prune=prune, grid=grid)
            runs.append((time.perf_counter() - start, plan))
        runs = runs[1:]
        total = statistics.median(t for t, _ in runs)
        plan = runs[0][1]
        build = statistics.median(p.build_seconds for _, p in runs)
        solve = statistics.median(p.solve_seconds for _, p in runs)
        print(f"{'on' if prune else 'off':<10}{plan.columns - plan.pruned_columns:>10,}{build:>10.3f}{solve:>10.3f}"
              f"{total:>10.3f}{plan.totals.cost_per_hour:>14,.2f}  {plan.status.value}")
    print("total = plan_fleet on the evaluated grid: column extraction, pruning, Pyomo build, HiGHS solve, plan table")


if __name__ == "__main__":
    main()
