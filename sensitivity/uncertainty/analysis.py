"""The uncertainty analysis composed: scenarios -> evaluation -> bands and win probabilities.

1. :func:`sensitivity.uncertainty.scenarios.draw` draws the scenarios (scrambled Sobol points
   through each distribution's inverse CDF) and :func:`~sensitivity.uncertainty.scenarios.scenario_params`
   turns them into cost-model parameters along a ``scenario`` dim;
2. :func:`sensitivity.uncertainty.bands.evaluate_scenarios` evaluates all of them in one vectorized
   pass (the Sobol analysis' code path: :func:`model.evaluate` and the blocked reduction
   :func:`model.cheapest.cheapest_under_sla`), at every ISL of :func:`isl_values`;
3. :func:`sensitivity.uncertainty.bands.bands` and :func:`sensitivity.uncertainty.win.win_probability`
   reduce the scenarios to quantiles and win probabilities.
"""
from __future__ import annotations

import numpy as np
import xarray as xr
from omegaconf import DictConfig

from model.engine import Progress
from model.price_to_beat import cheapest_hardware
from model.results import label_coords
from sensitivity.uncertainty.bands import BANDED, add_derived, bands, evaluate_scenarios
from sensitivity.uncertainty.scenarios import SCENARIO, draw, parameter_names, scenario_params
from sensitivity.uncertainty.win import win_probability


def isl_values(cfg: DictConfig) -> list[int]:
    """The ISLs of the bands in the uncertainty config ``cfg``: ``workload.isl`` and ``uncertainty.isl``,
    sorted, each once."""
    return sorted({int(cfg.workload.isl), *(int(v) for v in cfg.uncertainty.isl)})


def input_quantiles(cfg: DictConfig, scenarios: xr.Dataset) -> xr.Dataset:
    """Quantiles of every drawn input, with its key and source (what the bands rest on).

    Parameters
    ----------
    cfg
        The uncertainty config.
    scenarios
        :func:`~sensitivity.uncertainty.scenarios.draw`'s result.

    Returns
    -------
    xarray.Dataset
        ``input_quantile`` (input, quantile), ``input_key``, ``input_source`` (input).
    """
    q = list(map(float, cfg.uncertainty.quantiles))
    names, keys, sources, values = [], [], [], []
    for name in parameter_names(cfg):
        da = scenarios[name]
        names.append(name)
        keys.append(str(da.attrs["key"]))
        sources.append(str(da.attrs["source"]))
        values.append(np.quantile(da.values, q))
    for factor in ("interactivity_factor", "ttft_factor"):
        for hardware in scenarios.error_hardware.values:
            da = scenarios[factor].sel(error_hardware=hardware)
            names.append(f"{hardware}_{factor}")
            keys.append(f"model error of {hardware}: factor on {factor.removesuffix('_factor')}")
            sources.append(str(scenarios[factor].attrs["source"]))
            values.append(np.quantile(da.values, q))
    coords = {"input": ("input", names, {"units": "", "long_name": "uncertain input"}),
              "quantile": ("quantile", q, {"units": "1", "long_name": "quantile over scenarios"})}
    shape = (len(names), len(q))
    return xr.Dataset({
        "input_quantile": (("input", "quantile"), np.asarray(values, dtype=float).reshape(shape),
                  {"units": "key's unit", "long_name": "quantiles of the drawn input over the scenarios"}),
        "input_key": ("input", np.asarray(keys, dtype=str), {"units": "", "long_name": "config key or model error"}),
        "input_source": ("input", np.asarray(sources, dtype=str), {"units": "", "long_name": "source of the range"}),
    }, coords=coords)


def analyze(cfg: DictConfig, progress: Progress | None = None, n: int | None = None) -> xr.Dataset:
    """Bands, point estimates and win probabilities over ``uncertainty.n`` scenarios.

    Parameters
    ----------
    cfg
        A validated uncertainty config.
    progress
        Called as blocks of the reduction over concurrency finish.
    n
        Scenarios (default ``uncertainty.n``).

    Returns
    -------
    xarray.Dataset
        On (model, hardware, isl, quantile): ``cost_per_mtok`` (at ``workload.concurrency``),
        ``optimal_cost_per_mtok`` (least over the concurrency grid meeting the SLA),
        ``optimal_replica_capex`` and ``price_to_beat`` quantiles, each with ``<name>_defined``
        (share of scenarios with a value) and ``<name>_point`` (at the catalog values);
        ``win_probability`` (model, isl, winner) and ``cheapest_hardware_point`` (model, isl);
        the drawn inputs' quantiles (:func:`input_quantiles`).
    """
    scenarios = draw(cfg, n)
    params = scenario_params(cfg, scenarios, cfg.select.hardware)
    isl = isl_values(cfg)
    samples = add_derived(cfg, evaluate_scenarios(cfg, params, isl, progress=progress), params)
    point = add_derived(cfg, evaluate_scenarios(cfg, {}, isl), {})
    ds = bands(samples, cfg.uncertainty.quantiles)
    for name in BANDED:
        ds[f"{name}_point"] = point[name]
        ds[f"{name}_point"].attrs.update(units=point[name].attrs["units"],
                                         long_name=f"{point[name].attrs['long_name']}, at the catalog values")
    ds["win_probability"] = win_probability(samples.optimal_cost_per_mtok)
    ds["cheapest_hardware_point"] = cheapest_hardware(point.optimal_cost_per_mtok)
    ds["cheapest_hardware_point"].attrs.update(units="", long_name="cheapest hardware meeting the SLA at the catalog "
                                                                   "values (none: no hardware meets it)")
    ds = ds.merge(input_quantiles(cfg, scenarios))
    ds = label_coords(ds)
    ds.attrs.update(title="Bands of $/Mtok over uncertain inputs (issue 14)", scenarios=int(scenarios.sizes[SCENARIO]),
                    seed=int(scenarios.attrs["seed"]), design=str(scenarios.attrs["design"]),
                    concurrency=int(cfg.workload.concurrency), sla_min_interactivity=float(cfg.sla.min_interactivity),
                    model_error_independent=int(bool(cfg.uncertainty.model_error_independent)),
                    model_error_source=str(cfg.uncertainty.model_error.source))
    return ds
