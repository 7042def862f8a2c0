"""The cheapest concurrency that meets the SLA: an exact masked argmin over concurrency.

One reduction, two entry points: :func:`cheapest_concurrency` on an evaluated Dataset, and
:func:`cheapest_under_sla`, which evaluates block by block and keeps only the reduction, so a
grid far larger than memory (10^8 cells of a sensitivity design) reduces in constant memory.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from model import engine
from model.equations import cell_kernel
from model.parameters import parameters
from model.results import kernel_inputs, label_coords
from model.schema import ModelConfig

# what the reduction reads from each cell, and what it returns per (everything but concurrency)
CELL_INPUTS = {"cost_per_mtok": np.float64, "interactivity": np.float64, "ttft": np.float64, "systems": np.int64,
               "meets_sla": np.bool_, "feasible": np.bool_}
REDUCED = {"cost_per_mtok": np.float64, "concurrency_index": np.int64, "interactivity": np.float64,
           "ttft": np.float64, "systems": np.float64, "sla_met": np.bool_, "any_feasible": np.bool_,
           "max_interactivity": np.float64, "min_ttft": np.float64}
ATTRS = {
    "cost_per_mtok": ("$/Mtok", "least cost_per_mtok over concurrency among cells meeting the SLA"),
    "concurrency": ("requests", "concurrency with the least cost_per_mtok meeting the SLA (ties: lowest)"),
    "interactivity": ("tok/s", "interactivity at that concurrency"),
    "ttft": ("s", "time to first token at that concurrency"),
    "systems": ("systems", "systems per replica at that concurrency"),
    "sla_met": ("1", "some concurrency meets the SLA"),
    "any_feasible": ("1", "some concurrency can be served (buildable, ISL within context)"),
    "max_interactivity": ("tok/s", "best interactivity over feasible concurrencies (NaN: none feasible)"),
    "min_ttft": ("s", "least time to first token over feasible concurrencies (NaN: none feasible)"),
}


def reduce_concurrency(cells: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Masked argmin of ``cost_per_mtok`` over the last axis where ``meets_sla``."""
    ok = cells["meets_sla"]
    cost = np.where(ok, cells["cost_per_mtok"], np.inf)
    index = cost.argmin(axis=-1)
    found = ok.any(axis=-1)

    def at_best(a: np.ndarray) -> np.ndarray:
        return np.take_along_axis(a, index[..., None], axis=-1)[..., 0]

    feasible = cells["feasible"]
    any_feasible = feasible.any(axis=-1)
    best_rate = np.where(feasible, cells["interactivity"], -np.inf).max(axis=-1)
    least_ttft = np.where(feasible, cells["ttft"], np.inf).min(axis=-1)
    return {
        "cost_per_mtok": np.where(found, at_best(cells["cost_per_mtok"]), np.nan),
        "concurrency_index": index,
        "interactivity": np.where(found, at_best(cells["interactivity"]), np.nan),
        "ttft": np.where(found, at_best(cells["ttft"]), np.nan),
        "systems": np.where(found, at_best(cells["systems"]), np.nan),
        "sla_met": found,
        "any_feasible": any_feasible,
        "max_interactivity": np.where(any_feasible, best_rate, np.nan),
        "min_ttft": np.where(any_feasible, least_ttft, np.nan),
    }


def _to_dataset(reduced: Mapping[str, np.ndarray], dims: tuple[str, ...], coords: dict[str, Any],
                levels: np.ndarray) -> xr.Dataset:
    data = dict(reduced)
    index = data.pop("concurrency_index")
    data["concurrency"] = np.where(data["sla_met"], levels[index], np.nan)
    ds = xr.Dataset({k: (dims, v) for k, v in data.items()}, coords=coords)
    for name, (units, long_name) in ATTRS.items():
        ds[name].attrs.update(units=units, long_name=long_name)
    return label_coords(ds[list(ATTRS)])


def cheapest_concurrency(ds: xr.Dataset, dim: str = "concurrency") -> xr.Dataset:
    """:func:`reduce_concurrency` on a Dataset from :func:`model.evaluate` (along ``dim``)."""
    cells = {k: ds[k].transpose(..., dim).values for k in CELL_INPUTS}
    dims = tuple(d for d in ds[list(CELL_INPUTS)].transpose(..., dim).cost_per_mtok.dims if d != dim)
    coords = {d: ds[d] for d in dims if d in ds.coords}
    return _to_dataset(reduce_concurrency(cells), dims, coords, ds[dim].values)


def cheapest_under_sla(config: ModelConfig, params: Mapping[str, Any] | None = None, *,
                       isl: Any = None, concurrency: Any = None,
                       block_cells: int = engine.BLOCK_CELLS, workers: int | None = None,
                       progress: engine.Progress | None = None) -> xr.Dataset:
    """Evaluate the cost model and keep, per cell but concurrency, the cheapest SLA-meeting one.

    Same inputs as :func:`model.evaluate`; ``concurrency`` must stay a grid dim named
    ``concurrency``.  Nothing of full grid size is allocated.

    Returns
    -------
    xarray.Dataset
        ``cost_per_mtok``, ``concurrency``, ``interactivity``, ``systems`` at the optimum (NaN
        where none meets the SLA), ``sla_met``, ``any_feasible`` and ``max_interactivity``.
    """
    p = parameters(config, params, isl=isl, concurrency=concurrency)
    inputs = kernel_inputs(p)
    dims, sizes = engine.output_dims(inputs)
    if dims[-1] != "concurrency":
        raise ValueError(f"cheapest_under_sla needs a 'concurrency' grid dim; got dims {dims}")
    reduced = engine.reduce(cell_kernel, reduce_concurrency, inputs, CELL_INPUTS, REDUCED,
                            dims, sizes, block_cells, workers, progress)
    coords = {d: p[d] for d in dims[:-1] if d in p.coords}
    return _to_dataset(reduced, dims[:-1], coords, p.concurrency.values)
