"""Sobol analysis of the cost model: sample -> evaluate -> estimate, as SALib splits it.

1. :func:`sensitivity.sample.problem` turns the declared parameters into a SALib problem and
   :func:`sensitivity.sample.sample` draws its Sobol design ``X``;
2. :func:`sensitivity.evaluate.evaluate_design` evaluates the cost model on all of ``X`` in one
   call, ``Y`` with a column per (output, model);
3. :func:`sensitivity.sobol.indices` estimates the indices of every column, which are then
   unstacked into ``output`` and ``model`` dims.

The models' ``max_context`` is lifted for the evaluation so that every sampled ISL has a cost;
how many samples lie beyond a model's context is reported (``beyond_context``).
"""
from __future__ import annotations

import pandas as pd
import xarray as xr
from omegaconf import DictConfig

from model.engine import Progress
from sensitivity.evaluate import OUTPUTS, SEPARATOR, evaluate_design, model_names, output_names
from sensitivity.sample import applicable, problem, sample
from sensitivity.sobol import indices
from sensitivity.validate import ENGINE_ARGUMENTS, check_engine_argument


def analyze(cfg: DictConfig, progress: Progress | None = None) -> xr.Dataset:
    """Sobol indices of the three outputs for every analysed model.

    Parameters
    ----------
    cfg
        A validated sensitivity config (:func:`sensitivity.load_config`).
    progress
        Called as blocks of the cost model's minimum over the concurrency grid finish.

    Returns
    -------
    xarray.Dataset
        ``S1``, ``S1_conf``, ``ST``, ``ST_conf`` (output, model, parameter), ``S2``, ``S2_conf``
        (output, model, parameter, parameter_2), ``ST_by_n``, ``clipped``, ``valid_samples``,
        ``beyond_context`` (share of samples whose ISL exceeds the model's context).  Parameters
        the analysed selection cannot feel are left out and the ISL's range is capped at the
        analysed models' context (:func:`sensitivity.sample.applicable`); ``attrs["scope_notes"]``
        says what was changed, one line each.

    Raises
    ------
    ConfigError
        ``sensitivity.n``, ``seed``, ``conf_level`` or ``num_resamples`` out of the engine's range
        (the engine's own :class:`ValueError`, named by the config key).
    """
    for name in ENGINE_ARGUMENTS:
        check_engine_argument(cfg, name)
    cfg, scope_notes = applicable(cfg, model_names(cfg))  # only parameters the selection can feel
    s = cfg.sensitivity
    prob = problem(cfg)
    x = sample(prob, int(s.n), int(s.seed), bool(s.second_order))
    y = evaluate_design(cfg, x, progress=progress)
    ds = indices(prob, y, int(s.seed), bool(s.second_order), outputs=output_names(cfg),
                 conf_level=float(s.conf_level), num_resamples=int(s.num_resamples))
    models = model_names(cfg)
    split = [name.split(SEPARATOR) for name in ds.output.values]
    index = pd.MultiIndex.from_tuples(split, names=["quantity", "model"])
    ds = ds.assign_coords(xr.Coordinates.from_pandas_multiindex(index, "output")).unstack("output")
    ds = ds.rename({"quantity": "output"}).transpose("output", "model", ...)
    ds = ds.reindex(output=list(OUTPUTS), model=models)
    context = xr.DataArray([float(cfg.models[m].max_context) for m in models], dims="model", coords={"model": models})
    keys = [p.key for p in s.parameters.values()]
    if "workload.isl" in keys:
        isl = xr.DataArray(x[:, keys.index("workload.isl")], dims="sample")
        ds["beyond_context"] = (isl > context).mean("sample")
    else:
        ds["beyond_context"] = float(cfg.workload.isl) > context
    ds["beyond_context"].attrs.update(units="1", long_name="share of samples with ISL beyond the model's max_context")
    ds["key"] = ("parameter", keys)
    ds.attrs.update(hardware=str(cfg.select.hardware[0]), sla_min_interactivity=float(cfg.sla.min_interactivity),
                    scope_notes="\n".join(scope_notes))
    return ds
