"""The cheapest SLA-meeting concurrency: blocked reduction = argmin over the full grid."""
import numpy as np
import xarray as xr

import model
from model.cheapest import cheapest_concurrency, cheapest_under_sla


def test_blocked_reduction_equals_the_full_grid(cfg, grid):
    blocked = cheapest_under_sla(cfg, block_cells=3000)
    full = cheapest_concurrency(grid)
    xr.testing.assert_identical(blocked, full)
    # brute force: the least cost among SLA-meeting cells, and the lowest N reaching it
    masked = grid.cost_per_mtok.where(grid.meets_sla)
    xr.testing.assert_allclose(blocked.cost_per_mtok, masked.min("concurrency"), rtol=0)
    first = grid.concurrency.where(masked == masked.min("concurrency")).min("concurrency")
    xr.testing.assert_equal(blocked.concurrency, first.astype(float))
    best = grid.interactivity.where(grid.feasible).max("concurrency")
    xr.testing.assert_allclose(blocked.max_interactivity, best)
    assert (blocked.sla_met == grid.meets_sla.any("concurrency")).all()


def test_no_sla_cell_is_nan_not_a_number(cfg):
    cfg_fast = model.load_config(["sla.min_interactivity=5000"])
    best = cheapest_under_sla(cfg_fast)
    assert not best.sla_met.any() and best.cost_per_mtok.isnull().all() and best.concurrency.isnull().all()
    assert np.isfinite(best.max_interactivity.where(best.any_feasible)).sum() > 0


def test_sample_dim(cfg):
    isl = xr.DataArray([32000, 96300, 150000], dims="sample")
    prices = xr.DataArray([30.0, 41.96, 60.0], dims="sample")
    best = cheapest_under_sla(cfg, {"hardware.cerebras_wse3.price_per_hour": prices}, isl=isl)
    assert best.cost_per_mtok.dims == ("model", "hardware", "sample")
    full = model.evaluate(cfg, {"hardware.cerebras_wse3.price_per_hour": prices}, isl=isl)
    xr.testing.assert_identical(best, cheapest_concurrency(full))
