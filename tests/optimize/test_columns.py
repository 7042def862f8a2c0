"""Candidate columns: dominance pruning by hand, and pruning never changes the optimum."""
import numpy as np
import pytest

import optimize
from optimize.columns import Columns, candidate_columns
from optimize.constants import SolveStatus
from optimize.coverage import CoverageMatrix
from optimize.fleet import plan_fleet
from optimize.inputs import bucket_grid, demand_by_model, demand_rows
from optimize.pruning import prune_dominated


def test_prune_dominated_by_hand():
    """Same (model, bucket, hardware): (systems, rps) = (4, 5), (6, 8), (6, 4), (4, 5), (8, 8):
    (6, 4) is dominated by (6, 8) and by (4, 5); the second (4, 5) by the first; (8, 8) by (6, 8)."""
    cols = Columns.from_arrays(model=np.zeros(5, int), bucket=np.zeros(5, int), hardware=np.zeros(5, int),
                               concurrency=np.arange(5), row=np.zeros(5, int),
                               requests_per_second=np.array([5.0, 8, 4, 5, 8]), systems=np.array([4.0, 6, 6, 4, 8]),
                               cost_per_hour=np.ones(5), interactivity=np.ones(5))
    assert sorted(prune_dominated(cols).concurrency.tolist()) == [0, 1]


def test_pruning_keeps_the_optimum():
    cfg = optimize.load_config(["sla.min_interactivity=100", "fleet.isl.kind=lognormal", "fleet.isl.median=32000",
                                "fleet.isl.sigma=0.6", "fleet.isl.buckets=4", "fleet.solver.mip_rel_gap=0"])
    grid = bucket_grid(cfg)
    pruned, full = plan_fleet(cfg, prune=True, grid=grid), plan_fleet(cfg, prune=False, grid=grid)
    assert pruned.status == full.status == SolveStatus.optimal
    assert pruned.pruned_columns > 0.5 * pruned.columns and full.pruned_columns == 0
    assert pruned.totals.cost_per_hour == pytest.approx(full.totals.cost_per_hour, rel=1e-9)
    assert pruned.totals.systems == full.totals.systems
    # with three column kinds the optimum has ties (a decode column at another N of the same replica
    # size, one aggregated replica against a prefill + decode pair of the same $/hour): the plans
    # may differ in which tied columns they buy, not in cost


def test_columns_know_their_demand_row(ocfg):
    """Every column serves the demand row of its own (model, bucket), and covers it by
    utilization x its requests/s."""
    grid = bucket_grid(ocfg)
    rows = demand_rows(grid, demand_by_model(ocfg))
    cols = candidate_columns(grid, rows)
    assert len(cols) > 0
    assert (rows.model[cols.row] == cols.model).all() and (rows.bucket[cols.row] == cols.bucket).all()
    meets = grid.meets_sla.transpose("model", "bucket", "hardware", "concurrency").values
    level = np.searchsorted(grid.concurrency.values, cols.concurrency)
    assert meets[cols.model, cols.bucket, cols.hardware, level].all()
    cover = CoverageMatrix.of(cols, 0.8, np.full(len(rows), np.inf)).milp_rows(rows.requests_per_second).coverage
    assert cover.row.tolist() == cols.row.tolist() and cover.column.tolist() == list(range(len(cols)))
    assert cover.coefficient == pytest.approx(0.8 * cols.requests_per_second)
