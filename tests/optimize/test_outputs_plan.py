"""plan.csv adds up: each (model, ISL bucket)'s demand once, every request served once."""
import io

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import optimize
from optimize.columns import Columns
from optimize.coverage import CoverageMatrix
from optimize.fleet import plan_fleet
from optimize.inputs import DemandRows, demand_by_model
from optimize.plan import PLAN_COLUMNS, assign_solution, plan_csv


def read_plan_csv(table: pd.DataFrame) -> pd.DataFrame:
    """plan.csv as a spreadsheet would read it, the units stripped from the header."""
    frame = pd.read_csv(io.StringIO(plan_csv(table)))
    frame.columns = [c.split(" [")[0] for c in frame.columns]
    return frame


def assert_adds_up(table: pd.DataFrame, total_demand: float) -> None:
    groups = table.groupby(["model", "bucket_isl"])
    assert table.served_rps.sum() == pytest.approx(total_demand)
    assert table.bucket_demand_rps.sum() == pytest.approx(total_demand)  # blank (NaN) on repeated rows
    assert groups.demand_share.sum().to_numpy() == pytest.approx(1.0)
    assert (groups.bucket_demand_rps.count() == 1).all()  # once per (model, bucket), on its first row
    assert groups.bucket_demand_rps.first().to_numpy() == pytest.approx(groups.served_rps.sum().to_numpy())
    assert table.utilization.to_numpy() == pytest.approx((table.load_rps / table.capacity_rps).to_numpy())
    assert (table.served_rps[table.phase == "prefill"] == 0).all()


def test_default_plan_csv_sums_to_the_configured_demand(ocfg):
    plan = plan_fleet(ocfg)
    total = float(demand_by_model(ocfg).sum())
    assert total == 50.0  # five models at the default 10 requests/s
    assert_adds_up(plan.plan, total)
    frame = read_plan_csv(plan.plan)
    assert_adds_up(frame, total)
    header = plan_csv(plan.plan).splitlines()[0].split(",")
    assert "served_rps [1/s]" in header and "cost_per_hour [$/h]" in header and "model" in header
    assert list(frame.columns) == [c for c in PLAN_COLUMNS if c in plan.plan.columns]


def test_aggregated_plan_over_isl_buckets_adds_up():
    cfg = optimize.load_config(["fleet.disaggregation=false", "fleet.isl.kind=lognormal", "fleet.isl.median=48000",
                                "fleet.isl.sigma=0.6", "fleet.isl.buckets=3",
                                "fleet.demand.gpt_oss_120b=40"])
    plan = plan_fleet(cfg)
    assert plan.plan.bucket_isl.nunique() == 3
    assert_adds_up(plan.plan, float(demand_by_model(cfg).sum()))
    assert (plan.plan.load_rps == plan.plan.served_rps).all()  # aggregated: every row completes what it loads


def test_two_configurations_of_one_row_share_its_demand_by_capacity():
    """Model a (4 req/s) buys 2 replicas of column 0 (2.5 req/s each) and 1 of column 1 (5 req/s):
    5 req/s of capacity each, so each serves 2 req/s, half the demand, at utilization 0.4."""
    grid = xr.Dataset(coords={"model": ["a"], "bucket": [0], "bucket_isl": ("bucket", [900]),
                              "bucket_weight": ("bucket", [1.0])})
    rows = DemandRows(model=np.array([0]), bucket=np.array([0]), requests_per_second=np.array([4.0]),
                      tokens_per_request=np.array([1000.0]), row_of_cell=np.array([[0]]))
    cols = Columns.from_arrays(model=np.array([0, 0]), bucket=np.zeros(2, int), hardware=np.array([0, 1]),
                               concurrency=np.array([8, 16]), row=np.array([0, 0]),
                               requests_per_second=np.array([2.5, 5.0]), systems=np.array([2.0, 4.0]),
                               cost_per_hour=np.array([10.0, 30.0]), interactivity=np.array([100.0, 50.0]),
                               levels={"model": ["a"], "bucket_isl": [900], "hardware": ["x", "y"]})
    plan = assign_solution(np.array([2, 1]), cols, CoverageMatrix.of(cols, 0.8, np.full(1, np.inf)), rows, grid).plan
    assert plan.served_rps.tolist() == pytest.approx([2.0, 2.0])
    assert plan.demand_share.tolist() == pytest.approx([0.5, 0.5])
    assert plan.utilization.tolist() == pytest.approx([0.4, 0.4])
    assert plan.bucket_demand_rps.iloc[0] == 4.0 and np.isnan(plan.bucket_demand_rps.iloc[1])
    assert_adds_up(plan, 4.0)
