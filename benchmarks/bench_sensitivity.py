"""Benchmark of the Sobol analysis: N = 2^14 base samples, the default six parameters, second
order: 229,376 model evaluations, each with its minimum over 1,024 concurrency levels.

    python benchmarks/bench_sensitivity.py

Times `sensitivity.analyze` end to end (sampling, one vectorized evaluation of all samples,
estimation with bootstrap intervals, convergence), then its evaluation step alone
(`sensitivity.evaluate.evaluate_design` on the design of `sensitivity.sample`), then the same
model evaluation through a per-sample Python function (one cost-model call per sample) on a
subset, extrapolated.
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import xarray as xr
from omegaconf import DictConfig

import sensitivity
from model.cheapest import cheapest_under_sla
from model.evaluate import evaluate
from sensitivity.evaluate import evaluate_design
from sensitivity.sample import problem, sample


def per_sample_function(cfg: DictConfig) -> Callable[[np.ndarray], list[float]]:
    """The straightforward way: one sample at a time, each a scalar-parameter cost-model call."""
    keys = [p.key for p in cfg.sensitivity.parameters.values()]
    hw, model = cfg.select.hardware[0], cfg.select.models[0]
    lift = {f"models.{model}.max_context": float(2 ** 62)}

    def f(x: np.ndarray) -> list[float]:
        values = dict(zip(keys, x))
        isl = xr.DataArray([float(values.pop("workload.isl"))], dims="isl")
        n = max(1.0, round(float(values.pop("workload.concurrency"))))
        params = {**values, **lift}
        at = evaluate(cfg, params, isl=isl, concurrency=xr.DataArray([n], dims="concurrency"),
                      variables=["cost_per_mtok"])
        best = cheapest_under_sla(cfg, params, isl=isl, workers=1)
        return [float(at.cost_per_mtok.sel(model=model, hardware=hw).squeeze()),
                float(best.cost_per_mtok.sel(model=model, hardware=hw).squeeze()),
                float(best.concurrency.sel(model=model, hardware=hw).squeeze())]

    return f


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2 ** 14)
    parser.add_argument("--per-sample", type=int, default=200, help="samples timed through the per-sample function")
    args = parser.parse_args()
    cfg = sensitivity.load_config([f"sensitivity.n={args.n}"])

    sensitivity.analyze(sensitivity.load_config(["sensitivity.n=64"]))  # warm-up: imports, caches
    start = time.perf_counter()
    ds = sensitivity.analyze(cfg)
    total = time.perf_counter() - start
    runs = ds.attrs["model_runs"]
    cells = runs * 1024

    prob = problem(cfg)
    x = sample(prob, args.n, int(cfg.sensitivity.seed), second_order=True)
    start = time.perf_counter()
    y = evaluate_design(cfg, x)
    vectorized = time.perf_counter() - start

    f = per_sample_function(cfg)
    rows = np.random.default_rng(0).choice(len(x), args.per_sample, replace=False)
    start = time.perf_counter()
    slow = np.array([f(x[i]) for i in rows])
    per_sample = (time.perf_counter() - start) / args.per_sample
    np.testing.assert_allclose(slow, y[rows], rtol=1e-9, equal_nan=True)

    print(f"N = {args.n:,}, D = {prob['num_vars']}, second order: {runs:,} model runs x 1,024 concurrency levels "
          f"= {cells:,} cells")
    print(f"sensitivity.analyze end to end: {total:.2f} s (target < 10 s)")
    print(f"  of which the vectorized model evaluation: {vectorized:.2f} s ({cells / vectorized / 1e6:.1f} M cells/s)")
    print(f"per-sample Python function: {per_sample * 1e3:.1f} ms per sample (mean of {args.per_sample}, "
          f"same values) -> {per_sample * runs:,.0f} s for all {runs:,} samples")
    print(f"ratio per-sample / vectorized evaluation: {per_sample * runs / vectorized:,.0f}x; "
          f"per-sample / end to end: {per_sample * runs / total:,.0f}x")


if __name__ == "__main__":
    main()
