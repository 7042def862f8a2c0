"""An interrupt that a library re-raises as its own error (OmegaConf annotates an exception raised while
it builds a node and raises it again) still ends the command with one line and exit 130, in the config
check and while Hydra starts; without an interrupt the same error is a bug and is raised whole."""
import signal
import sys

import pytest

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


def test_the_same_error_without_an_interrupt_is_raised(app, monkeypatch):
    def boom(*_args, **_kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(runner, "command_line_error", boom)
    with pytest.raises(ValueError, match="a bug"):
        app()
