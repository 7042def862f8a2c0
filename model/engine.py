"""Blocked broadcasting: run an elementwise kernel over a labelled grid in cache-sized blocks.

Inputs are DataArrays whose dims are subsets of the output dims.  The output is cut along its
leading dims into blocks of about ``block_cells`` cells; the kernel sees each input sliced to
the block (still broadcastable, size-1 where the input lacks a dim), so its temporaries stay in
cache instead of being built at full grid size.  Blocks run on a thread pool: numpy releases the
GIL inside its loops.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import DTypeLike

BLOCK_CELLS = 1 << 16  # 512 KB per float64 temporary: a few of them stay in L2/L3

Kernel = Callable[[Mapping[str, np.ndarray], Mapping[str, np.ndarray]], None]


def output_dims(inputs: Mapping[str, xr.DataArray], leading: Sequence[str] = ("model", "hardware"),
                trailing: Sequence[str] = ("isl", "concurrency")) -> tuple[tuple[str, ...], dict[str, int]]:
    """Union of the inputs' dims, ordered: ``leading``, then any extra dims, then ``trailing``.

    The last dims vary fastest, so the long concurrency axis is contiguous.
    """
    sizes: dict[str, int] = {}
    for name, da in inputs.items():
        for key, n in da.sizes.items():
            dim = str(key)
            if sizes.setdefault(dim, n) != n:
                raise ValueError(f"input {name!r}: dim {dim!r} has size {n}, expected {sizes[dim]}")
    extra = [d for d in sizes if d not in leading and d not in trailing]
    dims = tuple(d for d in leading if d in sizes) + tuple(extra) + tuple(d for d in trailing if d in sizes)
    return dims, sizes


def expand(da: xr.DataArray, dims: Sequence[str]) -> np.ndarray:
    """``da``'s values transposed to ``dims`` order, with size-1 axes for the dims it lacks."""
    present = [d for d in dims if d in da.dims]
    data = np.asarray(da.transpose(*present).values)
    return data.reshape([da.sizes[d] if d in da.dims else 1 for d in dims])


def blocks(shape: Sequence[int], block_cells: int = BLOCK_CELLS, whole_axes: int = 1
           ) -> Iterator[tuple[slice, ...]]:
    """Index tuples (slices keeping every axis) tiling ``shape`` in blocks of ~``block_cells``.

    The last ``whole_axes`` axes are never cut (a reduction along them stays inside a block).
    """
    shape = tuple(shape)
    k, inner = len(shape), 1
    while k > 0 and (len(shape) - k < whole_axes or inner * shape[k - 1] <= block_cells):
        inner *= shape[k - 1]
        k -= 1
    if k == 0:
        yield tuple(slice(None) for _ in shape)
        return
    axis = k - 1
    per_block = max(1, block_cells // inner)
    n_chunks = -(-shape[axis] // per_block)
    per_block = -(-shape[axis] // n_chunks)  # even chunks
    for lead in np.ndindex(*shape[:axis]):
        head = tuple(slice(i, i + 1) for i in lead)
        for start in range(0, shape[axis], per_block):
            yield head + (slice(start, min(start + per_block, shape[axis])),) + \
                tuple(slice(None) for _ in shape[axis + 1:])


def slice_input(arr: np.ndarray, index: tuple[slice, ...]) -> np.ndarray:
    """The part of an expanded input that a block ``index`` sees (size-1 axes kept whole)."""
    return arr[tuple(s if n > 1 else slice(None) for s, n in zip(index, arr.shape))]


Progress = Callable[[int, int], None]  # (blocks done, blocks in all)


def run(kernel: Kernel, inputs: Mapping[str, xr.DataArray], outputs: Mapping[str, DTypeLike],
        dims: Sequence[str], sizes: Mapping[str, int], block_cells: int = BLOCK_CELLS,
        workers: int | None = None, progress: Progress | None = None) -> dict[str, np.ndarray]:
    """Evaluate ``kernel`` over the full grid ``dims`` and return one array per output.

    The kernel receives the inputs and the output views of one block and fills the views.
    """
    shape = tuple(sizes[d] for d in dims)
    arrays = {k: expand(v, dims) for k, v in inputs.items()}
    results = {k: np.empty(shape, dtype=dt) for k, dt in outputs.items()}

    def one(index: tuple[slice, ...]) -> None:
        kernel({k: slice_input(a, index) for k, a in arrays.items()},
               {k: r[index] for k, r in results.items()})

    _map(one, list(blocks(shape, block_cells)), workers, progress)
    return results


def reduce(kernel: Kernel, reducer: Callable[[Mapping[str, np.ndarray]], Mapping[str, np.ndarray]],
           inputs: Mapping[str, xr.DataArray], outputs: Mapping[str, DTypeLike],
           reduced: Mapping[str, DTypeLike], dims: Sequence[str], sizes: Mapping[str, int],
           block_cells: int = BLOCK_CELLS, workers: int | None = None,
           progress: Progress | None = None) -> dict[str, np.ndarray]:
    """Evaluate ``kernel`` block by block and keep only ``reducer``'s result along the last dim.

    Nothing of full grid size is ever allocated: a grid of 10^8 cells reduces in the memory of
    a few blocks.  ``reducer`` maps the block's outputs to arrays with the last axis removed.
    """
    shape = tuple(sizes[d] for d in dims)
    arrays = {k: expand(v, dims) for k, v in inputs.items()}
    results = {k: np.empty(shape[:-1], dtype=dt) for k, dt in reduced.items()}

    def one(index: tuple[slice, ...]) -> None:
        block_shape = tuple(len(range(*s.indices(n))) for s, n in zip(index, shape))
        scratch = {k: np.empty(block_shape, dtype=dt) for k, dt in outputs.items()}
        kernel({k: slice_input(a, index) for k, a in arrays.items()}, scratch)
        for k, value in reducer(scratch).items():
            results[k][index[:-1]] = value

    _map(one, list(blocks(shape, block_cells, whole_axes=1)), workers, progress)
    return results


def _map(func: Callable[..., None], items: list[Any], workers: int | None, progress: Progress | None = None) -> None:
    workers = workers or min(os.cpu_count() or 1, 8)
    total = len(items)
    if workers == 1:
        for done, item in enumerate(items, 1):
            func(item)
            if progress:
                progress(done, total)
        return
    with ThreadPoolExecutor(workers) as pool:
        for done, _ in enumerate(pool.map(func, items), 1):  # re-raises the first error of any block
            if progress:
                progress(done, total)
