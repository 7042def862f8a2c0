"""``python -m optimize`` end to end: the main job, and an infeasible plan's exit code."""
import json
import os
import subprocess

import pandas as pd
import pytest

import model
from tests.app.test_outputs_netcdf import assert_labelled
from tests.helpers import ROOT, python_cmd


def numeric(value) -> bool:
    """True if ``value`` is or holds a number (bools are not numbers here)."""
    if isinstance(value, dict):
        return any(numeric(v) for v in value.values())
    if isinstance(value, list):
        return any(numeric(v) for v in value)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def without_units(value, units, path="") -> list[str]:
    """Paths of the numeric fields of ``value`` that ``units`` (shaped like it; a string covers
    everything below it) gives no unit."""
    if isinstance(units, str):
        return []
    if isinstance(value, list):
        return [p for item in value for p in without_units(item, units, f"{path}[]")]
    if isinstance(value, dict):
        return [p for k, v in value.items() if numeric(v)
                for p in ([f"{path}.{k}"] if k not in units else without_units(v, units[k], f"{path}.{k}"))]
    return [path] if numeric(value) else []


def infeasible_run(run_dir, override: str, kind: str) -> tuple[subprocess.CompletedProcess, dict]:
    """``python -m optimize override`` into ``run_dir``: exit 1, the infeasible report on stdout and in
    ``plan.json`` naming the one shortfall ``kind``, no traceback; the process and ``plan.json``."""
    bad = subprocess.run(python_cmd("-m", "optimize", override, "plots.enabled=false", f"hydra.run.dir={run_dir}"),
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1
    assert bad.stdout.startswith("No fleet plan (infeasible): demand that cannot be served")
    assert kind in bad.stdout
    assert "Traceback" not in bad.stderr + bad.stdout
    summary = json.loads((run_dir / "plan.json").read_text())
    assert {r["kind"] for r in summary["shortfalls"]} == {kind}
    return bad, summary

pytestmark = pytest.mark.cli


def test_cli_main_job_and_infeasible_exit(tmp_path):
    run_dir = tmp_path / "ok"
    result = subprocess.run(python_cmd("-m", "optimize", f"hydra.run.dir={run_dir}"), cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    # the answer first (issue 19): $/h, systems by hardware and phase, the saving and the SLA in the first
    # lines, every summary line within 100 columns; the detailed tables only with output.detail=true
    lines = result.stdout.splitlines()
    head = "\n".join(lines[:15])
    totals = json.loads((run_dir / "plan.json").read_text())["totals"]
    systems = totals["systems"]
    assert systems["cerebras_wse3"] > 0 and systems["b200"] > 0  # the default plan uses both
    largest_first = sorted(systems, key=lambda hw: -systems[hw])
    used = " + ".join(f"{systems[hw]} {hw}" for hw in largest_first)
    assert lines[0] == f"Fleet plan: ${totals['cost_per_hour']:,.2f}/h for {used} (optimal)"
    assert f"prefill {totals['systems_by_phase']['prefill']['b200']} b200 $" in head
    assert "saving from disaggregation: $" in head and "SLA: at least 1,000 output tok/s per request" in head
    assert all(len(line) <= 100 for line in lines if not line.startswith("wrote "))
    assert "Cheapest concurrency meeting the SLA" not in result.stdout and "output.detail=true" in result.stdout
    for name in ("best_concurrency.nc", "plan.csv", "plan.json", "frontier.png"):
        assert (run_dir / name).stat().st_size > 0
    summary = json.loads((run_dir / "plan.json").read_text())
    assert summary["status"] == "optimal" and summary["totals"]["cost_per_hour"] > 0
    assert list(summary["totals"]) == ["cost_per_hour", "systems", "tokens_per_second", "cost_per_mtok",
                                       "cost_per_hour_by_phase", "systems_by_phase", "target_utilization"]
    # docs/model.md §9: prefill offloaded, the saving against the best aggregated-only plan, both plans recorded
    assert {"prefill", "decode"} <= {r["phase"] for r in summary["plan"]}  # DeepSeek V4 stays aggregated
    only = summary["aggregated_only"]
    assert {r["phase"] for r in only["plan"]} == {"aggregated"}
    assert summary["saving_per_hour"] == pytest.approx(only["totals"]["cost_per_hour"]
                                                       - summary["totals"]["cost_per_hour"])
    assert summary["saving_per_hour"] > 0
    # plan.json: the toolkit version, the resolved config, a unit for every number
    assert summary["toolkit_version"] == model.__version__
    assert summary["config"]["fleet"]["target_utilization"] == 0.8 and "${" not in json.dumps(summary["config"])
    assert without_units({k: v for k, v in summary.items() if k != "config"}, summary["units"]) == []
    assert summary["units"]["plan"]["served_rps"] == "1/s" and summary["units"]["totals"]["cost_per_hour"] == "$/h"
    # plan.csv: each (model, bucket)'s demand once, each request served once: the columns add up
    table = pd.read_csv(run_dir / "plan.csv")
    assert table["served_rps [1/s]"].sum() == pytest.approx(50.0)  # five models at 10 requests/s
    assert table["bucket_demand_rps [1/s]"].sum() == pytest.approx(50.0)
    shares = table.groupby(["model", "bucket_isl [tokens]"])["demand_share [1]"].sum()
    assert shares.tolist() == pytest.approx([1.0] * 5)
    assert_labelled(run_dir / "best_concurrency.nc")

    _, bad_summary = infeasible_run(tmp_path / "bad", "sla.min_interactivity=3000", "sla_unreachable")
    assert bad_summary["status"] == "infeasible" and bad_summary["totals"]["cost_per_hour"] is None


def test_cli_ttft_sla_below_every_column_exits_1(tmp_path):
    bad, _ = infeasible_run(tmp_path / "ttft", "sla.max_ttft_s=0.05", "ttft_unreachable")
    assert "least TTFT on offer" in " ".join(bad.stdout.split())  # the summary wraps at 100 columns


def test_files_are_written_before_the_report_reaches_a_closed_stdout(tmp_path):
    """``serving-optimize | head -3``: the reader goes away, the run's files are there all the same."""
    run_dir = tmp_path / "run"
    # unbuffered: the first line printed meets the closed pipe (not only the flush at exit)
    proc = subprocess.Popen(python_cmd("-m", "optimize", f"hydra.run.dir={run_dir}"), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    proc.stdout.close()  # nobody reads the report
    proc.wait(timeout=300)
    for name in ("best_concurrency.nc", "plan.csv", "plan.json", "frontier.png"):
        assert (run_dir / name).stat().st_size > 0, name
