"""What the Hydra apps share: one-line errors, exit codes, run directories, multirun jobs.

Each app's ``__main__`` is one call, :func:`hydra_main`: it registers the app's schemas,
hands Hydra the primary config, validates it and runs the app's job.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from model.app import io
from model.app.progress import Stage, starting_stage
from model.config import CONF_DIR, compose_config, composition_error
from model.errors import ConfigError

if TYPE_CHECKING:  # the apps' heavy libraries load when a job runs, not for --help or a refusal
    import xarray as xr

EXIT_OK, EXIT_INFEASIBLE, EXIT_BAD_INPUT = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C
STARTING: list[Stage] = []  # the app's start on a terminal (config checks, imports) until its job begins


def end_start() -> None:
    """Close the start's progress stage (:func:`model.app.progress.starting_stage`), if open."""
    while STARTING:
        STARTING.pop().close(finished=False)


def stop_on_signal(signum: int, frame: object) -> None:
    """Turn SIGINT and SIGTERM into KeyboardInterrupt: the run unwinds, temporary files are
    removed.  The flag :data:`model.app.io.STOP_REQUESTED` keeps the request if a library
    swallows the exception (h5py does, while it writes)."""
    io.STOP_REQUESTED.set()
    raise KeyboardInterrupt



def quiet_interrupts(unraisable: sys.UnraisableHookArgs) -> None:
    """Report unraisable exceptions as Python does, except the interrupt :func:`stop_on_signal`
    raised inside a callback (a weakref finalizer, say): the flag keeps that request, and the
    run ends with its one line."""
    if not isinstance(unraisable.exc_value, KeyboardInterrupt):
        sys.__unraisablehook__(unraisable)

Job = Callable[[DictConfig, Path], "JobResult"]


class ClosedPipeSafe:
    """Standard output that survives its reader going away (``serving-optimize | head -3``).

    On the first ``BrokenPipeError`` the stream's descriptor is pointed at ``/dev/null`` and the
    job goes on: its files are still written and its exit code is still the answer's.
    """

    def __init__(self, stream) -> None:
        self._stream = stream

    def _divert(self) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self._stream.fileno())
        os.close(devnull)

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._divert()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._divert()

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


@dataclass(frozen=True)
class JobResult:
    """What a job returns: its exit code and its headline results (collected by sweeps)."""

    code: int
    headline: xr.Dataset | None = None
    status: str = "ok"  # ok, infeasible


def output_dir() -> Path:
    """The Hydra run (or sweep job) directory."""
    return Path(HydraConfig.get().runtime.output_dir)


def in_multirun() -> bool:
    """True inside a Hydra multirun job."""
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def use_file_backend() -> None:
    """Plots are written to files, never shown: the apps (not the plot functions) choose Agg."""
    import matplotlib

    matplotlib.use("Agg")


def run_job(job: Job, cfg: DictConfig, validate: Callable[[DictConfig], DictConfig]) -> None:
    """Validate ``cfg``, run ``job(cfg, output_dir)`` and exit with its code.

    Bad input ends in one line on stderr, ``error: <key>=<value>: <what is allowed>``, and
    exit code 2, before any work is done.  In a multirun the job never exits or raises: it
    records ``job.json`` (status, error) and ``headline.nc`` in its directory for
    :class:`model.app.sweep.CollectSweep`, so that one failed job does not stop the others.
    """
    from model.app.sweep import HEADLINE, STATUS

    end_start()
    use_file_backend()
    out = output_dir()
    multirun = in_multirun()
    # SIGTERM unwinds like Ctrl-C, so the atomic writes' finally blocks remove their temporary files
    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGINT, stop_on_signal)
    sys.unraisablehook = quiet_interrupts
    try:
        result = job(validate(cfg), out)
        if io.STOP_REQUESTED.is_set():  # interrupted inside a library that swallowed it
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        print("error: interrupted: the run stopped; files not yet complete were removed", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except (ConfigError, io.OutputExistsError) as err:
        if multirun:
            io.write_text(json.dumps({"status": "failed", "error": f"error: {err}"}), out / STATUS)
        print(f"error: {err}", file=sys.stderr)
        if multirun:
            return
        sys.exit(EXIT_BAD_INPUT)
    except Exception as err:  # noqa: BLE001 - a multirun job reports any failure and lets the others run
        if not multirun:
            raise
        line = f"{type(err).__name__}: {err}".splitlines()[0]
        io.write_text(json.dumps({"status": "failed", "error": line, "traceback": traceback.format_exc()}),
                      out / STATUS)
        print(f"error: {line}", file=sys.stderr)
        return
    if multirun:
        if result.headline is not None:
            io.write_netcdf(result.headline, out / HEADLINE)
        io.write_text(json.dumps({"status": result.status, "exit_code": result.code}), out / STATUS)
        return
    if result.code:
        sys.exit(result.code)


def input_error(config_name: str, overrides: list[str],
                validate: Callable[[DictConfig], DictConfig]) -> str | None:
    """The one-line reason why ``overrides`` are bad input, or None: what Hydra would refuse (a
    misspelled key, a wrong type, bad override syntax: Hydra prints those as several lines and
    exits 1) and what the app's validation refuses.  Checked before Hydra creates a run directory,
    so bad input writes nothing."""
    try:
        validate(compose_config(config_name, overrides))
    except ConfigError as err:
        return str(err)
    except (HydraException, OmegaConfBaseException) as err:  # raised by validation's own merges
        return str(composition_error(err, overrides))
    return None


MULTIRUN_FLAGS = ("--multirun", "-m")


def sweep_input_error(config_name: str, overrides: list[str],
                      validate: Callable[[DictConfig], DictConfig]) -> str | None:
    """:func:`input_error` for a multirun: every value of every swept key is checked once.

    The sweep's syntax (``a=1,2``, ``range(...)``, ``choice(...)``) is parsed as Hydra parses it.
    Each value of each swept key is composed with every other key at its first value, so a
    misspelled key, a wrong type or a value out of range is refused in one line before any job
    starts; checking every combination would compose the whole sweep.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except HydraException as err:
        return str(err).splitlines()[0].strip()
    choices: list[list[str]] = []
    for override in parsed:
        key = override.get_key_element()
        if override.is_sweep_override():
            try:
                values = list(override.sweep_string_iterator())
            except Exception:  # noqa: BLE001 - a sweep Hydra can expand only at launch (e.g. glob)
                values = []
            choices.append([f"{key}={v}" for v in values] or [override.input_line])
        else:
            choices.append([override.input_line])
    first = [c[0] for c in choices]
    for i, options in enumerate(choices):
        for option in options[1:] if i else options:
            problem = input_error(config_name, first[:i] + [option] + first[i + 1:], validate)
            if problem is not None:
                return problem
    if not choices:
        return input_error(config_name, [], validate)
    return None


def occupied_run_dir(overrides: list[str]) -> str | None:
    """A refusal when ``hydra.run.dir`` names a directory that already holds a run (its
    ``.hydra/``): Hydra would rewrite that run's recorded config before the job could refuse."""
    for item in overrides:
        key, _, value = item.partition("=")
        if key == "hydra.run.dir" and (Path(value) / ".hydra").exists():
            return f"{value} holds another run: refusing to overwrite another run's output; choose a new hydra.run.dir"
    return None


def deferred(target: str) -> Callable:
    """A function that imports ``target`` (``"package.module:name"``) when first called and calls it.

    The apps hand their job and validation to :func:`hydra_main` this way, so that ``--help``,
    ``--version`` and Hydra's own flags load none of the libraries the job needs.

    Parameters
    ----------
    target
        ``"module:attribute"`` naming a function.
    """
    module_name, _, name = target.partition(":")

    def call(*args, **kwargs):
        import importlib

        return getattr(importlib.import_module(module_name), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"{target}, imported when first called."
    return call


def version_line() -> str:
    """What ``--version`` prints: the toolkit's version (and the Hydra it runs on)."""
    from model import __version__

    return f"llm-serving-economics {__version__} (Hydra {hydra.__version__})"


HELP_FLAGS = ("--help", "-h")


def app_help(config_name: str, overrides: list[str]) -> str:
    """The page ``--help`` prints: ``hydra.help.template`` of ``conf/hydra/default.yaml``, as Hydra
    fills it, without Hydra's listing of every config group (which copies the whole config store
    once per group and took over a second).

    Parameters
    ----------
    config_name
        The app's primary config.
    overrides
        Overrides given beside ``--help`` (they may change the page, e.g. ``hydra.help.app_name``).
    """
    import string

    from hydra import compose, initialize_config_dir
    from hydra._internal.hydra import Hydra  # Hydra's own flags, listed as its --help lists them (Hydra < 1.4)
    from hydra._internal.utils import get_args_parser

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3", job_name=config_name):
        cfg = compose(config_name=config_name, overrides=overrides, return_hydra_config=True)
    flags = Hydra.format_args_help(get_args_parser()).replace("Show Hydra's version and exit",
                                                               "Show the toolkit's (and Hydra's) version and exit")
    template = string.Template(cfg.hydra.help.template)
    return template.safe_substitute(FLAGS_HELP=flags, HYDRA_CONFIG_GROUPS="", APP_CONFIG_GROUPS="",
                                    CONFIG="(see the README's config reference)")


def hydra_main(config_name: str, job: Job, validate: Callable[[DictConfig], DictConfig],
               register: Callable[[], None]) -> None:
    """Run ``job`` as a Hydra app on ``conf/<config_name>.yaml`` (the body of an app's ``__main__``).

    Overrides Hydra would refuse end in one line on stderr and exit code 2 before Hydra starts
    (single runs; a multirun's sweep syntax is Hydra's to parse).  ``--version`` prints the
    toolkit's version.
    """
    if not isinstance(sys.stdout, ClosedPipeSafe):
        sys.stdout = ClosedPipeSafe(sys.stdout)
    if "--version" in sys.argv[1:]:
        print(version_line())
        sys.exit(EXIT_OK)
    register()
    if any(a in HELP_FLAGS for a in sys.argv[1:]):
        try:
            page = app_help(config_name, [a for a in sys.argv[1:] if not a.startswith("-")])
        except (HydraException, OmegaConfBaseException) as err:
            print(f"error: {composition_error(err, sys.argv[1:])}", file=sys.stderr)
            sys.exit(EXIT_BAD_INPUT)
        print(page)
        sys.exit(EXIT_OK)
    args = sys.argv[1:]
    flags = [a for a in args if a.startswith("-")]
    multirun = bool(flags) and all(f in MULTIRUN_FLAGS for f in flags)
    if not flags or multirun:  # other flags (--help, --cfg, ...) are Hydra's own
        STARTING.append(starting_stage(f"serving-{config_name}: checking the config and starting"))
        overrides = [a for a in args if not a.startswith("-")
                     and not a.lstrip("+~").startswith(("hydra.", "hydra/"))]
        problem = (sweep_input_error(config_name, overrides, validate) if multirun
                   else input_error(config_name, overrides, validate) or occupied_run_dir(args))
        if problem is not None:
            end_start()
            print(f"error: {problem}", file=sys.stderr)
            sys.exit(EXIT_BAD_INPUT)

    @hydra.main(config_path=str(CONF_DIR), config_name=config_name, version_base="1.3")
    def main(cfg: DictConfig) -> None:
        run_job(job, cfg, validate)

    try:
        main()
    finally:
        end_start()
