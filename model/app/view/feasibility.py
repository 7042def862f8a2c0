"""The feasibility diagram's numbers (no Panel): systems per replica over ISL x total parameters."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr
from omegaconf import DictConfig

import model


@dataclass(frozen=True)
class Feasibility:
    """Systems per replica over ISL x total parameters on one hardware (the feasibility diagram).

    Attributes
    ----------
    hardware, model
        The hardware and the reference model (its bytes per parameter and KV per token).
    concurrency
        Concurrent requests per replica of every cell.
    isl
        ISL values, tokens (n).
    params_b
        Total parameters, B (m).
    systems
        Systems per replica, shape (m, n).
    model_params_b, max_context
        The model's total parameters and context, where its marker goes.
    """

    hardware: str
    model: str
    concurrency: int
    isl: np.ndarray
    params_b: np.ndarray
    systems: np.ndarray
    model_params_b: float
    max_context: float


def feasibility_grids(cfg: DictConfig, grid: xr.Dataset, model_name: str, hardware: tuple[str, ...],
                      concurrency: int, points: int = 40) -> dict[str, Feasibility]:
    """Systems per replica over ISL x total parameters on each hardware at one concurrency, as
    ``serving-model``'s feasibility.png draws it: weights scale with total parameters at the
    model's bytes per parameter, KV per token is the model's.  One :func:`model.evaluate` call,
    total parameters along their own dim.

    Parameters
    ----------
    cfg
        The composed config of the selection.
    grid
        :func:`model.evaluate` of ``cfg`` (the model's weight bytes give its bytes per parameter).
    model_name
        The reference model.
    hardware
        The hardware types drawn.
    concurrency
        Concurrent requests per replica of every cell.
    points
        Grid points per axis.

    Returns
    -------
    dict
        :class:`Feasibility` by hardware type; its arrays are read-only (shared by every session).
    """
    name, g = model_name, cfg.grid
    m = cfg.models[name]
    bytes_per_param = float(grid.weight_bytes.sel(model=name)) / (float(m.total_params_b) * 1e9)
    lo, hi = (float(v) for v in cfg.plots.feasibility_params_b)
    params_b = np.geomspace(lo, hi, points)
    isl = np.unique(np.rint(np.geomspace(g.isl_min, max(g.isl_max, 2_000_000), points)))
    size = xr.DataArray(params_b, dims="model_size_b", coords={"model_size_b": params_b})
    ds = model.evaluate(cfg, {f"models.{name}.total_params_b": size,
                              f"models.{name}.weight_gb": size * bytes_per_param,
                              f"models.{name}.active_params_b": min(1.0, lo),  # <= total; unused by memory
                              f"models.{name}.max_context": float(isl.max())},
                        isl=xr.DataArray(isl, dims="isl", coords={"isl": isl}),
                        concurrency=xr.DataArray(float(concurrency)), variables=["systems"], workers=1)
    out = {}
    for hw in hardware:
        systems = ds.systems.sel(model=name, hardware=hw).transpose("model_size_b", "isl")
        arrays = [isl.astype(float), params_b.copy(), systems.values.astype(float)]
        for a in arrays:
            a.flags.writeable = False  # shared by every session: nobody may change them
        out[hw] = Feasibility(hardware=hw, model=name, concurrency=int(concurrency), isl=arrays[0],
                              params_b=arrays[1], systems=arrays[2],
                              model_params_b=float(m.total_params_b), max_context=float(m.max_context))
    return out


