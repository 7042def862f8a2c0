"""A generic Sobol engine, split as SALib splits it: sample the design, evaluate, estimate.

1. :func:`sample` draws the design ``X`` of a SALib problem (``SALib.sample.sobol``);
2. the caller evaluates its model on all of ``X`` at once, ``Y = f(X)``;
3. :func:`indices` estimates first-, total- and second-order indices of every column of ``Y``
   with a seeded bootstrap, and ``ST`` at growing prefixes of the design (convergence).

:func:`sobol` runs the three steps for a vectorized ``func``; :func:`estimate` is the bare
estimator (arrays in, arrays out).  The estimators are SALib's (``SALib.analyze.sobol``: Saltelli
2010 first and total order, Saltelli 2002 second order, the output standardized first, the same
bootstrap draws for the same seed), computed for every output at once instead of one
``analyze`` call per output; tests check that the numbers equal SALib's.

The module needs numpy, scipy, xarray and SALib only, never the cost model, so that it can be
tested (and reused) on its own.  Bad arguments raise a plain :class:`ValueError` whose message is
one line, ``name=value: what is allowed``; :func:`argument_violation` gives the rule alone, so a
caller holding these arguments in a config can report its own key instead.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr
from SALib.sample import sobol as sobol_sample
from scipy.stats import norm

EPS = np.finfo(float).eps


def is_integer(value: Any) -> bool:
    """A whole number (Python or numpy), not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_real(value: Any) -> bool:
    """A real number (Python or numpy), not a bool."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


# argument -> (test, what is allowed); the wording is the config's too (sensitivity.validate)
RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "n": (lambda n: is_integer(n) and n >= 1 and n & (n - 1) == 0,
          "must be a power of two (SALib's Sobol sequence), e.g. 1024, 4096, 16384"),
    "seed": (lambda seed: is_integer(seed) and seed >= 1, "must be >= 1 (SALib treats 0 as unseeded)"),
    "conf_level": (lambda level: is_real(level) and 0 < level < 1, "must be in (0, 1)"),
    "num_resamples": (lambda r: is_integer(r) and r >= 2, "must be >= 2"),
}


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def argument_violation(name: str, value: Any) -> str | None:
    """What the engine allows for an argument, if ``value`` breaks that rule.

    Parameters
    ----------
    name
        One of ``n``, ``seed``, ``conf_level``, ``num_resamples``.
    value
        The value to check.

    Returns
    -------
    str or None
        The rule (e.g. ``"must be >= 2"``) when ``value`` breaks it, else None.
    """
    if name not in RULES:
        raise ValueError(f"name={name!r}: not an engine argument; allowed: {', '.join(RULES)}")
    test, allowed = RULES[name]
    return None if test(value) else allowed


def check_argument(name: str, value: Any) -> None:
    """Raise a one-line :class:`ValueError` ``name=value: rule`` if ``value`` breaks the rule of ``name``
    (the arguments of :func:`argument_violation`)."""
    allowed = argument_violation(name, value)
    if allowed is not None:
        raise ValueError(f"{name}={_show(value)}: {allowed}")


def complete_problem(problem: Mapping[str, Any]) -> dict:
    """A checked copy of a SALib problem dict, with ``num_vars`` (from ``names`` when absent).

    Parameters
    ----------
    problem
        ``names``, ``bounds`` (one per name), optional ``num_vars`` and ``dists``.  ``groups`` are
        not supported: the estimators give one index per parameter.

    Returns
    -------
    dict
        ``problem`` with ``num_vars`` set; the caller's dict is not modified.
    """
    for key in ("names", "bounds"):
        if key not in problem:
            raise ValueError(f"problem={dict(problem)}: needs 'names' and 'bounds' (SALib's problem dict)")
    d = len(problem["names"])
    repeated = sorted({str(n) for n in problem["names"] if list(problem["names"]).count(n) > 1})
    if repeated:  # two indices under one name could not be told apart in the result
        raise ValueError(f"problem['names']={list(problem['names'])}: each name at most once ({', '.join(repeated)} "
                         "repeats)")
    if len(problem["bounds"]) != d:
        raise ValueError(f"problem['bounds']={list(problem['bounds'])}: needs one [low, high] per name ({d})")
    if problem.get("num_vars", d) != d:
        raise ValueError(f"problem['num_vars']={problem['num_vars']}: must equal the number of names ({d})")
    if problem.get("groups") is not None:
        raise ValueError(f"problem['groups']={problem['groups']}: not supported (one index per parameter)")
    return {**problem, "num_vars": d}


def rows_per_base_sample(d: int, second_order: bool) -> int:
    """Design rows per base sample: ``2 D + 2`` with second order, else ``D + 2`` (SALib's layout)."""
    return 2 * d + 2 if second_order else d + 2


def sample(problem: Mapping[str, Any], n: int, seed: int, second_order: bool = True) -> np.ndarray:
    """Draw the Sobol design of ``problem`` (``SALib.sample.sobol.sample``, scrambled and seeded).

    Parameters
    ----------
    problem
        SALib problem: ``names``, ``bounds``, optional ``num_vars`` (derived from ``names``) and
        ``dists`` (``unif``, ``logunif``, ``triang``, ``norm``).
    n
        Base sample size, a power of two.
    seed
        >= 1; seeds the scrambling of the Sobol sequence.
    second_order
        Include the ``BA`` blocks that second-order indices need.

    Returns
    -------
    numpy.ndarray
        ``(n (2D + 2), D)`` parameter values (``n (D + 2)`` without second order), rows in
        SALib's layout: per base sample ``A, AB_1..AB_D, [BA_1..BA_D,] B``.
    """
    problem = complete_problem(problem)
    check_argument("n", n)
    check_argument("seed", seed)
    return sobol_sample.sample(problem, n, calc_second_order=second_order, seed=seed)


def _standardize(y: np.ndarray) -> np.ndarray:
    std = y.std(axis=0)
    return (y - y.mean(axis=0)) / np.where(std > 0, std, 1.0)


def _split(y: np.ndarray, d: int, second_order: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """A, B (n, k) and AB, BA (d, n, k) from SALib's row layout (per base sample: A,
    AB_1..AB_d, [BA_1..BA_d,] B)."""
    blocks = y.reshape(-1, rows_per_base_sample(d, second_order), y.shape[-1])
    a, b = blocks[:, 0], blocks[:, -1]
    ab = np.moveaxis(blocks[:, 1:d + 1], 1, 0)
    ba = np.moveaxis(blocks[:, d + 1:2 * d + 1], 1, 0) if second_order else None
    return a, b, ab, ba


def _ratio(num: np.ndarray, var: np.ndarray) -> np.ndarray:
    return np.divide(num, var, out=np.zeros(np.broadcast_shapes(num.shape, var.shape)), where=var > EPS)


def _point_estimates(a: np.ndarray, b: np.ndarray, ab: np.ndarray, ba: np.ndarray | None,
                     second_order: bool) -> dict:
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
    """Sobol indices of every column of ``y`` (rows in SALib's Sobol layout), as bare arrays.

    Parameters
    ----------
    y
        ``(rows,)`` or ``(rows, k)`` model outputs on the design of :func:`sample`.
    d
        Number of parameters.
    second_order
        Whether the design has the ``BA`` blocks (and ``S2`` is wanted).
    num_resamples, conf_level, seed
        Bootstrap resamples, confidence level and bootstrap seed.

    Returns
    -------
    dict
        ``S1``, ``ST`` (d, k), ``S2`` (d, d, k; upper triangle), and their ``_conf`` half-widths:
        ``z * std`` over ``num_resamples`` bootstrap resamples of the base samples.
    """
    y = _standardize(np.asarray(y, dtype=float).reshape(len(y), -1))
    a, b, ab, ba = _split(y, d, second_order)
    n = len(a)
    point = _point_estimates(a, b, ab, ba, second_order)
    draws = np.random.default_rng(seed).integers(n, size=(n, num_resamples))  # as SALib draws them
    boot = _point_estimates(a[draws], b[draws], ab[:, draws], None if ba is None else ba[:, draws], second_order)
    z = norm.ppf(0.5 + conf_level / 2)
    constant = np.ptp(np.concatenate([a, b], axis=0), axis=0) <= EPS
    out = {}
    for key, value in point.items():
        out[key] = np.where(constant, 0.0, value)
        # bootstrap axis is axis -2 (resamples), outputs last
        out[f"{key}_conf"] = np.where(constant, 0.0, z * boot[key].std(axis=-2, ddof=1))
    return out


ATTRS = {
    "S1": ("1", "first-order Sobol index"), "S1_conf": ("1", "half-width of the S1 confidence interval"),
    "ST": ("1", "total-order Sobol index"), "ST_conf": ("1", "half-width of the ST confidence interval"),
    "S2": ("1", "second-order Sobol index (upper triangle)"),
    "S2_conf": ("1", "half-width of the S2 confidence interval"),
    "clipped": ("1", "a negative S1 or ST whose interval covers 0, reported as 0"),
    "ST_by_n": ("1", "ST from the first n_base base samples of the same design"),
    "valid_samples": ("samples", "samples with a finite output (NaN indices unless all are)"),
}


def indices(problem: Mapping[str, Any], y: np.ndarray, seed: int, second_order: bool = True, *,
            outputs: Sequence[str] | None = None, conf_level: float = 0.95, num_resamples: int = 100,
            convergence: Sequence[int] | None = None) -> xr.Dataset:
    """Sobol indices of model outputs ``y`` on the design of :func:`sample` (SALib's ``analyze``).

    Parameters
    ----------
    problem
        The SALib problem the design was drawn from (``num_vars`` optional).
    y
        ``(rows,)`` or ``(rows, k)`` outputs, rows in the order of the design; ``rows`` is
        ``n (2D + 2)`` (``n (D + 2)`` without second order), which gives the base sample size ``n``.
    seed
        >= 1; seeds the bootstrap (pass the design's seed to match ``SALib.analyze.sobol``).
    second_order
        As the design was drawn.
    outputs
        Names of the k outputs (default ``y0``, ``y1``, ...).
    conf_level, num_resamples
        Confidence level and resamples of the bootstrap intervals.
    convergence
        Base sample sizes in ``[1, n]`` at which to recompute ``ST`` from prefixes of the design
        (default: n/4, n/2, n, those >= 1).

    Returns
    -------
    xarray.Dataset
        ``S1``, ``S1_conf``, ``ST``, ``ST_conf`` (output, parameter); ``S2``, ``S2_conf``
        (output, parameter, parameter_2) with second order; ``ST_by_n`` (n_base, output,
        parameter); ``clipped`` (indices < 0 whose interval covers 0, reported as 0);
        ``valid_samples``; attrs ``n``, ``seed``, ``model_runs``.  Outputs with NaN in any sample
        get NaN indices.
    """
    problem = complete_problem(problem)
    check_argument("seed", seed)
    check_argument("conf_level", conf_level)
    check_argument("num_resamples", num_resamples)
    names = list(problem["names"])
    d = len(names)
    y = np.asarray(y, dtype=float)
    y = y.reshape(len(y), -1)
    rows = rows_per_base_sample(d, second_order)
    if len(y) == 0 or len(y) % rows:
        raise ValueError(f"y has {len(y)} rows: must be n x {rows} (the design of sample() for D = {d}, "
                         f"second_order={second_order})")
    n = len(y) // rows
    k = y.shape[1]
    outputs = list(outputs) if outputs is not None else [f"y{i}" for i in range(k)]
    if len(outputs) != k:
        raise ValueError(f"outputs has {len(outputs)} names: must name each of the {k} columns of y")
    sizes = sorted(set(convergence or [m for m in (n // 4, n // 2, n) if m >= 1]))
    if not all(is_integer(m) and 1 <= m <= n for m in sizes):
        raise ValueError(f"convergence={list(convergence)}: base sample sizes must be integers in [1, {n}]")
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
    by_n = []
    for m in sizes:  # point estimates only: the bootstrap and S2 are not needed to see ST settle
        part = _standardize(np.where(valid, y, 0.0)[: m * rows])
        a, b, ab, _ = _split(part, d, second_order)
        by_n.append(np.where(valid, _point_estimates(a, b, ab, None, False)["ST"], np.nan).T)
    ds["ST_by_n"] = xr.DataArray(np.stack(by_n), dims=("n_base", "output", "parameter"),
                                 coords={"n_base": sizes})
    ds["valid_samples"] = ("output", np.isfinite(y).sum(axis=0))
    for key, (units, long_name) in ATTRS.items():
        if key in ds:
            ds[key].attrs.update(units=units, long_name=long_name)
    ds.attrs.update(n=n, seed=seed, second_order=int(second_order), conf_level=conf_level,
                    num_resamples=num_resamples, model_runs=len(y))
    return ds


def sobol(func: Callable[[np.ndarray], np.ndarray], problem: Mapping[str, Any], n: int, seed: int,
          second_order: bool = True, *, outputs: Sequence[str] | None = None, conf_level: float = 0.95,
          num_resamples: int = 100, convergence: Sequence[int] | None = None) -> xr.Dataset:
    """Sobol indices of a vectorized function: :func:`sample`, one call of ``func``, :func:`indices`.

    Parameters
    ----------
    func
        Maps an (n_samples, D) array of parameter values to (n_samples,) or (n_samples, k).
        Called once, on all samples.
    problem
        SALib problem: ``names``, ``bounds``, optional ``num_vars`` (derived from ``names``) and
        ``dists`` (``unif``, ``logunif``, ``triang``, ``norm``).
    n
        Base sample size, a power of two; ``func`` sees ``n (2D + 2)`` rows (``n (D + 2)``
        without second order).
    seed
        >= 1; seeds the Sobol scrambling and the bootstrap.
    second_order
        Estimate second-order indices ``S2``.
    outputs, conf_level, num_resamples, convergence
        As in :func:`indices`.

    Returns
    -------
    xarray.Dataset
        As :func:`indices` returns it.
    """
    # all checked before the design is drawn and evaluated, which is the expensive part
    for name, value in (("n", n), ("seed", seed), ("conf_level", conf_level), ("num_resamples", num_resamples)):
        check_argument(name, value)
    x = sample(problem, n, seed, second_order)
    y = np.asarray(func(x), dtype=float).reshape(len(x), -1)
    return indices(problem, y, seed, second_order, outputs=outputs, conf_level=conf_level,
                   num_resamples=num_resamples, convergence=convergence)
