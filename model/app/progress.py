"""Progress of long work, one stage at a time, on stderr.

On a terminal a stage draws a bar (tqdm) once it has run :data:`SHOW_AFTER_S`, refreshed every
:data:`REFRESH_S` even while no step completes, and removes it when done.  Written to a pipe or a
file, a stage that runs past :data:`LOG_AFTER_S` logs a few lines instead: how far it is at most
every :data:`LOG_EVERY_S`, and one line when it ends.  Work that ends sooner stays silent.

The callback a stage yields takes ``(done, total)``; ``total`` 0 means "not known" (a fit's
model evaluations), shown as a count.
"""
from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

SHOW_AFTER_S = 0.5   # a terminal's bar appears after this long
REFRESH_S = 0.5      # and is redrawn at least this often (the elapsed time moves on)
LOG_AFTER_S = 2.0    # a pipe's first log line: work longer than this
LOG_EVERY_S = 15.0   # and at most one line this often until the stage ends


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Stage:
    """One stage's progress: a ``(done, total)`` callback that draws or logs (see the module)."""

    def __init__(self, description: str, unit: str, stream: TextIO, terminal: bool,
                 clock: Callable[[], float] = time.monotonic, log: bool = True) -> None:
        self.description, self.unit, self.stream, self.terminal = description, unit, stream, terminal
        self.log = log  # False: a terminal's bar only, nothing written to a pipe
        self.clock = clock
        self.start = clock()
        self.done, self.total = 0, 0
        self.bar = None
        self.logged_at: float | None = None
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.ticker: threading.Thread | None = None

    def __call__(self, done: int, total: int) -> None:
        with self.lock:
            self.done, self.total = int(done), int(total)
        self.tick()

    def where(self) -> str:
        """``12/40 block`` or ``12 evaluations``; empty for a stage that counts nothing (``unit`` "":
        work that reports no steps, shown by its elapsed time only)."""
        if self.total:
            return f"{self.done:,}/{self.total:,} {self.unit}"
        return f"{self.done:,} {self.unit}" if self.unit else ""

    def tick(self) -> None:
        """Draw (terminal) or log (pipe) if it is time to."""
        elapsed = self.clock() - self.start
        with self.lock:
            if self.terminal:
                if elapsed < SHOW_AFTER_S:
                    return
                if self.bar is None:
                    from tqdm import tqdm

                    self.bar = tqdm(total=self.total or None, desc=self.description, unit=f" {self.unit}",
                                    leave=False, file=self.stream, dynamic_ncols=True, mininterval=0.1)
                if self.total and self.bar.total != self.total:
                    self.bar.total = self.total
                self.bar.n = self.done
                self.bar.refresh()
            elif self.log and elapsed >= LOG_AFTER_S and (self.logged_at is None
                                                         or elapsed - self.logged_at >= LOG_EVERY_S):
                self.logged_at = elapsed
                where = self.where()
                print(f"{self.description}: {where + ' ' if where else ''}after {elapsed:.0f} s",
                      file=self.stream, flush=True)

    def run_ticker(self) -> None:
        """Redraw or log from a thread while the stage runs, so a step longer than the delays shows too."""
        def loop() -> None:
            while not self.stop.wait(REFRESH_S):
                self.tick()

        self.ticker = threading.Thread(target=loop, name=f"progress: {self.description}", daemon=True)
        self.ticker.start()

    def close(self, finished: bool = True) -> None:
        """End the stage: remove the bar, or log how long it took (a pipe, a stage that ``finished``
        after :data:`LOG_AFTER_S`)."""
        self.stop.set()
        if self.ticker is not None:
            self.ticker.join()
        elapsed = self.clock() - self.start
        with self.lock:
            if self.bar is not None:
                self.bar.close()
            if finished and self.log and not self.terminal and elapsed >= LOG_AFTER_S:
                where = self.where()
                print(f"{self.description}: done{', ' + where if where else ''} in {elapsed:.1f} s",
                      file=self.stream, flush=True)


@contextmanager
def progress_bar(description: str, unit: str = "block", stream: TextIO | None = None) -> Iterator[Stage]:
    """One stage of progress on ``stream`` (default stderr): a ``(done, total)`` callback.

    Parameters
    ----------
    description
        What the stage does, e.g. ``"fitting the GPU model"``.
    unit
        What ``done`` counts.
    stream
        Where to draw or log (default ``sys.stderr``).
    """
    stream = sys.stderr if stream is None else stream
    stage = Stage(description, unit, stream, _is_terminal(stream))
    stage.run_ticker()
    try:
        yield stage
    except BaseException:
        stage.close(finished=False)
        raise
    stage.close()


class Stages:
    """Progress of work in named stages: ``(stage, done, total)``; each new stage name closes the
    previous stage and opens its own (:class:`Stage`), described by ``descriptions[stage]``."""

    def __init__(self, descriptions: dict[str, tuple[str, str]], stream: TextIO | None = None) -> None:
        self.descriptions = descriptions
        self.stream = sys.stderr if stream is None else stream
        self.current: tuple[str, Stage] | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.current is None or self.current[0] != stage:
            self.close()
            description, unit = self.descriptions.get(stage, (stage, "step"))
            opened = Stage(description, unit, self.stream, _is_terminal(self.stream))
            opened.run_ticker()
            self.current = (stage, opened)
        self.current[1](done, total)

    def close(self, finished: bool = True) -> None:
        """Close the open stage."""
        if self.current is not None:
            self.current[1].close(finished)
            self.current = None


@contextmanager
def progress_stages(descriptions: dict[str, tuple[str, str]], stream: TextIO | None = None) -> Iterator[Stages]:
    """:class:`Stages` for the duration of a ``with`` block.

    Parameters
    ----------
    descriptions
        Stage name -> (what it does, what ``done`` counts).
    stream
        Where to draw or log (default ``sys.stderr``).
    """
    stages = Stages(descriptions, stream)
    try:
        yield stages
    except BaseException:
        stages.close(finished=False)
        raise
    stages.close()


def starting_stage(description: str, stream: TextIO | None = None) -> Stage:
    """A terminal-only stage for an app's start (checking the config, loading libraries) until
    its job begins; nothing is written to a pipe, so a refusal stays one line.  Close it with
    :meth:`Stage.close`."""
    stream = sys.stderr if stream is None else stream
    stage = Stage(description, "step", stream, _is_terminal(stream), log=False)
    stage.run_ticker()
    return stage
