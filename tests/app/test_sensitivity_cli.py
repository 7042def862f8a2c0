"""``python -m sensitivity`` end to end."""
import subprocess

import pytest
import xarray as xr

from tests.app.test_outputs_netcdf import assert_labelled
from tests.helpers import ROOT, python_cmd

pytestmark = pytest.mark.cli


def test_cli_prints_ranking_and_writes_files(tmp_path):
    run_dir = tmp_path / "run"
    result = subprocess.run(python_cmd("-m", "sensitivity", "sensitivity.n=256", f"hydra.run.dir={run_dir}"),
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "optimal_cost_per_mtok (gpt_oss_120b)" in result.stdout and "ST at growing N" in result.stdout
    for name in ("sobol.nc", "sobol.csv", "convergence.csv", "sobol.png"):
        assert (run_dir / name).stat().st_size > 0
    saved = xr.open_dataset(run_dir / "sobol.nc", engine="h5netcdf")
    assert saved.ST.attrs["long_name"] == "total-order Sobol index"
    assert_labelled(run_dir / "sobol.nc")

    bad = subprocess.run(python_cmd("-m", "sensitivity", "sensitivity.n=1000", f"hydra.run.dir={tmp_path / 'bad'}"),
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        "error: sensitivity.n=1000: must be a power of two (SALib's Sobol sequence), e.g. 1024, 4096, 16384"]
