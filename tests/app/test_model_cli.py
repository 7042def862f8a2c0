"""`python -m model` end to end: the table, grid.nc, four plots; never over another run."""
import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr

import model
from tests.app.test_outputs_netcdf import assert_labelled
from tests.helpers import ROOT, python_cmd

pytestmark = pytest.mark.cli

SMALL = ["grid.isl_points=4", "grid.concurrency_max=64"]


def test_main_job_writes_grid_and_plots(tmp_path):
    run_dir = tmp_path / "run"
    result = subprocess.run(python_cmd("-m", "model", *SMALL, f"hydra.run.dir={run_dir}"),
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    # the answer first (issue 19): per model, the cheapest hardware meeting the SLA, within 100 columns
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Cheapest hardware per model at ISL 96,300 meeting the SLA of >= 1,000 output tok/s")
    assert any(line.startswith("gpt_oss_120b  cerebras_wse3") for line in lines[:10])
    assert all(len(line) <= 100 for line in lines if "cells evaluated; wrote" not in line)
    assert "best $/Mtok" not in result.stdout  # the detailed tables wait for output.detail=true
    for name in ("grid.nc", "cost_vs_concurrency.png", "interactivity_vs_concurrency.png",
                 "feasibility.png", "token_spend.png"):
        assert (run_dir / name).stat().st_size > 0, name
    saved = xr.open_dataset(run_dir / "grid.nc", engine="h5netcdf")
    expected = model.evaluate(model.load_config(SMALL))
    xr.testing.assert_allclose(saved.cost_per_mtok, expected.cost_per_mtok, rtol=0)
    assert saved.cost_per_mtok.attrs["units"] == "$/Mtok"
    assert_labelled(run_dir / "grid.nc")
    assert "hardware:" in saved.attrs["config"]
    assert not list(run_dir.glob(".*.tmp"))  # no half-written files left

    recorded = (run_dir / ".hydra" / "config.yaml").read_text()
    again = subprocess.run(python_cmd("-m", "model", *SMALL, f"hydra.run.dir={run_dir}"),
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2
    assert again.stderr.strip().startswith("error: ") and "refusing to overwrite" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    assert (run_dir / ".hydra" / "config.yaml").read_text() == recorded  # the first run's record is intact


@pytest.mark.parametrize("command", ["serving-model", "serving-optimize", "serving-sensitivity", "serving-calibrate"])
def test_console_commands_work_from_a_directory_with_a_model_py(tmp_path, command):
    """The installed commands import the toolkit, not a ``model.py`` in the working directory
    (which ``python -m model`` would run instead); a bad key still gives one line and exit 2."""
    (tmp_path / "model.py").write_text("raise SystemExit('the shadowing model.py ran')\n")
    executable = Path(sys.executable).parent / command
    result = subprocess.run([str(executable), "no_such_key=1"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: no_such_key") and "shadowing" not in result.stderr + result.stdout


def test_console_command_runs_from_another_directory(tmp_path):
    (tmp_path / "model.py").write_text("raise SystemExit('the shadowing model.py ran')\n")
    run_dir = tmp_path / "run"
    result = subprocess.run([str(Path(sys.executable).parent / "serving-model"), *SMALL, "plots.enabled=false",
                             f"hydra.run.dir={run_dir}"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert (run_dir / "grid.nc").stat().st_size > 0


def test_an_isl_beyond_a_models_context_still_draws_every_plot(tmp_path):
    """At ISL 140,000 gpt-oss (131k context) has no cell: its panels say so instead of failing."""
    run_dir = tmp_path / "run"
    result = subprocess.run(python_cmd("-m", "model", "workload.isl=140000", "grid.isl_points=2",
                                       "grid.concurrency_max=64", f"hydra.run.dir={run_dir}"),
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    for name in ("grid.nc", "cost_vs_concurrency.png", "interactivity_vs_concurrency.png", "feasibility.png",
                 "token_spend.png"):
        assert (run_dir / name).stat().st_size > 0, name
