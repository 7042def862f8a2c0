"""Bad input on the command line (docs/model.md §7): one line on stderr, exit 2, nothing written.

Real processes, a sample: one per app and kind of refusal (a value the check refuses, a key or value
Hydra refuses while composing).  Every case of both lists, and many more, runs in-process through each
app's console entry point in tests/app/test_bad_inputs.py, with the same assertions (one line naming
key and value, exit 2, nothing on stdout, nothing written).
"""
import subprocess

import pytest

from tests.helpers import ROOT, python_cmd
from tests.model.test_errors import BAD_INPUTS

pytestmark = pytest.mark.cli

# a catalog value and a grid setting given as two overrides
SAMPLE = [case for case in BAD_INPUTS if case[0] in ("hardware.cerebras_wse3.memory_gb=0",
                                                     "grid.isl_points=0 grid.isl_extra=[]")]


def test_the_sample_is_in_the_list():
    assert len(SAMPLE) == 2


@pytest.mark.parametrize("override,key,value", SAMPLE)
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


# Keys and values Hydra itself refuses while composing: the apps say them in one line, exit 2 (one
# per app; the rest of these, in-process: tests/app/test_bad_inputs.py)
HYDRA_REFUSED = [
    ("model", "+hardware.b200.prce_per_hour=3", "hardware.b200.prce_per_hour"),
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
