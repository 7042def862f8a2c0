"""Hostile command-line input: exit 2 with one line naming the key, nothing written anywhere.

Each case was found by a probe of the apps (issue 23): it used to write outside the run directory,
answer $0 silently, wrap an integer, hang, or end in a traceback. Every case runs from a fresh
directory outside the repository; afterwards that directory holds nothing the run made and the
repository's ``git status`` is what it was.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.cli

BIN = Path(sys.executable).parent


def git_status() -> str:
    return subprocess.run(["git", "status", "--porcelain", "--ignored=no"], cwd=ROOT, capture_output=True,
                          text=True).stdout


def refused(app: str, *args: str, cwd: Path, says: str) -> None:
    before = git_status()
    existing = set(cwd.iterdir())
    result = subprocess.run([str(BIN / f"serving-{app}"), *args], cwd=cwd, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-2000:]
    assert says in lines[0], lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert set(cwd.iterdir()) == existing, "the refused run created files"
    assert git_status() == before, "the refused run changed the repository"


CASES = [
    # nothing written outside the run directory
    ("calibrate", ["calibration.write=true", "calibration.target=README.md"], "calibration.target='README.md'"),
    ("calibrate", ["calibration.write=true", "calibration.target=conf/hardware/catalog.yaml"], "calibration.target="),
    ("calibrate", ["calibration.write=true", "calibration.target=../x.yaml"], "calibration.target='../x.yaml'"),
    ("calibrate", ["calibration.write=true", "calibration.target=conf"], "calibration.target='conf'"),
    ("calibrate", ["calibration.write=true", "calibration.cross_validate=true", "calibration.error_target=README.md"],
     "calibration.error_target="),
    ("model", [f"hydra.run.dir={ROOT / 'conf' / 'hardware'}"], "inside the toolkit's own conf/"),
    ("optimize", [f"hydra.run.dir={ROOT / 'model'}"], "inside the toolkit's own model/"),
    ("model", ["hydra.run.dir=/dev/null"], "is a file"),
    ("model", ["hydra.run.dir=" + "x" * 300], "path too long"),
    # silently wrong answers, now refused by name
    ("optimize", ["fleet.demand.gpt_oss_120b=1e308"], "fleet.demand.gpt_oss_120b=1e+308"),
    ("optimize", ["fleet.demand_default=1e200"], "fleet.demand_default=1e+200"),
    ("optimize", ["fleet.isl.kind=lognormal", "fleet.isl.sigma=1e308"], "fleet.isl.sigma=1e+308"),
    ("model", ["hardware.cerebras_wse3.memory_gb=1e-300"], "hardware.cerebras_wse3.memory_gb=1e-300"),
    # overflows and sizes, refused with the value given and before any allocation
    ("model", ["workload.isl=9223372036854775807"], "workload.isl=9223372036854775807"),
    ("model", ["workload.isl=1e400"], "workload.isl="),
    ("model", ["grid.concurrency_max=10000000000"], "grid="),
    ("sensitivity", ["sensitivity.n=1099511627776"], "sensitivity.n=1099511627776"),
    ("optimize", ["fleet.solver.threads=100000"], "fleet.solver.threads=100000"),
    ("optimize", ["fleet.isl.kind=lognormal", "fleet.isl.buckets=1000000000"], "grid="),
    ("uncertainty", ["uncertainty.model_error.interactivity.sigma=1e308"],
     "uncertainty.model_error.interactivity.sigma=1e+308"),
    ("calibrate", ["calibration.data=README.md"], "calibration.data='README.md': not a readable CSV"),
    # flags no longer skip the checks
    ("optimize", ["--config-name", "model"], "--config-name=model"),
    ("model", ["--config-dir", str(ROOT / "docs" / "examples" / "own_catalog"), "workload.isl=-1"], "workload.isl=-1"),
    ("model", ["--multirun", "workload.isl=1000,-5"], "workload.isl=-5"),
]


@pytest.mark.parametrize("app, args, says", CASES, ids=[f"{c[0]}:{' '.join(c[1])[:60]}" for c in CASES])
def test_refused_in_one_line_and_nothing_written(tmp_path, app, args, says):
    refused(app, *args, cwd=tmp_path, says=says)


def test_a_file_in_the_run_dirs_path(tmp_path):
    (tmp_path / "f").write_text("")
    refused("model", f"hydra.run.dir={tmp_path / 'f' / 'run'}", cwd=tmp_path, says="is a file")


def test_another_runs_directory_with_plus_plus(tmp_path):
    run = tmp_path / "old"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "config.yaml").write_text("old: run\n")
    refused("model", f"++hydra.run.dir={run}", cwd=tmp_path, says="holds another run")
    assert (run / ".hydra" / "config.yaml").read_text() == "old: run\n"


def test_a_rerun_into_an_existing_sweep_directory(tmp_path):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "multirun.yaml").write_text("old: sweep\n")
    refused("model", "--multirun", "workload.isl=1000,2000", f"hydra.sweep.dir={sweep}", cwd=tmp_path,
            says="holds another run")
    assert (sweep / "multirun.yaml").read_text() == "old: sweep\n"


def test_malformed_yaml_in_a_config_dir(tmp_path):
    own = tmp_path / "own" / "hardware"
    own.mkdir(parents=True)
    (own / "mine.yaml").write_text("foo: [1, 2\n bar: :\n")
    refused("model", "--config-dir", str(tmp_path / "own"), "hardware=[catalog,gpu_calibration,mine]",
            cwd=tmp_path, says="not valid YAML")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to a read-only directory")
def test_a_read_only_parent(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        refused("model", f"hydra.run.dir={locked / 'run'}", cwd=tmp_path, says="not writable")
    finally:
        locked.chmod(0o700)


@pytest.fixture
def small_disk(tmp_path):
    """A 600 kB tmpfs (root only): too small for a grid.nc."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root); tests/app/test_io_disk.py injects the error")
    yield mount
    subprocess.run(["umount", str(mount)], capture_output=True)


def test_a_full_disk_is_one_line_exit_1_and_no_temporary_file(small_disk, tmp_path):
    run = small_disk / "run"
    result = subprocess.run([str(BIN / "serving-model"), f"hydra.run.dir={run}", "grid.isl_points=8"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    # a grid that takes over 2 s (a loaded machine, e.g. the suite on both cores) logs its progress
    # to the pipe first (model.app.progress); the error itself is one line, the last
    errors = [line for line in lines if not line.startswith("evaluating the grid: ")]
    assert errors == lines[-1:] and "no space left on device" in lines[-1], result.stderr[-2000:]
    assert not list(run.glob(".*.tmp")) and not (run / "grid.nc").exists()
    assert (run / "INCOMPLETE").exists()
