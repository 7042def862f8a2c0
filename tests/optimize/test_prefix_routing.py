"""docs/model.md §12 in the fleet plan: hit rates per row, and prefix-aware routing never costs more than random."""
import json
import subprocess

import pytest

from tests.helpers import ROOT, python_cmd

pytestmark = pytest.mark.cli

MOONCAKE = ROOT.parent / "shared" / "reference" / "traces" / "mooncake-conversation.jsonl"


@pytest.mark.skipif(not MOONCAKE.is_file(), reason="shared/reference/traces not beside the repository")
def test_the_plan_prints_its_hit_rates_and_the_worth_of_prefix_aware_routing(tmp_path):
    run_dir = tmp_path / "run"
    result = subprocess.run(python_cmd("-m", "optimize", "select.models=[deepseek_v3]", "select.hardware=[b200]",
                                       "sla.min_interactivity=30", "fleet.disaggregation=false",
                                       "workload.cache=trace", f"workload.trace={MOONCAKE}",
                                       f"hydra.run.dir={run_dir}"),
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "Prefix-cache hit rates of the plan" in result.stdout
    assert "prefix-aware routing is worth $" in result.stdout
    record = json.loads((run_dir / "plan.json").read_text())["prefix_cache"]
    assert record["routing"] == "prefix_aware" and record["other_routing"] == "random"
    # random routing's cached share is never higher at any cell, so its plan never costs less
    assert record["other_cost_per_hour"] >= record["cost_per_hour"] * (1 - 1e-9)
    assert record["replicas"] == record["replicas_tried"][-1] or record["replicas"] in record["replicas_tried"]
    assert (run_dir / "hit_rate.csv").is_file()
