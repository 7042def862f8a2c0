"""Bad input on the command line (docs/model.md §7): one line on stderr, exit 2, nothing written."""
import subprocess

import pytest

from tests.helpers import ROOT, python_cmd
from tests.model.test_errors import BAD_INPUTS

pytestmark = pytest.mark.cli


@pytest.mark.parametrize("override,key,value", BAD_INPUTS)
def test_cli_prints_one_line_and_exits_nonzero(tmp_path, override, key, value):
    run_dir = tmp_path / "run"
    result = subprocess.run(python_cmd("-m", "model", *override.split(), f"hydra.run.dir={run_dir}"),
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {key}") and value in lines[0]
    assert result.stdout == ""
    assert not (run_dir / "grid.nc").exists()  # stopped before any work


# Keys and values Hydra itself refuses while composing: the apps say them in one line, exit 2.
HYDRA_REFUSED = [
    ("model", "hardware.b200.prce_per_hour=3", "hardware.b200.prce_per_hour"),
    ("model", "+hardware.b200.prce_per_hour=3", "hardware.b200.prce_per_hour"),
    ("model", "grid.isl_points=abc", "grid.isl_points"),
    ("model", "select.models=gpt_oss_120b", "select.models"),
    ("model", "nokey=3", "nokey"),
    ("optimize", "fleet.demand_defaul=3", "fleet.demand_defaul"),
    ("sensitivity", "sensitivity.n=many", "sensitivity.n"),
    ("model.app.calibrate", "calibration.length_factor=x", "calibration.length_factor"),
]


@pytest.mark.parametrize("app,override,key", HYDRA_REFUSED)
def test_keys_hydra_refuses_are_one_line_and_exit_2(tmp_path, app, override, key):
    result = subprocess.run(python_cmd("-m", app, override, f"hydra.run.dir={tmp_path / 'run'}"),
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {key}"), result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "run").exists()
