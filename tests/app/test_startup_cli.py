"""Start-up: ``--help``, ``--version`` and a refused value load none of the heavy libraries.

Speed itself is shown by measurement (the report of issue 19: ``serving-optimize --help`` about
0.5 s, a refused value about 0.9 s, against 4 s and 2.5 s before); these tests pin down what makes
it fast, which does not depend on the machine's load: the libraries a job needs (xarray, pyomo,
matplotlib, scipy, SALib, h5netcdf) are not imported to print help or the version.
"""
import json
import subprocess

import pytest

import model
from tests.helpers import ROOT, python_cmd

pytestmark = pytest.mark.cli

APPS = {"optimize": "optimize.__main__", "model": "model.__main__", "sensitivity": "sensitivity.__main__",
        "uncertainty": "sensitivity.uncertainty.__main__", "calibrate": "model.app.calibrate"}
HEAVY = ("xarray", "pyomo", "matplotlib", "scipy", "SALib", "h5netcdf", "pandas")

# Run an app's main() in a child with the given arguments, then print which heavy libraries it loaded.
PROBE = """
import importlib, json, sys
module, args, heavy = sys.argv[1], sys.argv[2:], {heavy!r}
sys.argv = ["app", *args]
try:
    importlib.import_module(module).main()
except SystemExit as stop:
    code = stop.code
print(json.dumps({{"code": code, "loaded": [name for name in heavy if name in sys.modules]}}), file=sys.stderr)
"""


def probe(module, *args):
    result = subprocess.run(python_cmd("-c", PROBE.format(heavy=HEAVY), module, *args), cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    return result, json.loads(result.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("app", sorted(APPS))
def test_help_loads_no_heavy_library(app):
    result, seen = probe(APPS[app], "--help")
    assert seen == {"code": 0, "loaded": []}, result.stderr
    assert result.stdout.startswith(f"serving-{app}: the LLM serving cost toolkit")
    assert "--multirun,-m" in result.stdout  # Hydra's flags are still listed


def test_version_is_the_toolkit_s():
    result = subprocess.run(python_cmd("-m", "optimize", "--version"), cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(f"llm-serving-economics {model.__version__} ")
    assert model.__version__ not in ("", "0+unknown")  # the test venv installs the project


def test_refused_value_loads_no_solver_plot_or_fitting_library():
    result, seen = probe("optimize.__main__", "sla.min_interactivity=-1")
    assert seen["code"] == 2
    assert result.stderr.splitlines()[0] == "error: sla.min_interactivity=-1.0: must be a finite number >= 0"
    assert not set(seen["loaded"]) & {"pyomo", "matplotlib", "scipy", "SALib", "h5netcdf"}, seen


# Run the model app's main() in a child, counting Hydra's config compositions (each about 0.6 s).
COUNT = """
import sys
from hydra._internal.config_loader_impl import ConfigLoaderImpl
count, compose = [], ConfigLoaderImpl.load_configuration
ConfigLoaderImpl.load_configuration = lambda self, *a, **k: count.append(1) or compose(self, *a, **k)
sys.argv = ["serving-model", *sys.argv[1:]]
try:
    from model.__main__ import main
    main()
finally:
    print("compositions", len(count), file=sys.stderr)
"""


@pytest.mark.parametrize("extra, compositions", [([], 2), (["hydra.mode=RUN"], 3)], ids=["default", "hydra.mode"])
def test_a_run_composes_its_config_once_after_the_check(tmp_path, extra, compositions):
    """The check before Hydra starts composes the config; Hydra 1.3 then composed it twice more,
    once only to read ``hydra.mode``.  The check's mode is used instead (one composition less per
    run), unless a ``hydra.*`` override could change the mode: then Hydra looks it up itself."""
    run_dir = tmp_path / "run"
    result = subprocess.run(python_cmd("-c", COUNT, "grid.isl_points=2", "grid.concurrency_max=64",
                                       "plots.enabled=false", *extra, f"hydra.run.dir={run_dir}"),
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"compositions {compositions}"
    assert (run_dir / "grid.nc").stat().st_size > 0
