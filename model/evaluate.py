"""``evaluate``: the cost model of docs/model.md §2 over model × hardware × ISL × concurrency.

Terms that depend on few dims (weights, KV per request, S0, ...) are computed with xarray at
their own size; the per-cell terms run through :mod:`model.engine` in cache-sized blocks.
Every variable carries ``units`` and ``long_name``.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr
from omegaconf import DictConfig

from model import engine
from model.equations import cell_kernel
from model.errors import ConfigError
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
        variables of docs/model.md §2 (see :data:`VARIABLES`), each with ``units`` and ``long_name``.
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
    check_memory(result_bytes(sizes, wanted), float(config.grid.max_memory_fraction))
    cells = engine.run(cell_kernel, inputs, wanted, dims, sizes, block_cells, workers, progress)
    return assemble(config, p, cells, dims, lambda name: p[name])


# Bytes of the light (per model, hardware, ISL) terms are small; the per-cell outputs and the
# kernel's block temporaries are what a grid costs.
def result_bytes(sizes: Mapping[str, int], outputs: Mapping[str, Any]) -> int:
    """Bytes of the per-cell outputs of a grid of ``sizes``."""
    cells = int(np.prod([int(n) for n in sizes.values()], dtype=np.float64))
    return cells * sum(np.dtype(dtype).itemsize for dtype in outputs.values())


def available_memory() -> int:
    """Bytes of memory available now (Linux ``MemAvailable``; elsewhere free physical pages)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def check_memory(needed: int, fraction: float) -> None:
    """Refuse, before allocating, a result larger than ``fraction`` of the available memory.

    Raises
    ------
    ConfigError
        Naming the size and what to do instead (a lazy evaluation on dask, or a smaller grid).
    """
    available = available_memory()
    if needed > fraction * available:
        raise ConfigError("grid", f"{needed / 1e9:,.1f} GB",
                          f"the result would take more than grid.max_memory_fraction={fraction:g} of the "
                          f"{available / 1e9:,.1f} GB available: evaluate lazily (dask.enabled=true, or "
                          "evaluate(..., chunks={})) or use a smaller grid (grid.isl_points, grid.concurrency_max, "
                          "fewer ISL buckets)")
