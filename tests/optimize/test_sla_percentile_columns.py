"""The optimizer's own re-derivation of sla.percentile (optimize.columns.at_sla_percentile, used where
the grid has been reduced over scenarios and for the aggregated columns' TTFT limit) judges a cell
as the kernel's ``meets_sla`` does (docs/model.md §10), attention-DP rank wait included."""
import numpy as np
import xarray as xr

import optimize
from model.evaluate import evaluate
from optimize.columns import CELL_ORDER, at_sla_percentile, cells
from optimize.inputs import bucket_grid, column_options

# DeepSeek-R1 on attention-DP B200 replicas at p99: the rank wait (S - 1) / (2 X) is part of the queue
DP_P99 = ["select.models=[deepseek_r1]", "select.hardware=[b200]", "hardware.b200.attention_data_parallel=true",
          "sla.percentile=p99", "sla.min_interactivity=1", "grid.isl_points=4", "grid.concurrency_max=512"]


def test_the_optimizer_spreads_the_rank_wait_as_the_kernel_does():
    """The grid's cells carry no TTFT limit (the columns apply it).  Take the limit halfway between
    the optimizer's p99 TTFTs with and without the rank wait spread, at the cell where they differ
    most; the kernel evaluated on the same cells with that ``sla.max_ttft_s`` meets the SLA exactly
    where the optimizer's p99 judgement with the rank wait does, and not at that cell, which the
    judgement without it would pass."""
    cfg = optimize.load_config(DP_P99)
    grid = bucket_grid(cfg)
    options = column_options(cfg, grid)
    assert options.data_parallel.all()
    inter, with_wait = at_sla_percentile(grid, options.sla_quantile, options.physical, options.data_parallel)
    _, without = at_sla_percentile(grid, options.sla_quantile, options.physical)
    feasible = cells(grid, "meets_sla")  # every feasible cell meets 1 tok/s
    gap = np.where(feasible, with_wait - without, 0.0)
    assert gap.max() > 0.05  # the spread rank wait is tens of ms at least somewhere
    where = np.unravel_index(np.argmax(gap), gap.shape)
    limit = float(0.5 * (with_wait[where] + without[where]))
    kernel = evaluate(optimize.load_config(DP_P99 + [f"sla.max_ttft_s={limit!r}"]), {},
                      isl=xr.DataArray(grid.bucket_isl.values, dims="bucket"),
                      concurrency=grid.concurrency.values, variables=["meets_sla"])
    judged = kernel.meets_sla.transpose(*CELL_ORDER).values
    ours = feasible & (inter >= 1) & (with_wait <= limit)
    np.testing.assert_array_equal(judged, ours)
    assert not judged[where] and ((without <= limit) & feasible)[where]
