"""Progress on stderr (issue 19): a terminal sees a bar within 2 s, even while no step completes;
a pipe gets a few log lines for work over 2 s, and nothing for quick work."""
import fcntl
import io
import os
import pty
import select
import struct
import termios
import time

from model.app.progress import LOG_AFTER_S, SHOW_AFTER_S, progress_bar, progress_stages


def read_available(fd: int, wait_s: float = 0.2) -> str:
    chunks = []
    while select.select([fd], [], [], wait_s)[0]:
        chunks.append(os.read(fd, 4096))
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
