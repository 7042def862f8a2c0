"""A generic Sobol engine: SALib's Sobol sampling and SALib's estimators, vectorized over outputs.

``sobol(func, problem, n, seed)`` samples ``problem`` (a SALib problem dict) with
``SALib.sample.sobol``, calls ``func`` once on all samples, and estimates first-, total- and
second-order indices with a seeded bootstrap.  The estimators are SALib's
(``SALib.analyze.sobol``: Saltelli 2010 first and total order, Saltelli 2002 second order, the
output standardized first, the same bootstrap draws for the same seed), computed for every
output at once instead of one ``analyze`` call per output; tests check that the numbers equal
SALib's.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import xarray as xr
from SALib.sample import sobol as sobol_sample
from scipy.stats import norm

from model.errors import ConfigError

EPS = np.finfo(float).eps


def _standardize(y: np.ndarray) -> np.ndarray:
    std = y.std(axis=0)
    return (y - y.mean(axis=0)) / np.where(std > 0, std, 1.0)


def _split(y: np.ndarray, d: int, second_order: bool):
    """A, B (n, k) and AB, BA (d, n, k) from SALib's row layout (per base sample: A,
    AB_1..AB_d, [BA_1..BA_d,] B)."""
    step = 2 * d + 2 if second_order else d + 2
    blocks = y.reshape(-1, step, y.shape[-1])
    a, b = blocks[:, 0], blocks[:, -1]
    ab = np.moveaxis(blocks[:, 1:d + 1], 1, 0)
    ba = np.moveaxis(blocks[:, d + 1:2 * d + 1], 1, 0) if second_order else None
    return a, b, ab, ba


def _ratio(num: np.ndarray, var: np.ndarray) -> np.ndarray:
    return np.divide(num, var, out=np.zeros(np.broadcast_shapes(num.shape, var.shape)), where=var > EPS)


def _indices(a, b, ab, ba, second_order: bool) -> dict:
    """Point estimates along axis 0 (samples); any trailing axes (resamples, outputs) broadcast."""
    var = np.concatenate([a, b], axis=0).var(axis=0)
    d = len(ab)
    s1 = np.stack([_ratio(np.mean(b * (ab[j] - a), axis=0), var) for j in range(d)])
    st = np.stack([_ratio(0.5 * np.mean((a - ab[j]) ** 2, axis=0), var) for j in range(d)])
    out = {"S1": s1, "ST": st}
    if second_order:
        s2 = np.full((d, d) + s1.shape[1:], np.nan)
        for j in range(d):
            for k in range(j + 1, d):
                vjk = _ratio(np.mean(ba[j] * ab[k] - a * b, axis=0), var)
                s2[j, k] = vjk - s1[j] - s1[k]
        out["S2"] = s2
    return out


def estimate(y: np.ndarray, d: int, second_order: bool = True, num_resamples: int = 100,
             conf_level: float = 0.95, seed: int = 1) -> dict:
    """Sobol indices of every column of ``y`` (rows in SALib's Sobol layout).

    Returns ``S1``, ``ST`` (d, k), ``S2`` (d, d, k; upper triangle), and their ``_conf``
    half-widths: ``z * std`` over ``num_resamples`` bootstrap resamples of the base samples.
    """
    y = _standardize(np.asarray(y, dtype=float).reshape(len(y), -1))
    a, b, ab, ba = _split(y, d, second_order)
    n = len(a)
    point = _indices(a, b, ab, ba, second_order)
    draws = np.random.default_rng(seed).integers(n, size=(n, num_resamples))  # as SALib draws them
    boot = _indices(a[draws], b[draws], ab[:, draws], None if ba is None else ba[:, draws], second_order)
    z = norm.ppf(0.5 + conf_level / 2)
    constant = np.ptp(np.concatenate([a, b], axis=0), axis=0) <= EPS
    out = {}
    for key, value in point.items():
        out[key] = np.where(constant, 0.0, value)
        # bootstrap axis is axis -2 (resamples), outputs last
        out[f"{key}_conf"] = np.where(constant, 0.0, z * boot[key].std(axis=-2, ddof=1))
    return out


def check_n(n: int) -> None:
    if n < 1 or n & (n - 1):
        raise ConfigError("n", n, "must be a power of two (SALib's Sobol sequence), e.g. 1024, 4096, 16384")


def sobol(func: Callable[[np.ndarray], np.ndarray], problem: dict, n: int, seed: int,
          second_order: bool = True, *, outputs: Sequence[str] | None = None, conf_level: float = 0.95,
          num_resamples: int = 100, convergence: Sequence[int] | None = None) -> xr.Dataset:
    """Sobol indices of a vectorized function.

    Parameters
    ----------
    func
        Maps an (n_samples, D) array of parameter values to (n_samples,) or (n_samples, k).
        Called once, on all samples.
    problem
        SALib problem: ``names``, ``bounds``, optional ``dists`` (``unif``, ``logunif``,
        ``triang``, ``norm``).
    n
        Base sample size, a power of two; ``func`` sees ``n (2D + 2)`` rows (``n (D + 2)``
        without second order).
    seed
        >= 1; seeds the Sobol scrambling and the bootstrap.
    outputs
        Names of the k outputs (default ``y0``, ``y1``, ...).
    convergence
        Base sample sizes at which to recompute ``ST`` from prefixes of the same design
        (default: n/4, n/2, n).

    Returns
    -------
    xarray.Dataset
        ``S1``, ``S1_conf``, ``ST``, ``ST_conf`` (output, parameter); ``S2``, ``S2_conf``
        (output, parameter, parameter_2) with second order; ``ST_by_n`` (n_base, output,
        parameter); ``clipped`` (indices < 0 whose interval covers 0, reported as 0);
        attrs ``n``, ``seed``, ``model_runs``.  Outputs with NaN in any sample get NaN indices.
    """
    check_n(n)
    if seed < 1:
        raise ConfigError("seed", seed, "must be >= 1 (SALib treats 0 as unseeded)")
    names = list(problem["names"])
    d = len(names)
    x = sobol_sample.sample(problem, n, calc_second_order=second_order, seed=seed)
    y = np.asarray(func(x), dtype=float).reshape(len(x), -1)
    k = y.shape[1]
    outputs = list(outputs) if outputs is not None else [f"y{i}" for i in range(k)]
    if len(outputs) != k:
        raise ValueError(f"func returned {k} outputs but {len(outputs)} names were given")
    valid = np.isfinite(y).all(axis=0)
    est = estimate(np.where(valid, y, 0.0), d, second_order, num_resamples, conf_level, seed)
    dims1 = ("parameter", "output")
    ds = xr.Dataset(coords={"output": outputs, "parameter": names})
    for key in ("S1", "S1_conf", "ST", "ST_conf"):
        ds[key] = xr.DataArray(np.where(valid, est[key], np.nan), dims=dims1).transpose("output", "parameter")
    if second_order:
        ds = ds.assign_coords(parameter_2=names)
        for key in ("S2", "S2_conf"):
            ds[key] = xr.DataArray(np.where(valid, est[key], np.nan), dims=("parameter", "parameter_2", "output")
                                   ).transpose("output", "parameter", "parameter_2")
    ds["clipped"] = xr.zeros_like(ds.S1, dtype=bool)
    for key in ("S1", "ST"):
        clip = (ds[key] < 0) & (ds[key] + ds[f"{key}_conf"] >= 0)
        ds["clipped"] = ds.clipped | clip
        ds[key] = ds[key].where(~clip, 0.0)
    sizes = sorted(set(convergence or [n // 4, n // 2, n]))
    rows = 2 * d + 2 if second_order else d + 2
    by_n = []
    for m in sizes:  # point estimates only: the bootstrap and S2 are not needed to see ST settle
        part = _standardize(np.where(valid, y, 0.0)[: m * rows])
        a, b, ab, _ = _split(part, d, second_order)
        by_n.append(np.where(valid, _indices(a, b, ab, None, False)["ST"], np.nan).T)
    ds["ST_by_n"] = xr.DataArray(np.stack(by_n), dims=("n_base", "output", "parameter"),
                                 coords={"n_base": sizes})
    ds["valid_samples"] = ("output", np.isfinite(y).sum(axis=0))
    attrs = {
        "S1": ("1", "first-order Sobol index"), "S1_conf": ("1", "half-width of the S1 confidence interval"),
        "ST": ("1", "total-order Sobol index"), "ST_conf": ("1", "half-width of the ST confidence interval"),
        "S2": ("1", "second-order Sobol index (upper triangle)"),
        "S2_conf": ("1", "half-width of the S2 confidence interval"),
        "clipped": ("1", "a negative S1 or ST whose interval covers 0, reported as 0"),
        "ST_by_n": ("1", "ST from the first n_base base samples of the same design"),
        "valid_samples": ("samples", "samples with a finite output (NaN indices unless all are)"),
    }
    for key, (units, long_name) in attrs.items():
        if key in ds:
            ds[key].attrs.update(units=units, long_name=long_name)
    ds.attrs.update(n=n, seed=seed, second_order=int(second_order), conf_level=conf_level,
                    num_resamples=num_resamples, model_runs=len(x))
    return ds
