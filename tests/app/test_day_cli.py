"""``python -m optimize`` with a demand that moves (docs/model.md §11): the diurnal day, a trace replayed,
and a power cap that binds (exit 1, the binding constraint and the shortfall named).  The diurnal day as
the README prints it is tests/app/test_readme_day.py's (the same command: run once)."""
import json
import subprocess

import pandas as pd
import pytest

from tests.helpers import ROOT, python_cmd

pytestmark = pytest.mark.cli
TRACE = "/work/shared/reference/traces/azure-llm-2023-code.csv"


def run(tmp_path, *overrides):
    return subprocess.run(python_cmd("-m", "optimize", f"hydra.run.dir={tmp_path}", *overrides), cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def test_trace_replay_writes_replay_csv(tmp_path):
    result = run(tmp_path, "fleet.demand_profile=trace", f"fleet.trace={TRACE}", "fleet.trace_rate=trace",
                 "fleet.period_s=900", "fleet.replay=true", "select.models=[gpt_oss_120b]", "fleet.isl.buckets=2")
    assert result.returncode == 0, result.stderr
    replay = pd.read_csv(tmp_path / "replay.csv")
    assert replay.period.tolist() == [0, 1, 2, 3]
    assert replay["requests [requests]"].sum() == 8819          # the trace as it came: every request once
    assert ((replay["sla_attainment [1]"] >= 0) & (replay["sla_attainment [1]"] <= 1)).all()
    assert "Replay (SimPy" in result.stdout


def test_power_cap_below_the_draw_exits_1_naming_power_cap(tmp_path):
    """The five models' diurnal day draws 2.3-2.6 MW at the wall at its least: a 1 MW cap binds in
    every period.  The answer first (the cap, the periods it binds in, the largest shortfall), then
    each period's floor (``optimize.periods.least_power``); every line under 100 columns."""
    result = run(tmp_path, "fleet.demand_profile=diurnal", "fleet.power_cap_mw=1")
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "No plan over the day (infeasible):"
    assert lines[1].startswith("  power_cap binding in 24 of 24 periods: short up to ")
    assert lines[2] == "per period (plan.json: shortfalls):"
    shorts = [line for line in lines if line.startswith("  power_cap: short ")]
    assert len(shorts) == 24 and all(line.endswith("at the wall (cap 1.000 MW)") for line in shorts)
    floors = [float(line.split("needs at least ")[1].split(" MW")[0]) for line in shorts]
    shortfalls = [float(line.split("short ")[1].split(" MW")[0]) for line in shorts]
    assert all(f > 1.0 for f in floors) and shortfalls == pytest.approx([f - 1.0 for f in floors], abs=1.5e-3)
    worst = int(lines[1].rsplit(" period ", 1)[1].rstrip(")"))
    assert shortfalls[worst] == max(shortfalls)
    assert lines[1].endswith(f"short up to {max(shortfalls):.3f} MW (cap 1, period {worst})")
    assert all(len(line) < 100 for line in lines if not line.startswith("wrote "))
    record = json.loads((tmp_path / "plan.json").read_text())
    assert [r["period"] for r in record["shortfalls"]] == list(range(24))


def test_replay_without_a_trace_is_refused_in_one_line(tmp_path):
    result = run(tmp_path, "fleet.replay=true")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and "fleet.replay" in result.stderr
