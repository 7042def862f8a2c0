"""Step 1 of the uncertainty analysis: scenarios, drawn as a scrambled Sobol (QMC) design.

Every declared parameter (``uncertainty.parameters``, the vocabulary of
:class:`sensitivity.schema.ParameterSpec`) and every GPU model-error factor gets one column of a
scrambled Sobol sequence (``scipy.stats.qmc.Sobol``), mapped through its distribution's inverse
CDF.  A scenario is one row: a value of every uncertain input.

**GPU model error.**  ``uncertainty.model_error`` (written by the calibration) gives the spread
``sigma`` of log(measured / predicted) of interactivity and of TTFT over the calibration's
leave-one-out predictions.  Each scenario draws, per listed hardware type (or once for all of
them with ``model_error_independent: false``), ``f_I = exp(sigma_I z)`` and
``f_T = exp(sigma_T z')``: lognormal factors with median 1.  Independent draws per hardware are
the default: each GPU type's decode and prefill parameters are fitted on its own points, so an
error of one fit says nothing about another's, and a shared draw would cancel in every
comparison between two GPUs, overstating how sure a GPU-against-GPU win probability is.
``f_I`` and ``f_T`` are drawn independently of each other (the calibration reports no
correlation).

How the factors enter the cost model (:func:`model_error_overrides`), with only catalog keys:

- ``f_I`` divides the decode step exactly: ``interactivity_multiplier * f_I`` (the measured-rate
  path, the wafer's), ``step_overhead_s / f_I``, ``layer_overhead_s / f_I``,
  ``hop_latency_s / f_I`` and ``memory_bandwidth_tb_s * f_I`` (the GPU roofline), and the compute
  bound through ``peak_dense_tflops * compute_efficiency * f_I``.  On a GPU,
  ``interactivity_multiplier`` alone would change nothing: it scales a measured rate, and GPUs
  have none.  The decode interactivity ``1 / step`` scales by ``f_I`` exactly; in physical
  prefill mode the reported interactivity ``O / (T - queued prefill)`` also feels the other
  requests' prefills, so it scales by ``f_I`` only where prefill interference is small.
- ``f_T`` multiplies the prefill time ``t_pf`` exactly: ``prefill_overhead_s * f_T``,
  ``kv_load_bandwidth_gb_s / f_T`` and ``peak_dense_tflops * prefill_efficiency / f_T``; in
  ratio mode ``cache_read_ratio / (f_I f_T)``, which scales TTFT by ``f_T`` exactly.  In physical
  mode ``ttft = overhead + b (1 + (N - 1) b / (2 T)) + step / 2`` scales by ``f_T`` up to the
  queueing factor (which grows with ``f_T``) and the half decode step (which does not).  The
  approximation: the calibration measured TTFT at random prompts (no cached prefix); the factor
  is applied to the prefix load too, as one error on the whole prefill.
- Efficiencies are bounded by 1 (``(0, 1]``), and B200's fitted ``prefill_efficiency`` sits at
  1.0, so ``f_T < 1`` cannot enter through it alone: with ``g = prefill_efficiency / f_T`` and
  ``h = compute_efficiency * f_I``, ``peak_dense_tflops`` is multiplied by
  ``B = max(1, g, h)`` and the efficiencies become ``g / B`` and ``h / B`` (both in (0, 1]), so
  that the two products ``peak x efficiency`` come out as wanted.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr
from omegaconf import DictConfig, OmegaConf
from scipy.stats import norm, qmc, truncnorm

from model.fields import field_docs
from model.schema import HardwareSpec, ModelSpec, PrefillMode
from sensitivity.schema import Distribution

SCENARIO = "scenario"
TRUNCATION_SD = 3.0  # normal parameters are truncated at mean ± 3 sd, the reach validation checks
FACTORS = ("interactivity", "ttft")  # the model-error factors f_I, f_T


def parameter_names(cfg: DictConfig) -> list[str]:
    """The names of the parameters the uncertainty config ``cfg`` declares, in declaration order."""
    return list(cfg.uncertainty.parameters.keys())


def error_hardware(cfg: DictConfig) -> list[str]:
    """The catalog hardware the GPU model-error factors of the uncertainty config ``cfg`` apply to
    (``model_error.hardware`` present in the catalog; a sigma of 0 makes its factors exactly 1)."""
    e = cfg.uncertainty.model_error
    return [str(h) for h in e.hardware if h in cfg.hardware]


def dimensions(cfg: DictConfig) -> int:
    """Columns of the Sobol design of the uncertainty config ``cfg``: one per parameter, two (f_I, f_T)
    per model-error draw."""
    draws = len(error_hardware(cfg)) if cfg.uncertainty.model_error_independent else min(1, len(error_hardware(cfg)))
    return len(parameter_names(cfg)) + len(FACTORS) * draws


def unit_design(d: int, n: int, seed: int) -> np.ndarray:
    """``n`` points of a scrambled Sobol sequence in ``[0, 1)^d`` (``scipy.stats.qmc.Sobol``).

    Parameters
    ----------
    d
        Dimensions.
    n
        Points; a power of two keeps the sequence's balance (any other count is the sequence's
        first ``n`` points).
    seed
        Seed of the scrambling.

    Returns
    -------
    numpy.ndarray
        ``(n, d)``, strictly inside ``(0, 1)``.
    """
    if d == 0:
        return np.empty((n, 0))
    sobol = qmc.Sobol(d, scramble=True, rng=seed)
    if n & (n - 1) == 0:
        u = sobol.random_base2(int(np.log2(n)))
    else:
        with warnings.catch_warnings():  # balance needs a power of two; a prefix is still low-discrepancy
            warnings.simplefilter("ignore", UserWarning)
            u = sobol.random(n)
    tiny = np.finfo(float).eps
    return np.clip(u, tiny, 1 - tiny)


def inverse_cdf(u: np.ndarray, distribution: Distribution, low: float | None = None, high: float | None = None,
                mode: float | None = None, mean: float | None = None, sd: float | None = None) -> np.ndarray:
    """Map uniform ``u`` to a distribution by its inverse CDF (a degenerate one gives its point exactly).

    Parameters
    ----------
    u
        Values in (0, 1).
    distribution
        uniform, loguniform (bounds > 0), triangular (peak ``mode``, default the midpoint) or
        normal (``mean``, ``sd``; truncated at ``mean ± 3 sd``).
    low, high
        Bounds (not for normal); ``low == high`` is a point.
    mode
        Triangular peak.
    mean, sd
        Normal mean and standard deviation; ``sd == 0`` is a point.

    Returns
    -------
    numpy.ndarray
        The values, shaped as ``u``.
    """
    u = np.asarray(u, dtype=float)
    if distribution == Distribution.normal:
        if sd == 0:
            return np.full(u.shape, float(mean))
        # truncated, not clipped: the mass beyond ±3 sd is spread over the interval (no atoms at the bounds)
        return truncnorm.ppf(u, -TRUNCATION_SD, TRUNCATION_SD, loc=mean, scale=sd)
    low, high = float(low), float(high)
    if low == high:
        return np.full(u.shape, low)
    if distribution == Distribution.uniform:
        return low + u * (high - low)
    if distribution == Distribution.loguniform:
        return np.exp(np.log(low) + u * (np.log(high) - np.log(low)))
    peak = (low + high) / 2 if mode is None else float(mode)
    split = (peak - low) / (high - low)
    with np.errstate(invalid="ignore"):
        rising = low + np.sqrt(u * (high - low) * (peak - low))
        falling = high - np.sqrt((1 - u) * (high - low) * (high - peak))
    return np.where(u < split, rising, falling)


def resolved(cfg: DictConfig, name: str) -> dict[str, Any]:
    """One declared parameter's distribution with relative values scaled by the key's config value.

    Parameters
    ----------
    cfg
        An uncertainty config.
    name
        A name of ``uncertainty.parameters``.

    Returns
    -------
    dict
        ``distribution``, ``low``, ``high``, ``mode``, ``mean``, ``sd`` (absolute values).
    """
    p = cfg.uncertainty.parameters[name]
    scale = float(OmegaConf.select(cfg, p.key)) if p.relative else 1.0
    out: dict[str, Any] = {"distribution": Distribution(p.distribution), "low": None, "high": None, "mode": None,
                           "mean": None, "sd": None}
    if out["distribution"] == Distribution.normal:
        out.update(mean=float(p.mean) * scale, sd=float(p.sd) * scale)
    else:
        out.update(low=float(p.bounds[0]) * scale, high=float(p.bounds[1]) * scale,
                   mode=None if p.mode is None else float(p.mode) * scale)
    return out


def draw(cfg: DictConfig, n: int | None = None, seed: int | None = None) -> xr.Dataset:
    """The scenarios: every declared parameter and model-error factor along a ``scenario`` dim.

    Parameters
    ----------
    cfg
        A validated uncertainty config.
    n
        Scenarios (default ``uncertainty.n``).
    seed
        Scrambling seed (default ``uncertainty.seed``).  The same seed and declarations give the
        same sequence, so a smaller ``n`` is a prefix of a larger one.

    Returns
    -------
    xarray.Dataset
        One variable per parameter (named as declared, attrs ``key``, ``units`` of the key,
        ``source``), and ``interactivity_factor`` and ``ttft_factor`` on (``error_hardware``,
        ``scenario``).
    """
    u_cfg = cfg.uncertainty
    n = int(u_cfg.n if n is None else n)
    seed = int(u_cfg.seed if seed is None else seed)
    names = parameter_names(cfg)
    hardware = error_hardware(cfg)
    draws = len(hardware) if u_cfg.model_error_independent else min(1, len(hardware))
    u = unit_design(dimensions(cfg), n, seed)
    ds = xr.Dataset(coords={SCENARIO: (SCENARIO, np.arange(n), {"units": "", "long_name": "scenario number"})})
    for i, name in enumerate(names):
        d = resolved(cfg, name)
        p = u_cfg.parameters[name]
        ds[name] = (SCENARIO, inverse_cdf(u[:, i], **d))
        ds[name].attrs.update(units=_units(p.key), long_name=f"sampled {p.key}", key=p.key, source=p.source,
                              distribution=d["distribution"].value)
    factors = u[:, len(names):].reshape(n, draws, len(FACTORS)) if draws else np.ones((n, 0, len(FACTORS))) / 2
    e = u_cfg.model_error
    sigmas = [float(e.interactivity.sigma), float(e.ttft.sigma)]
    coords = {"error_hardware": ("error_hardware", hardware,
                                 {"units": "", "long_name": "hardware the GPU model error applies to"})}
    for j, (factor, sigma) in enumerate(zip(FACTORS, sigmas)):
        z = norm.ppf(factors[:, :, j]) if draws else np.zeros((n, 0))
        values = np.exp(sigma * z) if sigma > 0 else np.ones_like(z)
        if not u_cfg.model_error_independent:
            values = np.repeat(values, len(hardware), axis=1) if draws else values
        ds[f"{factor}_factor"] = xr.DataArray(values.T.reshape(len(hardware), n), dims=("error_hardware", SCENARIO),
                                              coords=coords)
        ds[f"{factor}_factor"].attrs.update(
            units="1", long_name=f"GPU model error: factor on {factor}, lognormal(0, {sigma:g})",
            source=str(e.source))
    ds.attrs.update(n=n, seed=seed, design="scrambled Sobol (scipy.stats.qmc)",
                    model_error_independent=int(bool(u_cfg.model_error_independent)))
    return ds


def _units(key: str) -> str:
    parts = key.split(".")
    if len(parts) == 5 and parts[2] == "interactivity":
        return "tok/s"
    schema = {"hardware": HardwareSpec, "models": ModelSpec}.get(parts[0])
    if schema is not None and len(parts) == 3 and parts[2] in field_docs(schema):
        return field_docs(schema)[parts[2]].unit
    return ""


def _catalog(cfg: DictConfig, hardware: str, field: str) -> float:
    value = cfg.hardware[hardware][field]
    return np.nan if value is None else float(value)


def model_error_overrides(cfg: DictConfig, base: Mapping[str, Any], f_i: xr.DataArray, f_t: xr.DataArray,
                          hardware: str) -> dict[str, Any]:
    """The catalog keys of one hardware type that carry its model-error factors (module docstring).

    Parameters
    ----------
    cfg
        The config (catalog values of keys ``base`` does not set).
    base
        Values already drawn, by dotted key (numbers or DataArrays along ``scenario``); the
        factors apply on top of them.
    f_i, f_t
        The interactivity and TTFT factors of this hardware, along ``scenario``.
    hardware
        A catalog hardware name.

    Returns
    -------
    dict
        Dotted key -> value for :func:`model.evaluate`'s ``params`` (keys whose value is null or
        0, which no factor changes, are left out).
    """
    def value(field: str) -> Any:
        key = f"hardware.{hardware}.{field}"
        return base[key] if key in base else _catalog(cfg, hardware, field)

    out: dict[str, Any] = {}

    def put(field: str, new: Any) -> None:
        current = np.asarray(value(field), dtype=float)
        if not np.all(np.isnan(current) | (current == 0)):  # null stays null, 0 stays 0 under any factor
            out[f"hardware.{hardware}.{field}"] = new

    put("interactivity_multiplier", value("interactivity_multiplier") * f_i)
    put("step_overhead_s", value("step_overhead_s") / f_i)
    put("layer_overhead_s", value("layer_overhead_s") / f_i)
    put("hop_latency_s", value("hop_latency_s") / f_i)
    put("memory_bandwidth_tb_s", value("memory_bandwidth_tb_s") * f_i)
    put("prefill_overhead_s", value("prefill_overhead_s") * f_t)
    put("kv_load_bandwidth_gb_s", value("kv_load_bandwidth_gb_s") / f_t)
    if PrefillMode(cfg.hardware[hardware].prefill_mode) == PrefillMode.ratio:
        put("cache_read_ratio", value("cache_read_ratio") / (f_i * f_t))
    if not np.all(np.isnan(np.asarray(value("peak_dense_tflops"), dtype=float))):
        g = value("prefill_efficiency") / f_t
        h = value("compute_efficiency") * f_i
        boost = np.maximum(np.maximum(g, h), 1.0)
        out[f"hardware.{hardware}.peak_dense_tflops"] = value("peak_dense_tflops") * boost
        out[f"hardware.{hardware}.prefill_efficiency"] = g / boost
        out[f"hardware.{hardware}.compute_efficiency"] = h / boost
    return out


def scenario_params(cfg: DictConfig, scenarios: xr.Dataset,
                    hardware: Sequence[str] | None = None) -> dict[str, xr.DataArray]:
    """The scenarios as :func:`model.evaluate` ``params``: dotted key -> DataArray along ``scenario``.

    Parameters
    ----------
    cfg
        The uncertainty config the scenarios were drawn from.
    scenarios
        :func:`draw`'s result (or a ``scenario`` slice of it).
    hardware
        The hardware that will be evaluated: the model error's keys are made for these only (the
        others' would change nothing but the cost of the evaluation).  Default: every error
        hardware.

    Returns
    -------
    dict
        The declared parameters by key, then the model-error keys of the error hardware
        (applied on top of the drawn values of the same keys).
    """
    params: dict[str, Any] = {}
    for name in parameter_names(cfg):
        params[str(scenarios[name].attrs["key"])] = scenarios[name].copy()
    wanted = None if hardware is None else {str(h) for h in hardware}
    for hardware in scenarios.error_hardware.values:
        if wanted is not None and str(hardware) not in wanted:
            continue
        f_i = scenarios.interactivity_factor.sel(error_hardware=hardware, drop=True)
        f_t = scenarios.ttft_factor.sel(error_hardware=hardware, drop=True)
        params.update(model_error_overrides(cfg, params, f_i, f_t, str(hardware)))
    return {k: (v if isinstance(v, xr.DataArray) else xr.DataArray(v)) for k, v in params.items()}
