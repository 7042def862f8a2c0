"""`python -m model` end to end: the table, grid.nc, four plots; never over another run."""
import subprocess

import pytest
import xarray as xr

import model
from tests.helpers import ROOT, python_cmd

pytestmark = pytest.mark.cli

SMALL = ["grid.isl_points=4", "grid.concurrency_max=64"]


def test_main_job_writes_grid_and_plots(tmp_path):
    run_dir = tmp_path / "run"
    result = subprocess.run(python_cmd("-m", "model", *SMALL, f"hydra.run.dir={run_dir}"),
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "ISL 96,300 tokens" in result.stdout and "gpt_oss_120b" in result.stdout
    for name in ("grid.nc", "cost_vs_concurrency.png", "interactivity_vs_concurrency.png",
                 "feasibility.png", "token_spend.png"):
        assert (run_dir / name).stat().st_size > 0, name
    saved = xr.open_dataset(run_dir / "grid.nc", engine="h5netcdf")
    expected = model.evaluate(model.load_config(SMALL))
    xr.testing.assert_allclose(saved.cost_per_mtok, expected.cost_per_mtok, rtol=0)
    assert saved.cost_per_mtok.attrs["units"] == "$/Mtok"
    assert "hardware:" in saved.attrs["config"]
    assert not list(run_dir.glob(".*.tmp"))  # no half-written files left

    recorded = (run_dir / ".hydra" / "config.yaml").read_text()
    again = subprocess.run(python_cmd("-m", "model", *SMALL, f"hydra.run.dir={run_dir}"),
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2
    assert again.stderr.strip().startswith("error: ") and "refusing to overwrite" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    assert (run_dir / ".hydra" / "config.yaml").read_text() == recorded  # the first run's record is intact
