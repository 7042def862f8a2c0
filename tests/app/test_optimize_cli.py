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
                                       "cost_per_hour_by_phase", "systems_by_phase", "target_utilization"]
    # SPEC §9: prefill offloaded, the saving against the best aggregated-only plan, both plans recorded
    assert "Saving from disaggregation: $" in result.stdout and "By phase: " in result.stdout
    assert {r["phase"] for r in summary["plan"]} == {"prefill", "decode"}
    only = summary["aggregated_only"]
    assert {r["phase"] for r in only["plan"]} == {"aggregated"}
    assert summary["saving_per_hour"] == pytest.approx(only["totals"]["cost_per_hour"]
                                                       - summary["totals"]["cost_per_hour"])
    assert summary["saving_per_hour"] > 0

    bad = subprocess.run(python_cmd("-m", "optimize", "sla.min_interactivity=3000", "plots.enabled=false",
                                    f"hydra.run.dir={tmp_path / 'bad'}"), cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert bad.returncode == 1
    assert "No plan: demand that cannot be served" in bad.stdout and "sla_unreachable" in bad.stdout
    assert "Traceback" not in bad.stderr + bad.stdout
    bad_summary = json.loads((tmp_path / "bad" / "plan.json").read_text())
    assert bad_summary["status"] == "infeasible" and bad_summary["totals"]["cost_per_hour"] is None
    assert {r["kind"] for r in bad_summary["shortfalls"]} == {"sla_unreachable"}


def test_cli_ttft_sla_below_every_column_exits_1(tmp_path):
    bad = subprocess.run(python_cmd("-m", "optimize", "sla.max_ttft_s=0.05", "plots.enabled=false",
                                    f"hydra.run.dir={tmp_path / 'ttft'}"), cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert bad.returncode == 1
    assert "No plan: demand that cannot be served" in bad.stdout and "ttft_unreachable" in bad.stdout
    assert "least TTFT on offer" in bad.stdout and "Traceback" not in bad.stderr + bad.stdout
    summary = json.loads((tmp_path / "ttft" / "plan.json").read_text())
    assert {r["kind"] for r in summary["shortfalls"]} == {"ttft_unreachable"}
