"""The blocked evaluation: tiling, block sizes and threads do not change any number."""
import numpy as np
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

import model
from model.engine import blocks


@settings(max_examples=100, deadline=None)
@given(shape=st.lists(st.integers(1, 12), min_size=1, max_size=4), block=st.integers(1, 3000),
       whole=st.integers(0, 2))
def test_blocks_tile_the_grid_exactly_once(shape, block, whole):
    count = np.zeros(shape, dtype=int)
    for index in blocks(shape, block, whole_axes=whole):
        count[index] += 1
        for axis in range(len(shape) - whole, len(shape)):
            if axis >= 0:
                assert index[axis] == slice(None)
    assert (count == 1).all()


def test_block_size_and_threads_do_not_change_results(cfg):
    reference = model.evaluate(cfg, block_cells=1 << 14, workers=1)
    for block_cells, workers in [(1, 2), (1000, 2), (1 << 20, 1), (1 << 16, 2)]:
        other = model.evaluate(cfg, block_cells=block_cells, workers=workers)
        xr.testing.assert_identical(reference, other)


def test_every_variable_is_labelled(grid):
    for name, var in grid.variables.items():
        assert "units" in var.attrs and "long_name" in var.attrs, name
    assert set(grid.dims) == {"model", "hardware", "isl", "concurrency"}
    assert grid.isl.dtype.kind == "i" and grid.concurrency.dtype.kind == "i"
    assert list(grid.concurrency.values) == list(range(1, 1025))
    assert 96300 in grid.isl.values and grid.isl.min() == 4000 and grid.isl.max() == 1_000_000


def test_a_sample_dim_replaces_the_grid(cfg):
    """ISL and concurrency as DataArrays along 'sample' (a sensitivity design)."""
    isl = xr.DataArray([32000, 96300, 200000], dims="sample")
    n = xr.DataArray([8, 250, 1000], dims="sample")
    ds = model.evaluate(cfg, isl=isl, concurrency=n)
    assert ds.cost_per_mtok.dims == ("model", "hardware", "sample")
    for i in range(3):
        one = model.evaluate(cfg, isl=isl[i:i + 1].rename(sample="isl"),
                             concurrency=n[i:i + 1].rename(sample="concurrency"))
        np.testing.assert_array_equal(ds.cost_per_mtok.isel(sample=i).values,
                                      one.cost_per_mtok.isel(isl=0, concurrency=0).values)
