"""``python -m model.app.calibrate``: bad calibration inputs are refused in one line and write nothing.

The command's end-to-end run (its report, its run directory, the catalog left alone) is made once,
from a built wheel outside the repository: tests/app/test_signals_cli.py."""
import subprocess

import pytest

from tests.helpers import ROOT, python_cmd

pytestmark = pytest.mark.cli


@pytest.mark.parametrize("override,key", [
    ("calibration.length_factor=0", "calibration.length_factor"),
    ("calibration.inherit.gb200_nvl72=tpu", "calibration.inherit.gb200_nvl72"),
    ("calibration.per_hardware=[foo]", "calibration.per_hardware"),
    ("calibration.data=nope.csv", "calibration.data"),
    ("calibration.configurations=nope.csv", "calibration.configurations"),
    ("calibration.routed_bits.fp4=0", "calibration.routed_bits.fp4"),
    ("calibration.configurations_model=gpt5", "calibration.configurations_model"),
    ("hardware.b200.scaleup_gb_s=0", "hardware.b200.scaleup_gb_s"),
    ("calibration.data=README.md", "calibration.data"),  # a file that is not CSV: no pandas ParserError
    ("calibration.data=docs/view_calculator.png", "calibration.data"),
    ("calibration.weights_gb.deepseek_r1.fp8=-1", "calibration.weights_gb.deepseek_r1.fp8"),
])
def test_bad_calibration_inputs_are_one_line(tmp_path, override, key):
    result = subprocess.run(python_cmd("-m", "model.app.calibrate", override, f"hydra.run.dir={tmp_path / 'run'}"),
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {key}")
    assert not (tmp_path / "run" / "calibration.csv").exists()
