"""Benchmark of fleets over a day (docs/model.md §11).

    python benchmarks/bench_day.py [--repeats 3]

1. The main job with ``fleet.demand_profile=diurnal`` on defaults (5 models, the wafer and the
   B200 on offer, 24 hourly periods, reserved and on-demand tiers, the two baselines): the whole
   command (``python -m optimize``, interpreter start and file writing included) and
   :func:`optimize.day.plan_day` alone, in process.  Target: under 10 s.
2. The replay of one hour of the Azure 2023 coding trace (8,819 requests) through its plan
   (``fleet.demand_profile=trace fleet.trace_rate=trace fleet.period_s=900``, defaults otherwise:
   the trace's own rate for each of the 5 models, 44,095 requests in all), and the same for one
   model.  Target: under 60 s.

Times are medians of --repeats runs after one warm-up run (the command: no warm-up), wall and
CPU (on a shared machine the CPU time is the figure that does not depend on the load).
"""
from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optimize
from model.app.traces import read_trace
from optimize.day import plan_day
from optimize.day_job import replay_day

ROOT = Path(__file__).resolve().parents[1]
TRACE = "/work/shared/reference/traces/azure-llm-2023-code.csv"


def median_time(func, repeats: int) -> tuple[float, float, object]:
    """Median wall and CPU seconds of ``repeats`` calls after a warm-up, and the last result."""
    result = func()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = func()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trace", default=TRACE)
    args = parser.parse_args()

    wall, cpu = [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as out:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "optimize", "fleet.demand_profile=diurnal",
                            f"hydra.run.dir={out}"], cwd=ROOT, check=True, capture_output=True)
            wall.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    print(f"python -m optimize fleet.demand_profile=diurnal (24 periods, defaults): "
          f"{statistics.median(wall):.2f} s wall, {statistics.median(cpu):.2f} s CPU, median of {args.repeats}")
    cfg = optimize.load_config(["fleet.demand_profile=diurnal"])
    seconds, cpu_s, day = median_time(lambda: plan_day(cfg), args.repeats)
    print(f"  plan_day alone: {seconds:.2f} s wall, {cpu_s:.2f} s CPU ({day.periods.sizes['period']} periods, "
          f"${day.totals['cost_per_day']:,.0f}/day)")

    trace = read_trace(args.trace, "fleet.trace")
    for models in (None, ["gpt_oss_120b"]):
        overrides = ["fleet.demand_profile=trace", f"fleet.trace={args.trace}", "fleet.trace_rate=trace",
                     "fleet.period_s=900"] + ([f"select.models=[{','.join(models)}]"] if models else [])
        cfg = optimize.load_config(overrides)
        day = plan_day(cfg, trace)
        seconds, cpu_s, table = median_time(lambda cfg=cfg, day=day: replay_day(cfg, day, trace), args.repeats)
        label = "5 default models" if models is None else models[0]
        met = float((table.sla_attainment * table.requests).sum() / table.requests.sum())
        print(f"replay of one hour of the coding trace, {label}: {seconds:.2f} s wall, {cpu_s:.2f} s CPU, "
              f"median of {args.repeats} "
              f"({int(table.requests.sum()):,} requests, SLA met {met:.1%})")


if __name__ == "__main__":
    main()
