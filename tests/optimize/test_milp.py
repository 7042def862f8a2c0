"""The covering MILP: optima against brute force, generic coverage coefficients, the elastic
variant, and a time-limited run's incumbent."""
import itertools

import numpy as np
import pytest

from optimize.constants import SolveStatus
from optimize.milp import Coverage, build_model, solve_model


def brute_force(cost, capacity, row, demand, systems, hardware, inventory, top=12):
    best = np.inf
    for x in itertools.product(range(top + 1), repeat=len(cost)):
        x = np.array(x)
        if any(capacity[row == r] @ x[row == r] < demand[r] - 1e-9 for r in range(len(demand))):
            continue
        if any(systems[hardware == h] @ x[hardware == h] > inventory[h] for h in range(len(inventory))):
            continue
        best = min(best, float(cost @ x))
    return best


@pytest.mark.parametrize("seed", range(25))
def test_random_instances_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, rows = rng.integers(2, 5), rng.integers(1, 3)
    row = np.concatenate([np.arange(rows), rng.integers(0, rows, n - rows)])
    capacity = rng.uniform(0.5, 4, n).round(2)
    cost = rng.uniform(1, 10, n).round(2)
    systems = rng.integers(1, 5, n).astype(float)
    hardware = rng.integers(0, 2, n)
    demand = rng.uniform(1, 8, rows).round(2)
    inventory = np.array([rng.choice([np.inf, rng.integers(5, 30)]), np.inf])
    expected = brute_force(cost, capacity, row, demand, systems, hardware, inventory)
    model = build_model(cost, Coverage.one_row_per_column(row, capacity), demand, systems, hardware, inventory)
    result = solve_model(model, mip_rel_gap=0.0)
    if np.isinf(expected):
        assert result.status == SolveStatus.infeasible
    else:
        assert result.status == SolveStatus.optimal
        assert result.objective == pytest.approx(expected, abs=1e-6)
        assert float(cost @ result.replicas) == pytest.approx(expected, abs=1e-6)


def test_coverage_triplets_may_link_rows():
    """The seam for docs/model.md §9's columns: column 0 (decode-like, $5) carries 2 req/s of row 0 and
    draws 1 unit from row 1; column 1 (prefill-like, $1) supplies 3 units of row 1 (demand 0).
    Demand 10 needs 5 of column 0, which need ceil(5 / 3) = 2 of column 1: $27."""
    coverage = Coverage(row=np.array([0, 1, 1]), column=np.array([0, 0, 1]), coefficient=np.array([2.0, -1.0, 3.0]))
    model = build_model(np.array([5.0, 1.0]), coverage, np.array([10.0, 0.0]), np.ones(2), np.zeros(2, int),
                        np.array([np.inf]))
    result = solve_model(model, mip_rel_gap=0.0)
    assert result.status == SolveStatus.optimal
    assert result.replicas.tolist() == [5, 2] and result.objective == pytest.approx(27)


def test_elastic_solve_measures_the_shortfall():
    """One row of 10 req/s, one column of 1 req/s on one system, 4 systems available: 6 unmet."""
    problem = {"cost": np.array([1.0]), "coverage": Coverage.one_row_per_column(np.array([0]), np.array([1.0])),
               "demand": np.array([10.0]), "systems": np.array([1.0]), "hardware": np.array([0]),
               "inventory": np.array([4.0])}
    assert solve_model(build_model(**problem)).status == SolveStatus.infeasible
    elastic = solve_model(build_model(**problem, elastic=True))
    assert elastic.status == SolveStatus.optimal
    assert elastic.replicas.tolist() == [4] and elastic.shortfall == pytest.approx([6.0])


def test_time_limited_run_returns_its_incumbent():
    """A hard random covering instance (5,000 columns, 40 rows) stopped after 2 s."""
    rng = np.random.default_rng(0)
    n, rows = 5000, 40
    row = rng.integers(0, rows, n)
    capacity = rng.uniform(0.1, 5, n)
    cost = capacity * rng.uniform(8, 12, n)
    model = build_model(cost, Coverage.one_row_per_column(row, capacity), rng.uniform(10, 50, rows), np.ones(n),
                        np.zeros(n, int), np.array([np.inf]))
    result = solve_model(model, time_limit=2.0, mip_rel_gap=0.0)
    assert result.status == SolveStatus.time_limit
    assert result.replicas is not None and result.mip_gap > 0
