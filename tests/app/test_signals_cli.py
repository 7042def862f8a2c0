"""The apps under a closed pipe, SIGTERM and Ctrl-C, and installed from a wheel (issue 12)."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.helpers import ROOT, python_cmd

pytestmark = pytest.mark.cli

BIG_ENOUGH = ["grid.isl_points=48", "plots.enabled=false"]  # a grid.nc of ~50 MB: a second or more to write


def test_a_reader_that_stops_early_gets_its_lines_and_the_run_still_writes_every_file(tmp_path):
    """``serving-optimize | head -3``: the app neither dies of BrokenPipeError nor skips its files."""
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(python_cmd("-m", "optimize", f"hydra.run.dir={run_dir}"), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    head = [proc.stdout.readline() for _ in range(3)]
    proc.stdout.close()  # as head does after its third line
    err = proc.stderr.read()
    assert proc.wait(timeout=300) == 0, err
    assert head[0].startswith("Fleet plan: $") and "Traceback" not in err and "BrokenPipe" not in err
    for name in ("best_concurrency.nc", "plan.csv", "plan.json"):
        assert (run_dir / name).stat().st_size > 0


def _interrupt_while_writing(tmp_path: Path, signum: int) -> tuple[int, str, Path]:
    """Start the model app, send ``signum`` once grid.nc's temporary file exists, return (code, stderr, dir)."""
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(python_cmd("-m", "model", *BIG_ENOUGH, f"hydra.run.dir={run_dir}"), cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not list(run_dir.glob(".grid.nc.*.tmp")):
        assert proc.poll() is None, "the run ended before it wrote grid.nc"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.2)  # inside h5py's write
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err, run_dir


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_the_netcdf_write_exits_130_and_leaves_no_file(tmp_path, signum):
    """h5py swallows the KeyboardInterrupt raised while it writes: the run must still stop, with
    one line, exit 130, no grid.nc and no temporary file."""
    code, err, run_dir = _interrupt_while_writing(tmp_path, signum)
    assert code == 130, err
    lines = [line for line in err.strip().splitlines() if not line.startswith("evaluating the grid: ")]  # progress
    assert len(lines) == 1 and lines[0].startswith("error: interrupted: the run stopped; files not yet complete "
                                                   "were removed"), lines
    assert not (run_dir / "grid.nc").exists()
    assert not list(run_dir.glob(".*.tmp"))
    assert (run_dir / "INCOMPLETE").exists()  # the directory says it holds a partial run


def test_the_wheel_carries_the_data_and_calibrates_outside_the_repository(tmp_path):
    """Built as a wheel and unpacked away from the source tree, the calibrate command finds its
    benchmark points and configuration runs (package data), prints the answer first and writes
    its run directory, and leaves the installed catalog as it found it.  This is also the
    calibrate command's end-to-end test (the only run of it in the suite: ~50 s), and the guard of the
    configuration fit's errors (:func:`_assert_configuration_fit_errors`)."""
    wheels, source = tmp_path / "wheels", tmp_path / "source"
    # a copy of the source: setuptools leaves build/ where it builds, which must not be the repository
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "outputs", "multirun", "*.egg-info", "__pycache__", ".hypothesis", ".pytest_cache"))
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                            "-w", str(wheels), str(source)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    wheel = next(wheels.glob("*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "model/data/inferencex/gpu-benchmarks-inferencex.csv" in names
    assert "model/data/inferencex/inferencex-dsr1.csv" in names
    assert "conf/hardware/gpu_calibration.yaml" in names and "model/py.typed" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    work = tmp_path / "work"
    work.mkdir()
    (work / "model.py").write_text("raise SystemExit('the shadowing model.py ran')\n")
    code = ("import sys; sys.path.insert(0, sys.argv.pop(1)); sys.argv[0] = 'serving-calibrate'; "
            "import model; assert model.__file__.startswith(sys.path[0]), model.__file__; "
            "from model.app.calibrate import main; main()")
    installed = site / "conf/hardware/gpu_calibration.yaml"
    committed = (ROOT / "conf/hardware/gpu_calibration.yaml").read_text()
    before, status_before = installed.read_text(), _git_status("conf")
    run_dir = tmp_path / "run"
    result = subprocess.run([sys.executable, "-I", "-c", code, str(site), "plots.enabled=true",
                             f"hydra.run.dir={run_dir}"], cwd=work, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    assert "interactivity: median |error| 7.2%" in result.stdout and "ttft: median |error|" in result.stdout
    assert "throughput_per_gpu: median |error|" in result.stdout
    assert "compute_efficiency: not identified by the data: catalog value kept" in result.stdout
    # the answer first (issue 19): errors and fitted values; the 22 points' table waits for output.detail=true
    lines = result.stdout.splitlines()
    points = (run_dir / "calibration.csv").read_text().count("\n") - 1  # a header, then a row per point
    assert points >= 22 and lines[0].startswith(f"GPU decode model fitted to {points} InferenceX points")
    assert "deepseek_r1" not in result.stdout and all(len(line) <= 100 for line in lines[:-1])
    # docs/model.md §10: the configuration runs found in the installed package, fitted and tabled per regime
    assert "configuration runs (model/data/inferencex/inferencex-dsr1.csv)" in result.stdout
    for name in ("calibration.csv", "calibration.json", "gpu_calibration.yaml", "predicted_vs_measured.png",
                 "configurations.csv", "regimes.csv", "configurations.json", "configurations_vs_measured.png"):
        assert (run_dir / name).stat().st_size > 0, name
    assert before == committed
    # the committed catalog, reproduced: its keys and strings exactly, its fitted numbers to 1e-4
    # (they are written to 6 digits; least squares on another CPU, whose numpy differs in the last bit,
    # lands up to a unit of the sixth apart: 0.122637 against 0.122638 on an AVX2 machine)
    _assert_same_catalog(yaml.safe_load((run_dir / "gpu_calibration.yaml").read_text()), yaml.safe_load(committed))
    assert installed.read_text() == before and _git_status("conf") == status_before
    _assert_configuration_fit_errors(run_dir)


def _assert_same_catalog(written, committed, where: str = "gpu_calibration.yaml") -> None:
    """``written`` equals ``committed`` key by key and string by string, every number to 1e-4."""
    if isinstance(committed, dict):
        assert isinstance(written, dict) and written.keys() == committed.keys(), where
        for key in committed:
            _assert_same_catalog(written[key], committed[key], f"{where}.{key}")
    elif isinstance(committed, list):
        assert isinstance(written, list) and len(written) == len(committed), where
        for i, (w, c) in enumerate(zip(written, committed)):
            _assert_same_catalog(w, c, f"{where}[{i}]")
    elif isinstance(committed, (int, float)) and not isinstance(committed, bool):
        assert written == pytest.approx(committed, rel=1e-4), where
    else:
        assert written == committed, where


def _assert_configuration_fit_errors(run_dir) -> None:
    """The configuration fit's regression guard, at the figures it reaches (docs/accuracy.md: 8.35 /
    18.70 / 9.16% and 11.31 / 24.89 / 12.34% on an AVX2 machine; from starts 1% off, 8.69-8.70 /
    19.72-19.76 / 9.11-9.16% and 10.37-10.39 / 23.33-23.42 / 12.81-12.82%): aggregated runs median
    |error| <= 9.2% interactivity, <= 20% TTFT and <= 9.8% output tok/s per GPU (issue 18's targets
    10, 20, 12%); disaggregated runs <= 11.8%, <= 25.5% and <= 13.2% (targets 12, 25, 15%): a margin
    of 0.5-1.4 points for the fit's noise (0.6 on disaggregated TTFT, where 0.5 is above the
    target: another machine's arithmetic moves the fit as a start 1% off does); no fitted
    parameter at a bound.  Each kept form fails it when taken out (each figure the fit before the
    next form was added): without each stack's FP4 prefill factor (``fp4_prefill_speed``) 8.87 /
    19.72 / 9.70% and 10.98 / 26.62 / 12.82%; without the runs' recipes (``calibration.configuration_recipes``: each
    TensorRT-LLM run's decode max_batch_size) 8.77 / 18.79 / 9.71% and 10.84 / 29.69 / 13.20%
    (8.8 / 18.9 / 9.6% and 10.8 / 29.8 / 13.0% on an earlier machine); without the dp-attention pools' latency
    factor 8.81 / 18.93 / 9.61% and 11.37 / 31.49 / 13.29%; with the prefill pool's speed on a request's
    own prefill too, not only on the pool's busy time, 8.66 / 19.20 / 9.55% and 10.88 / 35.42 /
    13.22%; without the recipes' batch per rank on
    TensorRT-LLM's attention-DP decode workers 8.57 / 19.16 / 9.53% and 11.52 / 37.24 / 13.87%;
    without the MTP draft count per batch
    (TensorRT-LLM's attention-DP workers at three drafts whatever the batch) 8.97 / 19.5 / 10.05%
    and 12.03 / 37.3 / 13.85%; without the decode attention term 9.8 / 20.3 / 10.6% and 15.8 /
    36.7 / 14.5%; without the benchmark's tail (output tok/s read as the steady state) 9.75 / 19.2
    / 9.7% and 13.0 / 37.2 / 14.5%; without the pool stage (``FIT_STAGES``) 9.0 / 19.5 / 10.0% and
    12.4 / 40.6 / 14.1%."""
    regimes = pd.read_csv(run_dir / "regimes.csv", index_col="regime")
    agg, disagg = regimes.loc["all agg"], regimes.loc["all disagg"]
    assert agg.intvty_errmed <= 9.2 and agg.ttft_errmed <= 20.0 and agg.tput_gpu_errmed <= 9.8, agg
    assert disagg.intvty_errmed <= 11.8 and disagg.ttft_errmed <= 25.5 and disagg.tput_gpu_errmed <= 13.2, disagg
    assert json.loads((run_dir / "configurations.json").read_text())["at_bound"] == []


def _git_status(path: str) -> str:
    return subprocess.run(["git", "status", "--porcelain", "--", path], cwd=ROOT, capture_output=True,
                          text=True).stdout


@pytest.mark.parametrize("delay_s, signum", [(0.3, signal.SIGINT), (0.8, signal.SIGINT), (1.5, signal.SIGTERM),
                                             (3.0, signal.SIGINT)])
def test_a_signal_in_the_first_seconds_is_one_line_and_exit_130(tmp_path, delay_s, signum):
    """Signals while the command still imports, checks its config or starts Hydra: the console
    entry point (model.app.early) and then the app install handlers before any work, so the
    command ends with one line and 130, never a KeyboardInterrupt traceback or a silent -15."""
    command = [str(Path(sys.executable).parent / "serving-optimize"), f"hydra.run.dir={tmp_path / 'run'}"]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(delay_s)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, (process.returncode, stderr[-2000:])
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: interrupted"), stderr[-2000:]
