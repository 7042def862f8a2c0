"""The labelled columns and their one coverage matrix: the MILP's rows, what bought replicas serve
(the plan table and the robust check read it), and the labels kept from the grid to the plan."""
import numpy as np
import pytest

from optimize.columns import Columns, candidate_columns, concat
from optimize.constants import PHASE_CODE, Phase
from optimize.coverage import CoverageMatrix
from optimize.fleet import plan_fleet
from optimize.inputs import bucket_grid, column_options, demand_by_model, demand_rows
from optimize.plan import PLAN_ORDER
from optimize.ttft import ttft_filter


def columns(kind, hardware, capacity, ttft=None, t_kv=None):
    n = len(hardware)
    return Columns.from_arrays(model=np.zeros(n, int), bucket=np.zeros(n, int), hardware=np.asarray(hardware),
                               concurrency=np.zeros(n, int), kind=np.full(n, PHASE_CODE[kind]), row=np.zeros(n, int),
                               requests_per_second=np.asarray(capacity, float), systems=np.ones(n),
                               cost_per_hour=np.ones(n), interactivity=np.ones(n),
                               ttft=np.full(n, np.nan) if ttft is None else np.asarray(ttft),
                               t_kv=np.full(n, np.nan) if t_kv is None else np.asarray(t_kv),
                               levels={"hardware": ["wafer", "gpu", "prefill_gpu"]})


@pytest.fixture(scope="module")
def tiered():
    """TTFT limit 1 s.  Prefill P1 (TTFT_p 0.3 s) and P2 (0.8 s), 2 req/s each, a_p = 0.05 s; decode
    D1 (a_d = 0.5 s: allowance 0.5 s, P1 only) and D2 (a_d = 0.1 s: P1 or P2), 4 req/s each; an
    aggregated column of 1 req/s.  Levels P1 1, P2 2; tiers D1 1, D2 2."""
    agg = columns(Phase.aggregated, [0], [1.0])
    pre = columns(Phase.prefill, [2, 2], [2.0, 2.0], ttft=[0.3, 0.8], t_kv=[0.05, 0.05])
    dec = columns(Phase.decode, [0, 1], [4.0, 4.0], t_kv=[0.5, 0.1])
    pre, dec = ttft_filter(pre, dec, np.array([1.0]))
    return concat(agg, pre, dec)


def test_served_is_the_tiered_max_flow_by_hand(tiered):
    """Columns (agg, P1, P2, D1, D2) at utilization 1.  Replicas (0, 0, 4, 1, 1): 8 req/s of each
    phase, yet D1 may use P1 only, so the least cut is P_{<=1} + C_2 = 0 + 4 = 4 req/s (a check
    of min(decode, prefill) would say 8).  (1, 2, 2, 1, 1): cuts min(8, 4 + 4, 8 + 0) = 8, plus 1
    aggregated = 9.  Per scenario (a trailing dim of capacities) it is the same, scenario by scenario."""
    matrix = CoverageMatrix.of(tiered, 1.0, np.array([1.0]))
    assert matrix.level.tolist() == [0, 1, 2, 0, 0] and matrix.tier.tolist() == [0, 0, 0, 1, 2]
    starved, fed = np.array([0, 0, 4, 1, 1]), np.array([1, 2, 2, 1, 1])
    assert matrix.disaggregated(starved).tolist() == [4.0]
    assert matrix.served(fed).tolist() == [9.0]
    # scenario 2: P1 carries half, so D1 gets 2 req/s of it: min(8, 2 + 4, 6 + 0) = 6, plus 1
    by_scenario = np.stack([matrix.capacity, matrix.capacity * np.array([1, 0.5, 1, 1, 1])], axis=1)
    assert matrix.served(fed, by_scenario).tolist() == [[9.0, 7.0]]
    # without the TTFT limit there is one tier: the starved plan serves min(8, 8)
    assert CoverageMatrix.of(tiered, 1.0, np.array([np.inf])).disaggregated(starved).tolist() == [8.0]


def test_milp_rows_and_served_agree(tiered):
    """The demand row of the MILP holds for (replicas, flows) iff the flows fit the capacity and Hall
    rows; for the tiered instance the largest flows the rows admit serve what ``served`` says."""
    matrix = CoverageMatrix.of(tiered, 1.0, np.array([1.0]))
    cover = matrix.milp_rows(np.array([9.0]))
    assert cover.flows == 2 and cover.flow_tier.tolist() == [1, 2]
    dense = np.zeros((len(cover.demand), len(tiered) + cover.flows))
    np.add.at(dense, (cover.coverage.row, cover.coverage.column), cover.coverage.coefficient)
    x = np.array([1, 2, 2, 1, 1], float)
    z = np.array([4.0, 4.0])  # D1 fed by P1's 4 req/s, D2 by P2's
    lhs = dense @ np.concatenate([x, z])
    assert (lhs >= cover.demand).all() and lhs[0] == matrix.served(x.astype(int))[0] == 9.0


def test_columns_keep_the_grid_labels_to_the_plan(ocfg):
    """Every candidate column's labels are the grid's coordinates at its cell, and a plan's rows are
    its chosen columns' labels, row for row, with the coverage matrix of those columns in that order:
    the bought replicas serve every demand row."""
    grid = bucket_grid(ocfg)
    rows = demand_rows(grid, demand_by_model(ocfg))
    cols = candidate_columns(grid, rows, column_options(ocfg, grid))
    labels = cols.labels()
    assert set(labels.phase) == {"aggregated", "prefill", "decode"}
    assert (labels.model.to_numpy() == grid.model.values[cols.model]).all()
    assert (labels.bucket_isl.to_numpy() == grid.bucket_isl.values[cols.bucket]).all()
    assert (labels.hardware.to_numpy() == grid.hardware.values[cols.hardware]).all()
    plan = plan_fleet(ocfg, grid=grid)
    chosen = plan.assignment
    assert chosen.columns.labels()[PLAN_ORDER].astype(str).equals(plan.plan[PLAN_ORDER].astype(str))
    served = chosen.coverage.served(plan.plan.replicas.to_numpy())
    assert (served >= rows.requests_per_second * (1 - 1e-9)).all()
