"""``python -m model.app.calibrate`` end to end."""
import subprocess

import pytest

from tests.helpers import ROOT, python_cmd

pytestmark = pytest.mark.cli


def test_calibrate_command_prints_the_error_table(tmp_path):
    run_dir = tmp_path / "run"
    before = (ROOT / "conf/hardware/gpu_calibration.yaml").read_text()
    result = subprocess.run(python_cmd("-m", "model.app.calibrate", "calibration.write=false", "plots.enabled=true",
                                       f"hydra.run.dir={run_dir}"),
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "interactivity: median |error|" in result.stdout and "throughput_per_gpu: median |error|" in result.stdout
    assert result.stdout.count("deepseek_r1") >= 22
    for name in ("calibration.csv", "calibration.json", "predicted_vs_measured.png"):
        assert (run_dir / name).stat().st_size > 0
    assert (ROOT / "conf/hardware/gpu_calibration.yaml").read_text() == before
