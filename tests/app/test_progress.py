"""Progress on stderr (issue 19): a terminal sees a bar within 2 s, even while no step completes;
a pipe gets a few log lines for work over 2 s, and nothing for quick work."""
import fcntl
import io
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time

import pytest

from model.app.progress import LOG_AFTER_S, SHOW_AFTER_S, progress_bar, progress_stages
from tests.helpers import ROOT, python_cmd


def read_available(fd: int, wait_s: float = 0.2) -> str:
    """What ``fd`` has to read within ``wait_s`` seconds (a bar redrawn faster than ``wait_s`` must not
    keep the caller reading until the stage ends)."""
    chunks, deadline = [], time.monotonic() + wait_s
    while select.select([fd], [], [], max(deadline - time.monotonic(), 0))[0]:
        chunks.append(os.read(fd, 4096))
        if time.monotonic() >= deadline:
            break
    return b"".join(chunks).decode(errors="replace")


def test_a_terminal_shows_the_stage_within_two_seconds_without_any_step_done():
    assert SHOW_AFTER_S < 2.0
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))  # a terminal of 80 columns
    stream = os.fdopen(follower, "w")
    try:
        with progress_bar("fitting the GPU model", unit="model runs", stream=stream) as progress:
            progress(0, 0)  # one long step begins: no further call for a while
            time.sleep(1.5)
            shown = read_available(leader)
        assert "fitting the GPU model" in shown and "model runs" in shown
    finally:
        stream.close()
        os.close(leader)


def test_a_pipe_gets_a_few_log_lines_for_long_work_and_none_for_quick_work():
    quick = io.StringIO()
    with progress_bar("evaluating scenarios", stream=quick) as progress:
        progress(1, 2)
        progress(2, 2)
    assert quick.getvalue() == ""
    slow = io.StringIO()
    with progress_bar("evaluating scenarios", unit="block", stream=slow) as progress:
        progress(3, 10)
        time.sleep(LOG_AFTER_S + 0.8)
        progress(10, 10)
    lines = slow.getvalue().splitlines()
    assert lines[0] == "evaluating scenarios: 3/10 block after 2 s"
    assert lines[-1].startswith("evaluating scenarios: done, 10/10 block in ") and len(lines) == 2


def test_stages_log_each_stage_under_its_own_name():
    out = io.StringIO()
    with progress_stages({"fit": ("fitting", "model runs"), "folds": ("leave-one-out fits", "fold")},
                         stream=out) as progress:
        progress("fit", 5, 0)
        time.sleep(LOG_AFTER_S + 0.8)
        progress("folds", 1, 4)
    lines = out.getvalue().splitlines()
    assert lines[0] == "fitting: 5 model runs after 2 s"
    assert lines[1].startswith("fitting: done, 5 model runs in ")
    assert len(lines) == 2  # the folds ended at once: silent


@pytest.mark.cli
def test_calibrate_on_a_terminal_shows_its_stages_long_before_it_ends(tmp_path):
    """Issue 19: serving-calibrate was silent for 92 s.  On a terminal its start and its fit now show
    (on a quiet machine the first line is drawn about a second after the command starts; see the
    report of issue 19 for the measurement), well before the fit ends."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen(python_cmd("-m", "model.app.calibrate", f"hydra.run.dir={tmp_path / 'run'}"), cwd=ROOT,
                            stdin=follower, stdout=follower, stderr=follower, start_new_session=True)
    os.close(follower)
    seen, deadline = "", time.monotonic() + 120
    try:
        while "fitting the GPU model" not in seen and time.monotonic() < deadline and proc.poll() is None:
            seen += read_available(leader, 0.2)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
        os.close(leader)
    assert "serving-calibrate: checking the config and starting" in seen
    assert "fitting the GPU model" in seen and "model runs" in seen
    assert not (tmp_path / "run" / "calibration.csv").exists()  # shown while the fit ran, before its end


def test_a_stage_that_counts_nothing_logs_its_elapsed_time():
    """Work that reports no steps (the grid evaluated and written on dask workers) logs how long it
    has run: no count, no unit."""
    out = io.StringIO()
    with progress_bar("evaluating and writing the grid on dask", unit="", stream=out) as progress:
        progress(0, 0)
        time.sleep(LOG_AFTER_S + 0.8)
    lines = out.getvalue().splitlines()
    assert lines[0] == "evaluating and writing the grid on dask: after 2 s"
    assert lines[1].startswith("evaluating and writing the grid on dask: done in ") and lines[1].endswith(" s")
    assert len(lines) == 2


def test_the_model_app_draws_its_figures_as_a_stage(tmp_path, monkeypatch, capsys):
    """serving-model spent 6 s of its 12 s drawing its four figures with nothing on stderr
    (2026-12-07, a 2-core AVX2 machine); they are a stage counted in figures now.  ``LOG_AFTER_S``
    is set to 0 so that a machine that draws them in under 2 s logs the stage too."""
    import model
    from model.app import grid, progress

    monkeypatch.setattr(progress, "LOG_AFTER_S", 0.0)
    grid.run(model.load_config(["grid.isl_points=4", "grid.concurrency_max=64"]), tmp_path)
    err = capsys.readouterr().err.splitlines()
    drawing = [line for line in err if line.startswith("drawing the figures: ")]
    assert drawing[0] == "drawing the figures: 0/4 figure after 0 s"
    assert drawing[-1].startswith("drawing the figures: done, 4/4 figure in ")
    for name in ("cost_vs_concurrency.png", "interactivity_vs_concurrency.png", "feasibility.png", "token_spend.png"):
        assert (tmp_path / name).stat().st_size > 0, name


def test_the_optimizer_counts_its_planning_steps(tmp_path, monkeypatch, capsys):
    """serving-optimize planned for 5 s with nothing on stderr (2026-12-07): the cheapest concurrency,
    the plan, the aggregated-only plan, the wafer's other prefill mode and the files are the five
    steps of one stage now, logged before the answer.  ``LOG_AFTER_S`` 0 as above."""
    from model.app import progress
    from optimize import load_config
    from optimize.job import run

    monkeypatch.setattr(progress, "LOG_AFTER_S", 0.0)
    run(load_config(), tmp_path)
    out = capsys.readouterr()
    planning = [line for line in out.err.splitlines() if line.startswith("planning the fleet: ")]
    assert planning[0] == "planning the fleet: 0/5 step after 0 s"
    assert planning[-1].startswith("planning the fleet: done, 5/5 step in ")
    assert out.out.startswith("Fleet plan: $3,547.63/h for 153 b200 + 77 cerebras_wse3 (optimal)")



def test_the_day_plan_counts_its_steps(tmp_path, monkeypatch, capsys):
    """The diurnal plan was silent for its 4 s of work (2026-12-07): the periods' plan, the files and
    the figure are three steps of one stage now, logged before the answer.  ``LOG_AFTER_S`` 0 as above."""
    from model.app import progress
    from optimize import load_config
    from optimize.day_job import run_day

    monkeypatch.setattr(progress, "LOG_AFTER_S", 0.0)
    run_day(load_config(["fleet.demand_profile=diurnal"]), tmp_path)
    out = capsys.readouterr()
    planning = [line for line in out.err.splitlines() if line.startswith("planning the day: ")]
    assert planning[0] == "planning the day: 0/3 step after 0 s"
    assert planning[-1].startswith("planning the day: done, 3/3 step in ")
    assert out.out.startswith("Fleet over 24 periods (diurnal): $85,963/day")
