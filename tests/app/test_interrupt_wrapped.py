"""An interrupt that a library re-raises as its own error (OmegaConf annotates an exception raised while
it builds a node and raises it again) still ends the command with one line and exit 130, in the config
check and while Hydra starts; without an interrupt the same error is a bug and is raised whole."""
import signal
import sys

import pytest
from omegaconf import OmegaConf

from model.app import io, runner


def _boom_after_the_signal(*_args, **_kwargs):
    """What a SIGINT inside OmegaConf's node building came out as once: the handler's flag is set
    (:func:`model.app.runner.stop_on_signal`), but the exception is a library's, not KeyboardInterrupt."""
    io.STOP_REQUESTED.set()
    raise ValueError("Unexpected object\n    full_key: calibration\n    object_type=None")


@pytest.fixture
def app(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["serving-model"])
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    hook = sys.unraisablehook
    yield lambda: runner.hydra_main("model", lambda cfg: None, lambda cfg: cfg, lambda: None)
    io.STOP_REQUESTED.clear()
    signal.signal(signal.SIGINT, handlers[0])
    signal.signal(signal.SIGTERM, handlers[1])
    sys.unraisablehook = hook


def test_a_wrapped_interrupt_in_the_config_check_is_one_line_and_130(app, monkeypatch, capsys):
    monkeypatch.setattr(runner, "command_line_error", _boom_after_the_signal)
    with pytest.raises(SystemExit) as stopped:
        app()
    assert stopped.value.code == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: interrupted") and not any("Traceback" in line for line in err)


def test_a_wrapped_interrupt_while_hydra_starts_is_one_line_and_130(app, monkeypatch, capsys):
    """An error that escapes Hydra's start (it composes the config again) after the signal."""
    monkeypatch.setattr(runner.hydra, "main", lambda **_kwargs: (lambda function: _boom_after_the_signal))
    with pytest.raises(SystemExit) as stopped:
        app()
    assert stopped.value.code == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: interrupted") and not any("Traceback" in line for line in err)


def test_a_wrapped_interrupt_while_hydra_composes_is_one_line_and_130(app, monkeypatch, capsys):
    """An error raised while Hydra composes the config after the signal: Hydra would print it and
    exit 1 (seen under load: a SIGTERM 1.1 s into serving-optimize, "full_key: gb300_nvl72.uncertain")
    unless told to raise it (``runner.errors_raised_by_hydra``); raised, it is the interrupt's one
    line and 130.  Hydra's run, whose first step composes the config, is patched to fail so."""
    from hydra._internal.hydra import Hydra

    monkeypatch.setattr(Hydra, "run", _boom_after_the_signal)
    with pytest.raises(SystemExit) as stopped:
        app()
    assert stopped.value.code == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: interrupted"), err


def test_a_wrapped_interrupt_in_the_job_is_one_line_and_130(monkeypatch, tmp_path, capsys):
    """The same inside the job (here its config check): one line, 130 (``os._exit``, patched here to
    raise), never the traceback of a bug nor Hydra's "Error executing job" line."""
    def fake_exit(code):
        raise SystemExit(code)

    monkeypatch.setattr(runner.os, "_exit", fake_exit)
    monkeypatch.setattr(runner, "output_dir", lambda: tmp_path)
    monkeypatch.setattr(runner, "in_multirun", lambda: False)
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    hook = sys.unraisablehook
    try:
        with pytest.raises(SystemExit) as stopped:
            runner.run_job(lambda cfg, out: None, OmegaConf.create({}), _boom_after_the_signal)
    finally:
        io.STOP_REQUESTED.clear()
        signal.signal(signal.SIGINT, handlers[0])
        signal.signal(signal.SIGTERM, handlers[1])
        sys.unraisablehook = hook
    assert stopped.value.code == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: interrupted"), err
    assert (tmp_path / io.INCOMPLETE).exists()  # the directory stays marked as partial


def test_the_same_error_without_an_interrupt_is_raised(app, monkeypatch):
    def boom(*_args, **_kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(runner, "command_line_error", boom)
    with pytest.raises(ValueError, match="a bug"):
        app()


def test_a_wrapped_interrupt_in_the_check_is_not_bad_input(app, monkeypatch, capsys):
    """The config check turns a composition error into a bad-input line (exit 2); after the signal
    the same error is the interrupt's (130), not a refusal of the user's input."""
    def problem_after_the_signal(*_args, **_kwargs):
        io.STOP_REQUESTED.set()
        return "calibration: Unexpected object"

    monkeypatch.setattr(runner, "command_line_error", problem_after_the_signal)
    with pytest.raises(SystemExit) as stopped:
        app()
    assert stopped.value.code == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: interrupted"), err
