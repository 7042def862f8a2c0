"""Bad input on the command line (SPEC §7): one line on stderr, exit 2, nothing written."""
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
