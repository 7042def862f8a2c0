"""Benchmark of the uncertainty analysis: 10,000 scenarios x 5 models x 2 hardware (cerebras_wse3,
b200) x 1,024 concurrency levels at the workload's ISL, bands and win probabilities included.

    python benchmarks/bench_uncertainty.py [--n 10000] [--isl 96300 ...]

Times :func:`sensitivity.uncertainty.analyze` end to end (drawing the scenarios, one vectorized
pass of the cost model over all of them through the blocked reduction over concurrency, the
point estimate, quantiles, win probabilities), then each step alone, and reports the peak
resident memory: the 102 M-cell grid is never materialized (at ~120 bytes per cell for every
variable it would take 12 GB).
"""
from __future__ import annotations

import argparse
import resource
import time

import sensitivity.uncertainty as U
from sensitivity.uncertainty.bands import add_derived, bands, evaluate_scenarios, scenario_chunk
from sensitivity.uncertainty.scenarios import draw, scenario_params
from sensitivity.uncertainty.win import win_probability


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000, help="scenarios (any count; the app takes powers of two)")
    parser.add_argument("--isl", type=int, nargs="*", default=[], help="ISLs besides the workload's")
    args = parser.parse_args()
    cfg = U.load_config([f"uncertainty.isl=[{','.join(map(str, args.isl))}]"])
    models, hardware = len(cfg.select.models), len(cfg.select.hardware)
    levels = int(cfg.grid.concurrency_max)
    isl = U.isl_values(cfg)
    cells = args.n * models * hardware * levels * len(isl)

    U.analyze(cfg, n=64)  # warm-up: imports, caches
    start = time.perf_counter()
    ds = U.analyze(cfg, n=args.n)
    total = time.perf_counter() - start
    assert ds.attrs["scenarios"] == args.n

    start = time.perf_counter()
    params = scenario_params(cfg, draw(cfg, args.n), cfg.select.hardware)
    drawn = time.perf_counter() - start
    start = time.perf_counter()
    samples = evaluate_scenarios(cfg, params, isl)
    evaluated = time.perf_counter() - start
    start = time.perf_counter()
    bands(add_derived(cfg, samples, params), cfg.uncertainty.quantiles)
    win_probability(samples.optimal_cost_per_mtok)
    reduced = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # kB on Linux -> GB

    print(f"{args.n:,} scenarios x {models} models x {hardware} hardware x {levels:,} concurrency levels x "
          f"{len(isl)} ISL = {cells / 1e6:,.1f} M cells ({scenario_chunk(cfg, args.n):,} scenarios per chunk)")
    print(f"sensitivity.uncertainty.analyze end to end: {total:.2f} s (target < 10 s)")
    print(f"  drawing the scenarios (scrambled Sobol, inverse CDFs, model error): {drawn:.2f} s")
    print(f"  evaluating them (cost at the workload point + blocked SLA optimum): {evaluated:.2f} s "
          f"({cells / evaluated / 1e6:.1f} M cells/s)")
    print(f"  bands, price to beat and win probabilities: {reduced:.2f} s")
    print(f"peak resident memory: {peak:.2f} GB (all variables of every cell would take {cells * 120 / 1e9:.1f} GB)")


if __name__ == "__main__":
    main()
