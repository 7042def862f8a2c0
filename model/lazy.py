"""Out-of-core evaluation: the cost model as a dask-backed Dataset, computed chunk by chunk.

:func:`evaluate_lazy` returns the Dataset of :func:`model.evaluate` (same variables, dims,
coordinates, dtypes and attributes) without computing it: every grid-sized variable is a dask
array, so a grid far larger than memory can be reduced, sampled or written to netCDF
(:func:`model.app.io.write_netcdf_chunked`) one chunk at a time, on threads or on a ``dask.distributed``
cluster (the app layer's :func:`model.app.cluster.dask_client`).

Each chunk of the grid runs :func:`model.equations.cell_kernel` once for all requested per-cell
outputs, into one float64 array with a leading "variable" axis; the per-variable arrays are
lazy slices of it.  Float outputs are the stored values, 8-byte integer outputs are
reinterpreted bit for bit (``view``), narrower ones (bool) are stored as 0/1 and cast back.
Inside a chunk the kernel runs in cache-sized sub-blocks (:data:`model.engine.BLOCK_CELLS`),
so large chunks (few dask tasks) cost no kernel speed.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr

from model import engine
from model.equations import cell_kernel
from model.errors import ConfigError
from model.parameters import parameters
from model.quantities import CELL_OUTPUTS
from model.results import assemble, cell_outputs, kernel_inputs
from model.schema import ModelConfig

CHUNK_CELLS = 1 << 19  # default cells per chunk: 4 MB per float64 variable


def resolve_chunks(dims: Sequence[str], sizes: Mapping[str, int],
                   chunks: Mapping[str, int | None] | None = None,
                   target_cells: int = CHUNK_CELLS) -> dict[str, tuple[int, ...]]:
    """Chunk lengths along every dim of the output grid, as dask chunk tuples.

    Parameters
    ----------
    dims
        Output dims in order (:func:`model.engine.output_dims`), fastest-varying last.
    sizes
        Length of every dim.
    chunks
        Requested chunk length by dim; ``-1`` or ``None`` means the whole dim.  Given lengths
        are kept exactly (the last chunk holds the remainder).
    target_cells
        Cells per chunk the defaults aim at.

    Returns
    -------
    dict
        Dim -> tuple of chunk lengths.  Dims not in ``chunks``, from the last dim backwards,
        are whole while the chunk stays within ``target_cells`` cells, the first one that does
        not fit is cut into even pieces, and any before it get 1.  ``model`` and ``hardware``
        are no exception: a grid of 100 ISLs x 1,024 concurrencies puts 5 hardware types in a
        chunk, 10 chunks for 5 x 7 instead of 35, and each chunk costs a distributed write
        (a file reopened under a cluster-wide lock per variable) — 35 % less time for the
        README's dask sweep.

    Raises
    ------
    ConfigError
        If ``chunks`` names a dim the grid does not have, or a length below 1.
    """
    chunks = dict(chunks or {})
    unknown = sorted(set(chunks) - set(dims))
    if unknown:
        raise ConfigError("chunks", dict(chunks), f"unknown dims {unknown}; the grid has {list(dims)}")
    out: dict[str, tuple[int, ...]] = {}
    inner = 1
    for dim in reversed(dims):
        n = sizes[dim]
        if dim in chunks:
            length = n if chunks[dim] in (None, -1) else int(chunks[dim])
            if length < 1:
                raise ConfigError(f"chunks.{dim}", chunks[dim], "must be >= 1, or -1 for the whole dim")
            length = min(length, max(n, 1))
        else:
            length = max(1, min(n, target_cells // inner))
            if n:
                length = -(-n // -(-n // length))  # same number of chunks, evened out
        out[dim] = da.core.normalize_chunks((length,), (n,))[0]
        inner *= length
    return {dim: out[dim] for dim in dims}


def _cell_block(template: np.ndarray, arrays: Mapping[str, np.ndarray], names: Sequence[str],
                block_info: dict | None = None) -> np.ndarray:
    """Run :func:`~model.equations.cell_kernel` on one chunk: all ``names`` stacked on axis 0.

    ``template`` only carries the chunk's shape; ``block_info`` its position in the grid, which
    selects the chunk's part of the expanded inputs ``arrays``.  Outputs as wide as float64
    (float64, int64) are written straight into their row through a view, so they survive bit for
    bit; narrower ones (bool) are written to a scratch array and copied in as 0.0 / 1.0.  The
    kernel runs in sub-blocks of :data:`model.engine.BLOCK_CELLS` cells so its temporaries stay
    in cache.
    """
    location = block_info[0]["array-location"]
    shape = template.shape
    chunk_inputs = {k: engine.slice_input(a, tuple(slice(lo, hi) for lo, hi in location))
                    for k, a in arrays.items()}
    stacked = np.empty((len(names), *shape), dtype=np.float64)
    for index in engine.blocks(shape, engine.BLOCK_CELLS):
        views, narrow = {}, []
        for row, name in zip(stacked, names):
            dtype = np.dtype(CELL_OUTPUTS[name])
            target = row[index]
            if dtype.itemsize == target.itemsize:
                views[name] = target.view(dtype)
            else:
                views[name] = np.empty(target.shape, dtype=dtype)
                narrow.append((target, views[name]))
        cell_kernel({k: engine.slice_input(a, index) for k, a in chunk_inputs.items()}, views)
        for target, values in narrow:
            target[...] = values
    return stacked


def cell_arrays(inputs: Mapping[str, xr.DataArray], names: Sequence[str], dims: Sequence[str],
                chunks: Mapping[str, tuple[int, ...]]) -> dict[str, da.Array]:
    """Lazy per-cell outputs ``names`` on the grid ``dims``, one kernel call per chunk.

    Parameters
    ----------
    inputs
        Kernel inputs (:func:`model.evaluate.kernel_inputs`), dims subsets of ``dims``.
    names
        Keys of :data:`model.evaluate.CELL_OUTPUTS` to compute.
    dims
        Output dims in order.
    chunks
        Chunk tuples by dim (:func:`resolve_chunks`).

    Returns
    -------
    dict
        Name -> dask array of the grid's shape (``sum(chunks[d])`` along each dim in ``dims``),
        chunked as ``chunks``, with the dtype of :data:`model.results.CELL_OUTPUTS`.  All of them
        slice one stacked float64 array, so
        computing several of them together runs each chunk's kernel once.
    """
    names = tuple(names)
    if not names:
        return {}
    grid_chunks = tuple(chunks[d] for d in dims)
    shape = tuple(sum(c) for c in grid_chunks)
    # One graph node holds the (small) expanded inputs; every chunk task depends on it, so a
    # distributed cluster ships them once per worker rather than once per task.
    arrays = dask.delayed({k: engine.expand(v, dims) for k, v in inputs.items()}, pure=True)
    template = da.empty(shape, chunks=grid_chunks, dtype=bool)
    stacked = da.map_blocks(_cell_block, template, arrays, names, new_axis=0,
                            chunks=((len(names),), *grid_chunks), dtype=np.float64,
                            meta=np.empty((0,) * (len(dims) + 1), dtype=np.float64),
                            token="cell-kernel")
    out = {}
    for i, name in enumerate(names):
        dtype = np.dtype(CELL_OUTPUTS[name])
        row = stacked[i]
        if dtype == row.dtype:
            out[name] = row
        elif dtype.itemsize == row.dtype.itemsize:
            out[name] = row.view(dtype)
        else:
            out[name] = row.astype(dtype)
    return out


def evaluate_lazy(config: ModelConfig, params: Mapping[str, Any] | None = None, *,
                  isl: Any = None, concurrency: Any = None, variables: Any = None,
                  chunks: Mapping[str, int | None] | None = None) -> xr.Dataset:
    """Evaluate the cost model lazily: :func:`model.evaluate`'s Dataset, dask-backed.

    Parameters
    ----------
    config
        Validated config from :func:`model.load_config`.
    params
        Replacements by dotted config key, numbers or DataArrays along extra dims (as in
        :func:`model.evaluate`).
    isl, concurrency
        Replace the grid's ISL or concurrency values (e.g. a DataArray along ``sample``).
    variables
        Per-cell variables to compute (default: all of them).
    chunks
        Chunk length by dim (``-1`` for the whole dim).  Dims left out: 1 along ``model`` and
        ``hardware``, and about :data:`CHUNK_CELLS` cells per chunk along the others (see
        :func:`resolve_chunks`).

    Returns
    -------
    xarray.Dataset
        Equal to ``model.evaluate(config, params, isl=..., concurrency=..., variables=...)``
        once computed, with the same variables, dims, coordinates, dtypes and attributes.
        Every data variable is a dask array chunked as ``chunks``; only the parameters (sizes
        of the inputs, not of the grid) are computed eagerly.

    Raises
    ------
    ConfigError
        If ``chunks`` names an unknown dim or a length below 1.
    """
    p = parameters(config, params, isl=isl, concurrency=concurrency)
    inputs = kernel_inputs(p)
    dims, sizes = engine.output_dims(inputs)
    grid_chunks = resolve_chunks(dims, sizes, chunks)
    cells = cell_arrays(inputs, cell_outputs(p, variables), dims, grid_chunks)

    def lazy(name: str) -> xr.DataArray:
        var = p[name]  # small: dims among the grid's, chunked like the grid (0-d too)
        return var.copy(data=da.from_array(np.asarray(var.values),
                                           chunks=tuple(grid_chunks.get(d, -1) for d in var.dims)))

    return assemble(config, p, cells, dims, lazy)
