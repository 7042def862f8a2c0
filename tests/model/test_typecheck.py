"""mypy passes on the cost model core (model/ minus model/app/ and model/__main__.py), strictly
but for the per-module relaxations of pyproject.toml's [tool.mypy], each listed with its reason."""
import subprocess
import sys

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.cli


def core_files() -> list[str]:
    """The core's modules: every file of model/ but the app layer and the command line."""
    return sorted(str(p.relative_to(ROOT)) for p in (ROOT / "model").glob("*.py") if p.name != "__main__.py")


def test_the_core_is_what_mypy_checks():
    files = core_files()
    assert "model/evaluate.py" in files and "model/schema.py" in files
    assert not any(f.startswith("model/app/") or f.endswith("__main__.py") for f in files)


def test_mypy_passes_on_the_core():
    run = subprocess.run([sys.executable, "-m", "mypy", *core_files()], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "Success: no issues found" in run.stdout
