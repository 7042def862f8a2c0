"""The optimizer: exact best concurrency, the fleet MILP against hand-worked and brute-force
optima, pruning, infeasibility reports and normalized statuses."""
import itertools
import json
import subprocess

import numpy as np
import pytest
import xarray as xr

import optimize
from model.errors import ConfigError
from optimize.concurrency import NoAnswer
from optimize.fleet import Columns, bucket_grid, candidate_columns, demand_by_model, plan_fleet, prune_dominated
from optimize.milp import SolveStatus, solve
from tests.helpers import ROOT, python_cmd


@pytest.fixture(scope="module")
def ocfg():
    return optimize.load_config()


def synthetic_grid(cells, isl=96300, osl=466.0):
    """A one-bucket grid over (model, hardware, concurrency) from {(model, hw, N): (rps, systems,
    $/h, meets_sla)}; unlisted cells do not meet the SLA."""
    models = sorted({c[0] for c in cells})
    hardware = sorted({c[1] for c in cells})
    levels = sorted({c[2] for c in cells})
    shape = (len(models), len(hardware), 1, len(levels))
    data = {k: np.zeros(shape) for k in ("requests_per_second", "systems", "cost_per_hour")}
    meets = np.zeros(shape, dtype=bool)
    for (m, h, n), (rps, systems, cost, ok) in cells.items():
        idx = (models.index(m), hardware.index(h), 0, levels.index(n))
        data["requests_per_second"][idx], data["systems"][idx], data["cost_per_hour"][idx] = rps, systems, cost
        meets[idx] = ok
    dims = ("model", "hardware", "bucket", "concurrency")
    ds = xr.Dataset({k: (dims, v) for k, v in data.items()},
                    coords={"model": models, "hardware": hardware, "bucket": [0], "concurrency": levels})
    ds["meets_sla"] = (dims, meets)
    ds["feasible"] = (dims, meets | (data["systems"] > 0))
    ds["interactivity"] = (dims, np.where(meets, 1000.0, 10.0))
    ds["cost_per_mtok"] = ds.cost_per_hour / (ds.requests_per_second * (isl + osl) * 0.0036)
    ds["osl"] = osl
    return ds.assign_coords(bucket_isl=("bucket", [isl]), bucket_weight=("bucket", [1.0]))


TINY = {
    ("gpt_oss_120b", "cerebras_wse3", 100): (5.0, 4, 160.0, True),   # A
    ("gpt_oss_120b", "cerebras_wse3", 200): (8.0, 6, 240.0, True),   # B
    ("gpt_oss_120b", "cerebras_wse3", 50): (4.0, 6, 240.0, True),    # dominated by B
    ("gpt_oss_120b", "b200", 2): (1.0, 8, 16.0, True),               # C
    ("gpt_oss_120b", "b200", 10): (3.0, 8, 16.0, False),             # misses the SLA
}


def tiny_cfg(*extra):
    return optimize.load_config(["select.models=[gpt_oss_120b]", "select.hardware=[b200,cerebras_wse3]",
                                 "fleet.demand_default=10", "fleet.target_utilization=0.8", *extra])


def test_tiny_instance_worked_by_hand():
    """Demand 10 req/s at utilization 0.8: each replica may carry 0.8 x its requests/s.
    A (4 systems, $160/h) carries 4.0, B ($240/h) 6.4, C (8 b200, $16/h) 0.8 req/s; the N = 50
    column (6 systems, 4 req/s) is dominated by B; N = 10 on b200 misses the SLA.
    Per carried req/s: A $40, B $37.5, C $20, so C alone: ceil(10 / 0.8) = 13 replicas, $208/h,
    104 b200 (12 carry only 9.6).
    With at most 80 b200 (10 replicas of C): A + 8 C carries 4 + 6.4 = 10.4 for $160 + $128 = $288;
    the others are dearer (B + 5 C $320, 2 A + 3 C $368, A + B $400) or short (A + 7 C: 9.6)."""
    plan = plan_fleet(tiny_cfg(), grid=synthetic_grid(TINY))
    assert plan.status == SolveStatus.optimal and plan.pruned_columns == 1 and plan.columns == 4
    assert plan.totals["cost_per_hour"] == pytest.approx(208)
    assert plan.plan[["hardware", "concurrency", "replicas", "systems"]].values.tolist() == [["b200", 2, 13, 104]]
    assert plan.plan.utilization.iloc[0] == pytest.approx(10 / 13)

    capped = plan_fleet(tiny_cfg("fleet.inventory.b200=80"), grid=synthetic_grid(TINY))
    assert capped.status == SolveStatus.optimal
    assert capped.totals["cost_per_hour"] == pytest.approx(288)
    rows = capped.plan[["hardware", "concurrency", "replicas"]].values.tolist()
    assert sorted(rows) == [["b200", 2, 8], ["cerebras_wse3", 100, 1]]
    assert capped.totals["systems"] == {"b200": 64, "cerebras_wse3": 4}


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
    result = solve(cost, capacity, row, demand, systems, hardware, inventory, mip_rel_gap=0.0)
    if np.isinf(expected):
        assert result.status == SolveStatus.infeasible
    else:
        assert result.status == SolveStatus.optimal
        assert result.objective == pytest.approx(expected, abs=1e-6)
        assert float(cost @ result.values) == pytest.approx(expected, abs=1e-6)


def test_pruning_keeps_the_optimum():
    cfg = optimize.load_config(["sla.min_interactivity=100", "fleet.isl.kind=lognormal", "fleet.isl.median=32000",
                                "fleet.isl.sigma=0.6", "fleet.isl.buckets=4", "fleet.solver.mip_rel_gap=0"])
    grid = bucket_grid(cfg)
    pruned, full = plan_fleet(cfg, prune=True, grid=grid), plan_fleet(cfg, prune=False, grid=grid)
    assert pruned.status == full.status == SolveStatus.optimal
    assert pruned.pruned_columns > 0.5 * pruned.columns and full.pruned_columns == 0
    assert pruned.totals["cost_per_hour"] == pytest.approx(full.totals["cost_per_hour"], rel=1e-9)
    assert pruned.totals["systems"] == full.totals["systems"]
    assert pruned.plan.to_dict() == full.plan.to_dict()


def test_prune_dominated_by_hand():
    """Same (model, bucket, hardware): (systems, rps) = (4, 5), (6, 8), (6, 4), (4, 5), (8, 8):
    (6, 4) is dominated by (6, 8) and by (4, 5); the second (4, 5) by the first; (8, 8) by (6, 8)."""
    cols = Columns(model=np.zeros(5, int), bucket=np.zeros(5, int), hardware=np.zeros(5, int),
                   concurrency=np.arange(5), requests_per_second=np.array([5.0, 8, 4, 5, 8]),
                   systems=np.array([4.0, 6, 6, 4, 8]), cost_per_hour=np.ones(5), interactivity=np.ones(5))
    assert sorted(prune_dominated(cols).concurrency.tolist()) == [0, 1]


def test_plan_cost_within_one_replica_of_the_bound(ocfg):
    """One bucket, no cap: each model's $/h is at least demand / utilization x the least $/h per
    req/s (the best concurrency), and above it by less than one replica of that configuration."""
    plan = plan_fleet(ocfg)
    best = optimize.best_concurrency(ocfg).sel(isl=int(ocfg.workload.isl))
    grid = bucket_grid(ocfg).isel(bucket=0)
    u = float(ocfg.fleet.target_utilization)
    for model in ocfg.select.models:
        # $/h per req/s of every SLA-meeting cell; its minimum is at best_concurrency's answer
        per_rps = (grid.cost_per_hour / grid.requests_per_second).where(grid.meets_sla).sel(model=model)
        hw = str(per_rps.min("concurrency").idxmin("hardware").values)
        n = int(best.concurrency.sel(model=model, hardware=hw))
        assert float(per_rps.sel(hardware=hw, concurrency=n)) == pytest.approx(float(per_rps.min()), rel=1e-12)
        replica_cost = float(grid.cost_per_hour.sel(model=model, hardware=hw, concurrency=n))
        bound = float(demand_by_model(ocfg).sel(model=model)) / u * float(per_rps.min())
        spent = plan.plan[plan.plan.model == model].cost_per_hour.sum()
        assert bound - 1e-9 <= spent < bound + replica_cost


def test_infeasible_sla_is_reported():
    cfg = optimize.load_config(["sla.min_interactivity=3000"])
    plan = plan_fleet(cfg)
    assert plan.status == SolveStatus.infeasible and len(plan.plan) == 0
    report = plan.shortfalls.set_index("model")
    assert set(report.kind) == {"sla_unreachable"} and len(report) == 5
    assert "best on offer 2,059 tok/s" in report.loc["gpt_oss_120b", "detail"]
    assert report.loc["gpt_oss_120b", "shortfall_rps"] == 10


def test_infeasible_inventory_is_reported():
    cfg = optimize.load_config(["fleet.inventory.cerebras_wse3=100"])
    plan = plan_fleet(cfg)
    assert plan.status == SolveStatus.infeasible
    row = plan.shortfalls.iloc[0]
    assert row.kind == "inventory" and row.shortfall_rps > 0
    assert "cerebras_wse3: " in row.detail and "of 100 available" in row.detail


def test_time_limited_run_returns_its_incumbent():
    """A hard random covering instance (5,000 columns, 40 rows) stopped after 2 s."""
    rng = np.random.default_rng(0)
    n, rows = 5000, 40
    row = rng.integers(0, rows, n)
    capacity = rng.uniform(0.1, 5, n)
    cost = capacity * rng.uniform(8, 12, n)
    result = solve(cost, capacity, row, rng.uniform(10, 50, rows), np.ones(n), np.zeros(n, int),
                   np.array([np.inf]), time_limit=2.0, mip_rel_gap=0.0)
    assert result.status == SolveStatus.time_limit
    assert result.values is not None and result.mip_gap > 0


def test_best_concurrency_reasons(ocfg):
    best = optimize.best_concurrency(optimize.load_config(["select.hardware=[cerebras_wse3,b200,h100_sxm]",
                                                           "hardware.h100_sxm.allowed_sizes=[1,2]"]))
    at = best.sel(isl=96300)
    assert at.reason.sel(model="gpt_oss_120b", hardware="cerebras_wse3") == NoAnswer.none.value
    assert at.reason.sel(model="gpt_oss_120b", hardware="b200") == NoAnswer.sla_unreachable.value
    assert 100 < float(at.max_interactivity.sel(model="gpt_oss_120b", hardware="b200")) < 1000
    assert at.reason.sel(model="glm_4_7", hardware="h100_sxm") == NoAnswer.no_buildable_size.value
    assert best.reason.sel(model="gpt_oss_120b", isl=1_000_000, hardware="cerebras_wse3") == \
        NoAnswer.isl_beyond_context.value
    ok = best.reason == ""
    assert best.concurrency.where(ok).notnull().sum() == ok.sum()
    assert best.concurrency.where(~ok).isnull().all()




@pytest.mark.parametrize("override,key", [
    ("fleet.demand.gpt_oss_120b=-1", "fleet.demand.gpt_oss_120b"),
    ("fleet.target_utilization=0", "fleet.target_utilization"),
    ("fleet.inventory.b200=-3", "fleet.inventory.b200"),
    ("fleet.isl.kind=lognormal fleet.isl.sigma=0", "fleet.isl.sigma"),
])
def test_fleet_bad_input_is_one_line(override, key):
    with pytest.raises(ConfigError) as err:
        optimize.load_config(override.split())
    assert str(err.value).startswith(key) and "\n" not in str(err.value)
