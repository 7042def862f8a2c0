"""Infeasibility reports: no column meets the SLA, and the inventory caps leave demand unmet."""
import optimize
from optimize.constants import SolveStatus
from optimize.fleet import plan_fleet


def test_infeasible_sla_is_reported():
    cfg = optimize.load_config(["sla.min_interactivity=3000"])
    plan = plan_fleet(cfg)
    assert plan.status == SolveStatus.infeasible and len(plan.plan) == 0
    report = plan.shortfalls.set_index("model")
    assert set(report.kind) == {"sla_unreachable"} and len(report) == 5
    assert "best on offer 2,059 tok/s" in report.loc["gpt_oss_120b", "detail"]
    assert report.loc["gpt_oss_120b", "shortfall_rps"] == 10


def test_infeasible_inventory_is_reported():
    # the default plan decodes on 74 wafers (prefill on B200s), so 50 wafers cannot serve it
    cfg = optimize.load_config(["fleet.inventory.cerebras_wse3=50"])
    plan = plan_fleet(cfg)
    assert plan.status == SolveStatus.infeasible
    row = plan.shortfalls.iloc[0]
    assert row.kind == "inventory" and row.shortfall_rps > 0
    assert "cerebras_wse3: " in row.detail and "of 50 available" in row.detail
