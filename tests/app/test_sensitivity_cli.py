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
    # the answer first (issue 19): what was analysed and left out of scope, then the largest indices
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Sobol sensitivity on cerebras_wse3: N = 256 base samples")
    assert any(line.startswith("  scope: prefill_efficiency_b200 (hardware.b200.prefill_efficiency) left out")
               for line in lines[:6])
    assert any(line.startswith("optimal_cost_per_mtok (gpt_oss_120b), largest ST: ") for line in lines[:10])
    assert "ST at growing N (prefixes" not in result.stdout and all(len(line) <= 100 for line in lines[:-1])
    for name in ("sobol.nc", "sobol.csv", "convergence.csv", "sobol.png"):
        assert (run_dir / name).stat().st_size > 0
    saved = xr.open_dataset(run_dir / "sobol.nc", engine="h5netcdf")
    assert saved.ST.attrs["long_name"] == "total-order Sobol index"
    assert_labelled(run_dir / "sobol.nc")

    bad = subprocess.run(python_cmd("-m", "sensitivity", "sensitivity.n=1000", f"hydra.run.dir={tmp_path / 'bad'}"),
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        "error: sensitivity.n=1000: must be a power of two (SALib's Sobol sequence), e.g. 1024, 4096, 16384"]
