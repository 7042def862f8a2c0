"""The fleet plan end to end (``plan_fleet``): a tiny instance worked by hand, and the default
config's plan against the best-concurrency bound."""
import numpy as np
import pytest
import xarray as xr

import optimize
from optimize.constants import SolveStatus
from optimize.fleet import plan_fleet
from optimize.inputs import bucket_grid, demand_by_model


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
    # the synthetic grid holds aggregated cells only (no decode step, no prefill terms)
    return optimize.load_config(["select.models=[gpt_oss_120b]", "select.hardware=[b200,cerebras_wse3]",
                                 "fleet.demand_default=10", "fleet.target_utilization=0.8",
                                 "fleet.disaggregation=false", *extra])


def test_tiny_instance_worked_by_hand():
    """Demand 10 req/s at utilization 0.8: each replica may carry 0.8 x its requests/s.
    A (4 systems, $160/h) carries 4.0, B ($240/h) 6.4, C (8 b200, $16/h) 0.8 req/s; the N = 50
    column (6 systems, 4 req/s) is dominated by B; N = 10 on b200 misses the SLA.
    Per carried req/s: A $40, B $37.5, C $20, so C alone: ceil(10 / 0.8) = 13 replicas, $208/h,
    104 b200 (12 carry only 9.6).
    With at most 80 b200 (10 replicas of C): A + 8 C carries 4 + 6.4 = 10.4 for $160 + $128 = $288;
    the others are dearer (B + 5 C $320, 2 A + 3 C $368, A + B $400) or short (A + 7 C: 9.6).
    Pruning: without a cap, 10 C ($160, 10 req/s) replace A and 15 C ($240, 15 req/s) replace B,
    so only C is left; with the b200 capped only the N = 50 column goes."""
    plan = plan_fleet(tiny_cfg(), grid=synthetic_grid(TINY))
    assert plan.status == SolveStatus.optimal and plan.pruned_columns == 3 and plan.columns == 4
    assert plan.totals.cost_per_hour == pytest.approx(208)
    assert plan.plan[["hardware", "concurrency", "replicas", "systems"]].values.tolist() == [["b200", 2, 13, 104]]
    assert plan.plan.utilization.iloc[0] == pytest.approx(10 / 13)

    capped = plan_fleet(tiny_cfg("fleet.inventory.b200=80"), grid=synthetic_grid(TINY))
    assert capped.status == SolveStatus.optimal and capped.pruned_columns == 1
    assert capped.totals.cost_per_hour == pytest.approx(288)
    rows = capped.plan[["hardware", "concurrency", "replicas"]].values.tolist()
    assert sorted(rows) == [["b200", 2, 8], ["cerebras_wse3", 100, 1]]
    assert capped.totals.systems == {"b200": 64, "cerebras_wse3": 4}


def test_plan_cost_within_one_replica_of_the_bound(ocfg):
    """One bucket, no cap, aggregated serving only: each model's $/h is at least demand /
    utilization x the least $/h per req/s (the best concurrency), and above it by less than one
    replica of that configuration.  With disaggregated serving (the default) the plan costs no
    more than that."""
    aggregated_cfg = optimize.load_config(["fleet.disaggregation=false"])
    plan = plan_fleet(aggregated_cfg)
    assert set(plan.plan.phase) == {"aggregated"}
    assert plan_fleet(ocfg).totals.cost_per_hour <= plan.totals.cost_per_hour
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
