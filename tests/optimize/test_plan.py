"""The plan table and totals from replicas (assign_solution), the typed totals behind plan.json,
and the named constructors of FleetPlan."""
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from optimize.columns import Columns
from optimize.constants import SolveStatus
from optimize.coverage import CoverageMatrix
from optimize.inputs import DemandRows
from optimize.plan import Assignment, FleetPlan, FleetTotals, assign_solution

SOLVED_KEYS = ["cost_per_hour", "systems", "tokens_per_second", "cost_per_mtok", "cost_per_hour_by_phase",
               "systems_by_phase", "target_utilization"]
SUMMARY_KEYS = ["status", "totals", "mip_gap", "build_seconds", "solve_seconds", "columns", "pruned_columns",
                "shortfalls", "notes", "columns_by_phase"]


def test_assign_solution_by_hand():
    """Model a (4 req/s) buys 2 replicas of column 0 (2.5 req/s, 2 systems of x, $10/h) and
    none of column 1; model b (1 req/s) buys 1 of column 2 (2 req/s, 1 system of y, $3/h).
    Both buckets carry 1,000 tokens per request: $23/h over 5,000 tok/s = $23 / 18 Mtok."""
    grid = xr.Dataset(coords={"model": ["a", "b"], "bucket": [0], "bucket_isl": ("bucket", [900]),
                              "bucket_weight": ("bucket", [1.0])})
    rows = DemandRows(model=np.array([0, 1]), bucket=np.array([0, 0]), requests_per_second=np.array([4.0, 1.0]),
                      tokens_per_request=np.array([1000.0, 1000.0]), row_of_cell=np.array([[0], [1]]))
    cols = Columns.from_arrays(model=np.array([0, 0, 1]), bucket=np.zeros(3, int), hardware=np.array([0, 1, 1]),
                               concurrency=np.array([8, 16, 4]), row=np.array([0, 0, 1]),
                               requests_per_second=np.array([2.5, 5.0, 2.0]), systems=np.array([2.0, 4.0, 1.0]),
                               cost_per_hour=np.array([10.0, 30.0, 3.0]), interactivity=np.array([100.0, 50.0, 200.0]),
                               levels={"model": ["a", "b"], "bucket_isl": [900], "hardware": ["x", "y"]})
    matrix = CoverageMatrix.of(cols, 0.8, np.full(2, np.inf))
    assigned = assign_solution(np.array([2, 0, 1]), cols, matrix, rows, grid)
    plan, totals = assigned.plan, assigned.totals
    assert plan[["model", "hardware", "concurrency", "replicas", "systems"]].values.tolist() == \
        [["a", "x", 8, 2, 4], ["b", "y", 4, 1, 1]]
    assert plan.utilization.tolist() == pytest.approx([0.8, 0.5])
    assert plan.cost_per_hour.tolist() == pytest.approx([20.0, 3.0])
    assert totals == FleetTotals(cost_per_hour=23.0, systems={"x": 4, "y": 1}, tokens_per_second=5000.0,
                                 cost_per_mtok=pytest.approx(23 / 18), target_utilization=0.8,
                                 cost_per_hour_by_phase={"aggregated": 23.0, "prefill": 0.0, "decode": 0.0},
                                 systems_by_phase={"aggregated": {"x": 4, "y": 1}, "prefill": {"x": 0, "y": 0},
                                                   "decode": {"x": 0, "y": 0}})
    assert list(totals.as_dict()) == SOLVED_KEYS


def test_empty_totals_keep_the_plan_json_keys():
    assert FleetTotals.empty().as_dict() == {"cost_per_hour": None, "systems": {}, "tokens_per_second": None,
                                             "cost_per_mtok": None}


def test_named_constructors():
    counts = {"columns": 7, "pruned_columns": 3}
    shortfalls = pd.DataFrame([{"model": "a", "kind": "inventory"}])
    infeasible = FleetPlan.infeasible(shortfalls=shortfalls, **counts)
    assert infeasible.status == SolveStatus.infeasible and infeasible.totals == FleetTotals.empty()
    assert infeasible.build_seconds == infeasible.solve_seconds == 0.0 and len(infeasible.plan) == 0
    assert infeasible.shortfalls is shortfalls and infeasible.mip_gap is None

    stopped = FleetPlan.no_solution(build_seconds=1.0, solve_seconds=2.0, **counts)
    assert stopped.status == SolveStatus.no_solution and len(stopped.shortfalls) == 0
    assert stopped.notes == ("the solver stopped (time limit) before finding any plan",)

    nothing = Columns.from_arrays(model=np.zeros(0, int), bucket=np.zeros(0, int), hardware=np.zeros(0, int),
                                  concurrency=np.zeros(0, int), row=np.zeros(0, int), requests_per_second=np.zeros(0),
                                  systems=np.zeros(0), cost_per_hour=np.zeros(0), interactivity=np.zeros(0))
    assignment = Assignment(plan=pd.DataFrame({"model": ["a"]}), totals=FleetTotals.empty(), columns=nothing,
                            coverage=CoverageMatrix.of(nothing, 0.8, np.zeros(0)))
    solved = FleetPlan.solved(status=SolveStatus.time_limit, assignment=assignment, mip_gap=0.01, build_seconds=1.0,
                              solve_seconds=2.0, **counts)
    summary = solved.summary()
    assert list(summary) == SUMMARY_KEYS
    assert summary["status"] == "time_limit" and summary["shortfalls"] == [] and summary["notes"] == []
    assert summary["columns"] == 7 and summary["pruned_columns"] == 3 and summary["mip_gap"] == 0.01
