"""The console commands' entry points: signal handlers first, then the app.

A Ctrl-C or SIGTERM that arrives while an app's modules are still being imported would print a
``KeyboardInterrupt`` traceback (or end the process silently, for SIGTERM). Each entry point here
installs a handler before importing anything of the app: until the app installs its own (which
unwinds the run and removes temporary files), a signal ends the command with one line and exit
code 130, nothing having been written yet.
"""
from __future__ import annotations

import importlib
import os
import signal
import sys

EXIT_INTERRUPTED = 130


def stop_before_start(signum: int, frame: object) -> None:
    """End the command at once: nothing has been written before the app's own handler is in place."""
    sys.stderr.write("error: interrupted before the run started; nothing was written\n")
    sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)


def _run(target: str) -> None:
    signal.signal(signal.SIGINT, stop_before_start)
    signal.signal(signal.SIGTERM, stop_before_start)
    module_name, _, name = target.partition(":")
    getattr(importlib.import_module(module_name), name)()


def serving_model() -> None:
    """``serving-model``."""
    _run("model.__main__:main")


def serving_optimize() -> None:
    """``serving-optimize``."""
    _run("optimize.__main__:main")


def serving_sensitivity() -> None:
    """``serving-sensitivity``."""
    _run("sensitivity.__main__:main")


def serving_calibrate() -> None:
    """``serving-calibrate``."""
    _run("model.app.calibrate:main")


def serving_uncertainty() -> None:
    """``serving-uncertainty``."""
    _run("sensitivity.uncertainty.__main__:main")
