"""The view's typed ISL without the browser: one ``model.evaluate`` call at one ISL over 1,024 concurrencies.

    python benchmarks/bench_typed_isl.py              # 40 ISLs
    python benchmarks/bench_typed_isl.py --isls 100

The calculator tab's default (gpt_oss_120b on cerebras_wse3 and b200), evaluated as
``model.app.view.state.Calculator.grid`` does for an ISL off the slider's positions (``workers=1``),
at ISLs no cache holds; the part of it that reads the catalog into arrays
(``model.parameters.raw_parameters``, cached per validated config); and the calculator state's
update per move (the page's Python side: readouts, cheapest concurrency, price to beat).  Prints medians and p90s in ms
and the CPU time of the evaluations (user + system: what a machine busy with other work inflates
least).  The browser's figure (readout and plot updated) is ``benchmarks/bench_view.py``'s.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import time

import numpy as np
import xarray as xr

import model
from model.parameters import raw_parameters


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--isls", type=int, default=40, help="typed ISLs timed (default 40)")
    args = parser.parse_args(argv)
    cfg = model.load_config(["select.models=[gpt_oss_120b]", "select.hardware=[cerebras_wse3,b200]"])
    levels = np.arange(1, 1025)
    concurrency = xr.DataArray(levels, dims="concurrency", coords={"concurrency": levels})
    model.evaluate(cfg, {}, isl=[96300], concurrency=concurrency, workers=1)  # warm-up
    wall, cpu, raw = [], [], []
    for isl in range(50001, 50001 + args.isls * 997, 997):
        start, start_cpu = time.perf_counter(), cpu_seconds()
        model.evaluate(cfg, {}, isl=[isl], concurrency=concurrency, workers=1)
        wall.append(1000 * (time.perf_counter() - start))
        cpu.append(1000 * (cpu_seconds() - start_cpu))
        start = time.perf_counter()
        raw_parameters(cfg)
        raw.append(1000 * (time.perf_counter() - start))
    print(f"typed ISL, model.evaluate: median {statistics.median(wall):.1f} ms, p90 {np.percentile(wall, 90):.1f} ms "
          f"wall; median {statistics.median(cpu):.1f} ms CPU (n = {len(wall)})")
    print(f"  of which the catalog's arrays (raw_parameters): median {statistics.median(raw):.2f} ms")
    # what the page's server computes per move (model.app.view.state.CalculatorState.update): the
    # evaluation above for a typed ISL, the readouts alone for a concurrency move
    from model.app.view.calculator import CalculatorTab

    state = CalculatorTab().state
    moves: dict[str, list[float]] = {"concurrency move": [], "typed ISL": []}
    for i in range(args.isls):
        for name, key, value in (("concurrency move", "concurrency", 100 + 7 * i),
                                 ("typed ISL", "isl", 150001 + 991 * i)):
            start = time.perf_counter()
            state.update(state.inputs.set(key, value))
            moves[name].append(1000 * (time.perf_counter() - start))
    for name, times in moves.items():
        print(f"page state update, {name}: median {statistics.median(times):.1f} ms, "
              f"p90 {np.percentile(times, 90):.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
