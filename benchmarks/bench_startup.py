"""Benchmark of the apps' start-up: ``import model``, ``--help``, ``--version`` and a refused value.

    python benchmarks/bench_startup.py               # serving-optimize, 5 runs each
    python benchmarks/bench_startup.py --app model --repeats 9

Each command runs in a fresh interpreter (``python -m <app> ...``, what the console scripts run),
wall time from start to exit and the child's CPU time (user + system: what a machine busy with
other work does not inflate); medians of ``--repeats`` runs after one warm-up run (the warm-up
fills the OS file cache).  The targets: ``--help`` and a refused value under 1.5 s (issue 19),
``import model`` under 0.5 s (issue 20).
"""
from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = {"optimize": "optimize", "model": "model", "sensitivity": "sensitivity",
        "uncertainty": "sensitivity.uncertainty", "calibrate": "model.app.calibrate"}
CASES = {"--help": ["--help"], "--version": ["--version"], "refused value": ["sla.min_interactivity=-1"]}


def wall(args: list[str], repeats: int) -> tuple[float, float, int]:
    """Median wall seconds and median CPU seconds (user + system, of the child: what a busy
    machine does not inflate) of ``args`` over ``repeats`` runs after a warm-up, and its exit code."""
    code = subprocess.run(args, cwd=ROOT, capture_output=True).returncode
    times, cpu = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(args, cwd=ROOT, capture_output=True)
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(times), statistics.median(cpu), code


def main() -> None:
    """Print one line per case: median seconds and exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", choices=sorted(APPS), default="optimize")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    base, base_cpu, _ = wall([sys.executable, "-c", "pass"], args.repeats)
    print(f"python -c pass: {base:.3f} s wall, {base_cpu:.3f} s CPU (the interpreter alone)")
    seconds, cpu, _ = wall([sys.executable, "-c", "import model"], args.repeats)
    print(f"python -c 'import model': {seconds:.3f} s wall, {cpu:.3f} s CPU")
    for name, extra in CASES.items():
        seconds, cpu, code = wall([sys.executable, "-m", APPS[args.app], *extra], args.repeats)
        print(f"serving-{args.app} {' '.join(extra)}: {seconds:.3f} s wall, {cpu:.3f} s CPU (exit {code}; {name})")


if __name__ == "__main__":
    main()
