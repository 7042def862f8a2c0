"""Cost-minimizing concurrency under the SLA for every (model, hardware, ISL), with reasons."""
from __future__ import annotations

import numpy as np
import xarray as xr
from omegaconf import DictConfig

from model.cheapest import cheapest_under_sla
from optimize.constants import NoAnswer

__all__ = ["NoAnswer", "best_concurrency", "sla_by_model", "ttft_by_model"]


def sla_by_model(cfg: DictConfig) -> xr.DataArray:
    """Least output tok/s per request for each selected model: fleet.sla, else sla.min_interactivity."""
    models = list(cfg.select.models)
    per_model = cfg.fleet.sla if "fleet" in cfg else {}
    values = [float(cfg.sla.min_interactivity if per_model.get(m) is None else per_model[m]) for m in models]
    return xr.DataArray(values, dims="model", coords={"model": models},
                        attrs={"units": "tok/s", "long_name": "SLA: least output tok/s per request"})


def ttft_by_model(cfg: DictConfig) -> xr.DataArray:
    """Longest TTFT per request for each selected model: fleet.max_ttft_s, else sla.max_ttft_s
    (``inf``: no limit)."""
    models = list(cfg.select.models)
    per_model = cfg.fleet.max_ttft_s if "fleet" in cfg else {}
    default = np.inf if cfg.sla.max_ttft_s is None else float(cfg.sla.max_ttft_s)
    values = [default if per_model.get(m) is None else float(per_model[m]) for m in models]
    return xr.DataArray(values, dims="model", coords={"model": models},
                        attrs={"units": "s", "long_name": "SLA: longest time to first token"})


def best_concurrency(cfg: DictConfig, isl: xr.DataArray | None = None) -> xr.Dataset:
    """Exact masked argmin of ``cost_per_mtok`` over concurrency, per (model, hardware, ISL).

    Parameters
    ----------
    cfg
        Validated optimizer config (:func:`optimize.load_config`).
    isl
        Optional ISL values (DataArray) instead of the config grid's.

    Returns
    -------
    xarray.Dataset
        Dims model, hardware, isl: ``concurrency``, ``cost_per_mtok``, ``interactivity``,
        ``systems`` at the optimum (NaN where there is none), ``reason`` (``""`` or a
        :class:`NoAnswer` value; a TTFT SLA, ``sla.max_ttft_s``, that no concurrency meets
        also reads ``sla_unreachable``), ``max_interactivity`` (the best tok/s reachable at any
        feasible concurrency), ``sla`` (tok/s, per model).
    """
    sla = sla_by_model(cfg)
    best = cheapest_under_sla(cfg, {"sla.min_interactivity": sla}, isl=isl)
    context = xr.DataArray([float(cfg.models[m].max_context) for m in best.model.values], dims="model",
                           coords={"model": best.model})
    reason = xr.where(best.isl > context, NoAnswer.isl_beyond_context.value,
                      xr.where(~best.any_feasible, NoAnswer.no_buildable_size.value,
                               xr.where(~best.sla_met, NoAnswer.sla_unreachable.value, NoAnswer.none.value)))
    best["reason"] = reason.transpose(*best.sla_met.dims).astype(str)
    best["reason"].attrs = {"units": "", "long_name": "why there is no answer: " +
                            ", ".join(r.value for r in NoAnswer if r.value)}
    best["sla"] = sla
    return best.transpose("model", "hardware", ...)
