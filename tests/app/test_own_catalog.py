"""Adding your own GPU and model: a config dir with one YAML each and ``--config-dir`` (README)."""
import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr

from tests.helpers import ROOT

pytestmark = pytest.mark.cli
EXAMPLE = ROOT / "docs" / "examples" / "own_catalog"


def test_own_gpu_and_model_from_a_config_dir(tmp_path):
    run_dir = tmp_path / "run"
    command = [str(Path(sys.executable).parent / "serving-model"), "--config-dir", str(EXAMPLE),
               "hardware=[catalog,gpu_calibration,my_gpus]", "models=[catalog,my_models]",
               "select.hardware=[mi450,cerebras_wse3]", "select.models=[qwen3_32b,gpt_oss_120b]",
               "grid.isl_points=2", "grid.concurrency_max=64", "plots.enabled=false", f"hydra.run.dir={run_dir}"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    grid = xr.open_dataset(run_dir / "grid.nc", engine="h5netcdf")
    assert list(grid.hardware.values) == ["mi450", "cerebras_wse3"]
    assert list(grid.model.values) == ["qwen3_32b", "gpt_oss_120b"]
    # 65.6 GB of BF16 weights fit one 432 GB MI450: a single-GPU replica at low concurrency
    assert int(grid.systems.sel(model="qwen3_32b", hardware="mi450", isl=4000, concurrency=1)) == 1
