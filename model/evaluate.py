"""``evaluate``: the cost model of SPEC §2 over model × hardware × ISL × concurrency.

Terms that depend on few dims (weights, KV per request, S0, ...) are computed with xarray at
their own size; the per-cell terms run through :mod:`model.engine` in cache-sized blocks.
Every variable carries ``units`` and ``long_name``.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import xarray as xr
from omegaconf import DictConfig

from model import engine
from model.equations import cell_kernel
from model.parameters import parameters
from model.results import VARIABLES, assemble, cell_outputs, kernel_inputs

__all__ = ["evaluate", "VARIABLES"]


def evaluate(config: DictConfig, params: Mapping[str, Any] | None = None, *,
             isl: Any = None, concurrency: Any = None, variables: Any = None,
             block_cells: int = engine.BLOCK_CELLS, workers: int | None = None,
             chunks: Mapping[str, int] | None = None,
             progress: engine.Progress | None = None) -> xr.Dataset:
    """Evaluate the cost model on the config's grid.

    Parameters
    ----------
    config
        Validated config from :func:`model.load_config`.
    params
        Replacements by dotted config key (``hardware.<name>.<field>``, ``models.<name>.<field>``,
        ...), numbers or DataArrays along extra dims, which every output then carries.
    isl, concurrency
        Replace the grid's ISL or concurrency values (e.g. a DataArray along ``sample``).
    variables
        Per-cell variables to compute (default: all of them).
    block_cells, workers, progress
        Block size in cells, thread count and a ``(done, total)`` block callback of the blocked
        evaluation (unused with ``chunks``).
    chunks
        If given, evaluate lazily (:func:`model.lazy.evaluate_lazy`): chunk length by dim
        (``-1`` for the whole dim, ``{}`` for the defaults), and every variable is returned as
        a dask array, computed only when asked for (``.compute()``, a reduction, a write).

    Returns
    -------
    xarray.Dataset
        Dims ``model``, ``hardware``, ``isl``, ``concurrency`` (plus any from ``params``); the
        variables of SPEC §2 (see :data:`VARIABLES`), each with ``units`` and ``long_name``.
        Cells that cannot be served have ``feasible == False`` and NaN rates and costs.
        In memory, or dask-backed with the same contents when ``chunks`` is given.
    """
    if chunks is not None:
        from model.lazy import evaluate_lazy  # dask is an optional extra: imported when asked for

        return evaluate_lazy(config, params, isl=isl, concurrency=concurrency,
                             variables=variables, chunks=chunks)
    p = parameters(config, params, isl=isl, concurrency=concurrency)
    wanted = cell_outputs(p, variables)
    inputs = kernel_inputs(p)
    dims, sizes = engine.output_dims(inputs)
    cells = engine.run(cell_kernel, inputs, wanted, dims, sizes, block_cells, workers, progress)
    return assemble(config, p, cells, dims, lambda name: p[name])


