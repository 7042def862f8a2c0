"""``python -m optimize`` end to end: the main job, and an infeasible plan's exit code."""
import json
import subprocess

import pytest

from tests.helpers import ROOT, python_cmd

pytestmark = pytest.mark.cli


def test_cli_main_job_and_infeasible_exit(tmp_path):
    run_dir = tmp_path / "ok"
    result = subprocess.run(python_cmd("-m", "optimize", f"hydra.run.dir={run_dir}"), cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Fleet plan: status optimal" in result.stdout and "Totals:" in result.stdout
    for name in ("best_concurrency.nc", "plan.csv", "plan.json", "frontier.png"):
        assert (run_dir / name).stat().st_size > 0
    summary = json.loads((run_dir / "plan.json").read_text())
    assert summary["status"] == "optimal" and summary["totals"]["cost_per_hour"] > 0
    assert list(summary["totals"]) == ["cost_per_hour", "systems", "tokens_per_second", "cost_per_mtok",
                                       "target_utilization"]

    bad = subprocess.run(python_cmd("-m", "optimize", "sla.min_interactivity=3000", "plots.enabled=false",
                                    f"hydra.run.dir={tmp_path / 'bad'}"), cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert bad.returncode == 1
    assert "No plan: demand that cannot be served" in bad.stdout and "sla_unreachable" in bad.stdout
    assert "Traceback" not in bad.stderr + bad.stdout
    bad_summary = json.loads((tmp_path / "bad" / "plan.json").read_text())
    assert bad_summary["status"] == "infeasible" and bad_summary["totals"]["cost_per_hour"] is None
    assert {r["kind"] for r in bad_summary["shortfalls"]} == {"sla_unreachable"}
