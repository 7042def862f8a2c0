"""What the Hydra apps share: one-line errors, exit codes, run directories, multirun jobs.

Each app's ``__main__`` is one call, :func:`hydra_main`: it registers the app's schemas,
hands Hydra the primary config, validates it and runs the app's job.
"""
from __future__ import annotations

import errno
import json
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig, open_dict
from omegaconf.errors import OmegaConfBaseException

from model.app import cli_args, io
from model.app.config import CONF_DIR, compose_config, composition_error
from model.app.progress import Stage, starting_stage
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
    run ends with its one line; and except the write failures h5py's finalizers repeat for every
    object of a file that could not be written (a full disk): the write's own error says it once."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        return
    if isinstance(unraisable.exc_value, (OSError, RuntimeError)) and "h5py" in repr(unraisable.object) + str(
            unraisable.err_msg):
        return
    sys.__unraisablehook__(unraisable)


def write_error(err: OSError) -> str:
    """One line for a failed write: the file and the reason (h5py's reason spans several lines)."""
    text = str(err)
    if err.errno == errno.ENOSPC and err.strerror:
        reason = err.strerror
    elif "No space left on device" in text:
        reason = "no space left on device"
    else:
        reason = (err.strerror or text).splitlines()[0]
    return f"could not write {err.filename or 'the run directory'}: {reason}"

# An app's job, ``run(cfg, out)``: ``cfg`` the validated config, ``out`` the run directory (Hydra's), which
# must not hold earlier outputs; it returns the exit code and the headline (:class:`JobResult`).
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


def _end_interrupted(marker: Path) -> None:
    """End a job stopped by a signal: one line, exit 130, ``marker`` left in place."""
    print(f"error: interrupted: the run stopped; files not yet complete were removed, and {marker} marks "
          "the directory as incomplete", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    # not sys.exit: the temporary files are gone (their finally blocks ran on the way here), and an
    # interrupt h5py swallowed can surface again while the interpreter unwinds and finalizes,
    # ending the process by SIGINT (-2) after this line (seen under load)
    os._exit(EXIT_INTERRUPTED)


def _job_failed(err: Exception, multirun: bool, marker: Path, status: Path) -> None:
    """A job's error: the interrupt's end where a signal came first (a library turned it into its own
    error), raised whole in a single run (a bug), recorded in ``status`` in a multirun."""
    if io.STOP_REQUESTED.is_set():
        _end_interrupted(marker)
    if not multirun:
        raise err
    marker.unlink(missing_ok=True)
    line = f"{type(err).__name__}: {err}".splitlines()[0]
    io.write_text(json.dumps({"status": "failed", "error": line, "traceback": traceback.format_exc()}), status)
    print(f"error: {line}", file=sys.stderr)


def run_job(job: Job, cfg: DictConfig, validate: Callable[[DictConfig], DictConfig]) -> None:
    """Validate ``cfg``, run ``job(cfg, output_dir)`` and exit with its code.

    Bad input ends in one line on stderr, ``error: <key>=<value>: <what is allowed>``, and
    exit code 2, before any work is done.  In a multirun the job never exits or raises: it
    records ``job.json`` (status, error) and ``headline.nc`` in its directory for
    :class:`model.app.sweep.CollectSweep`, so that one failed job does not stop the others.

    While the job runs its directory holds an ``INCOMPLETE`` file, removed when the job ends with
    an answer, a report or a refusal: a run stopped by a signal (or killed) keeps it, so its
    complete-looking files are marked as partial and the sweep collector skips it.
    """
    from model.app import prefix
    from model.app.sweep import HEADLINE, STATUS

    end_start()
    use_file_backend()
    out = output_dir()
    multirun = in_multirun()
    # SIGTERM unwinds like Ctrl-C, so the atomic writes' finally blocks remove their temporary files
    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGINT, stop_on_signal)
    sys.unraisablehook = quiet_interrupts
    marker = out / io.INCOMPLETE
    try:
        io.mark_incomplete(marker)
        if io.STOP_REQUESTED.is_set():  # a signal swallowed while the app started: stop before any work
            raise KeyboardInterrupt
        cfg = validate(cfg)
        hit_rates = prefix.write_hit_rates(cfg, out)  # docs/model.md §12: any app run with workload.trace
        cfg = prefix.attach_curve(cfg)  # workload.cache=trace: h(C) for the cost model
        result = job(cfg, out)
        if hit_rates:
            curve = prefix.trace_curve(cfg)
            print("\n" + prefix.hit_rate_summary(curve) + "\nwrote " + ", ".join(str(p) for p in hit_rates))
        if io.STOP_REQUESTED.is_set():  # interrupted inside a library that swallowed it
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        _end_interrupted(marker)
    except (ConfigError, io.OutputExistsError) as err:
        marker.unlink(missing_ok=True)
        if multirun:
            io.write_text(json.dumps({"status": "failed", "error": f"error: {err}"}), out / STATUS)
        print(f"error: {err}", file=sys.stderr)
        if multirun:
            return
        sys.exit(EXIT_BAD_INPUT)
    except OSError as err:  # a full disk, a directory made read-only meanwhile: nothing half-written stays
        print(f"error: {write_error(err)} in {out}; {marker.name} marks it as incomplete", file=sys.stderr)
        if multirun:
            return
        sys.stdout.flush()
        os._exit(EXIT_INFEASIBLE)  # not sys.exit: h5py's finalizers on a full disk can crash the interpreter
    except Exception as err:  # noqa: BLE001 - a multirun job reports any failure and lets the others run
        _job_failed(err, multirun, marker, out / STATUS)
        return
    marker.unlink(missing_ok=True)
    if multirun:
        if result.headline is not None:
            io.write_netcdf(result.headline, out / HEADLINE)
        io.write_text(json.dumps({"status": result.status, "exit_code": result.code}), out / STATUS)
        return
    if result.code:
        sys.exit(result.code)


def input_error(config_name: str, overrides: list[str],
                validate: Callable[[DictConfig], DictConfig], search: list[str] | None = None,
                modes: list[RunMode | None] | None = None) -> str | None:
    """The one-line reason why ``overrides`` are bad input, or None: what Hydra would refuse (a
    misspelled key, a wrong type, bad override syntax: Hydra prints those as several lines and
    exits 1) and what the app's validation refuses.  Checked before Hydra creates a run directory,
    so bad input writes nothing.  ``search`` holds extra config directories (``--config-dir``);
    ``modes``, if given, collects the composed ``hydra.mode`` (see :func:`known_mode`)."""
    extra = [f"hydra.searchpath=[{','.join('file://' + d for d in search)}]"] if search else []
    try:
        cfg = compose_config(config_name, [*extra, *overrides], hydra_node=modes is not None)
        if modes is not None:
            modes.append(cfg.hydra.mode)
            with open_dict(cfg):  # the config compose() returns without return_hydra_config
                del cfg["hydra"]
        validate(cfg)
    except ConfigError as err:
        return str(err)
    except (HydraException, OmegaConfBaseException) as err:  # raised by validation's own merges
        return str(composition_error(err, overrides))
    except (AttributeError, KeyError, TypeError) as err:  # a primary config that is not this app's
        return f"--config-name={config_name}: not a config of this command ({type(err).__name__}: {err})"
    return None


def sweep_input_error(config_name: str, overrides: list[str],
                      validate: Callable[[DictConfig], DictConfig], search: list[str] | None = None,
                      modes: list[RunMode | None] | None = None) -> str | None:
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
            problem = input_error(config_name, first[:i] + [option] + first[i + 1:], validate, search, modes)
            if problem is not None:
                return problem
    if not choices:
        return input_error(config_name, [], validate, search, modes)
    return None


def command_line_error(config_name: str, args: list[str], validate: Callable[[DictConfig], DictConfig],
                       modes: list[RunMode | None] | None = None) -> str | None:
    """Why this command line is bad input, checked before Hydra creates any directory, or None.

    Whatever flags are given (``--multirun``, ``--config-dir``, ``--config-name``): the overrides
    are composed and validated as the run will compose them, and the run or sweep directory is
    checked (:func:`model.app.cli_args.run_directory_error`).  Flags that only print (``--help``,
    ``--cfg``) are Hydra's to answer.  ``modes``, if given, collects the ``hydra.mode`` of each
    composition checked.
    """
    line = cli_args.parse(args)
    if line.prints_only:
        return None
    if line.unknown:
        return f"{line.unknown[0]}: unknown flag; see --help"
    problem = (cli_args.config_name_error(line, config_name) or cli_args.run_directory_error(line)
               or cli_args.launcher_error(line))
    if problem is not None:
        return problem
    name = line.flags.get("config_name") or config_name
    search = cli_args.search_dirs(line)
    if line.multirun:
        return sweep_input_error(name, line.app_overrides, validate, search, modes)
    return input_error(name, line.app_overrides, validate, search, modes)


def known_mode(args: list[str], modes: list[RunMode | None]) -> tuple[bool, RunMode | None]:
    """Whether the check before Hydra starts (:func:`command_line_error`) already knows the
    ``hydra.mode`` Hydra would compose the whole config once more to find, and that mode.

    Hydra 1.3 composes the config three times per run: our check, then ``Hydra.get_mode`` (only to
    read ``hydra.mode``), then the run's own.  The check composed the same primary config, search
    path and app overrides; it left out only the ``hydra.*`` overrides, so the mode is known unless
    one of them could set it: ``hydra.mode`` itself, a Hydra config group other than the launcher
    (``hydra/launcher=joblib`` configures ``hydra.launcher`` only), ``--config-path`` or a rerun.
    """
    line = cli_args.parse(args)
    if not modes or len(set(modes)) != 1 or {"config_path", "rerun"} & set(line.flags):
        return False, None
    for item in line.overrides:
        key = item.lstrip("+~").partition("=")[0]
        if key == "hydra.mode" or (key.startswith("hydra/") and key != "hydra/launcher"):
            return False, None
    return True, modes[0]


@contextmanager
def mode_from_check(mode: RunMode | None) -> Iterator[None]:
    """Inside: Hydra's ``get_mode`` answers ``mode`` (see :func:`known_mode`) instead of composing
    the config again (about 0.6 s of every run's start)."""
    from hydra._internal.hydra import Hydra  # Hydra < 1.4 has no public hook for its mode look-up

    composing = Hydra.get_mode
    Hydra.get_mode = lambda self, config_name, overrides: mode  # type: ignore[method-assign]
    try:
        yield
    finally:
        Hydra.get_mode = composing  # type: ignore[method-assign]


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

    Signal handlers come first, so that a Ctrl-C at any moment ends in one line; ``--version``
    prints the toolkit's version and ``--help`` a short page without loading the job's libraries;
    overrides Hydra would refuse end in one line on stderr and exit code 2 before Hydra starts.
    """
    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGINT, stop_on_signal)
    # from here a signal may land inside a weakref callback while the app imports: Python would print
    # the swallowed interrupt as "Exception ignored in ..."; the flag keeps the request instead
    sys.unraisablehook = quiet_interrupts
    if not isinstance(sys.stdout, ClosedPipeSafe):
        sys.stdout = ClosedPipeSafe(sys.stdout)
    try:
        _start_and_run(config_name, job, validate, register)
    except KeyboardInterrupt:  # a signal between the stages' own handlers (a few statements wide)
        end_start()
        print("error: interrupted: the run stopped; files not yet complete were removed", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)


def _start_and_run(config_name: str, job: Job, validate: Callable[[DictConfig], DictConfig],
                   register: Callable[[], None]) -> None:
    """:func:`hydra_main` once its signal handlers are in place: the flags that only print, the
    config check, then Hydra and the job, each stage ending an interrupt with its own line."""
    args = sys.argv[1:]
    try:
        if "--version" in args:
            print(version_line())
            sys.exit(EXIT_OK)
        register()
        if any(a in HELP_FLAGS for a in args):
            try:
                page = app_help(config_name, [a for a in args if not a.startswith("-")])
            except (HydraException, OmegaConfBaseException) as err:
                print(f"error: {composition_error(err, args)}", file=sys.stderr)
                sys.exit(EXIT_BAD_INPUT)
            print(page)
            sys.exit(EXIT_OK)
        if not cli_args.parse(args).prints_only:
            STARTING.append(starting_stage(f"serving-{config_name}: checking the config and starting"))
        modes: list[RunMode | None] = []
        problem = command_line_error(config_name, args, validate, modes)
    except (KeyboardInterrupt, Exception) as err:
        if not interrupted(err):
            raise
        end_start()
        print("error: interrupted before the run started; nothing was written", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    if problem is not None:
        end_start()
        if io.STOP_REQUESTED.is_set():  # the check's composition failed because a signal landed in it
            print("error: interrupted before the run started; nothing was written", file=sys.stderr)
            sys.exit(EXIT_INTERRUPTED)
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)

    @hydra.main(config_path=str(CONF_DIR), config_name=config_name, version_base="1.3")
    def main(cfg: DictConfig) -> None:
        run_job(job, cfg, validate)

    known, mode = known_mode(args, modes)
    try:
        with mode_from_check(mode) if known else nullcontext(), errors_raised_by_hydra():
            main()
    except (KeyboardInterrupt, Exception) as err:  # while Hydra itself was busy, before or after the job
        if not interrupted(err):
            raise
        print("error: interrupted: the run stopped; files not yet complete were removed", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    finally:
        end_start()


@contextmanager
def errors_raised_by_hydra() -> Iterator[None]:
    """Inside: Hydra raises what escapes its start or the job instead of printing it and exiting 1
    (``HYDRA_FULL_ERROR``), so that :func:`hydra_main` can tell an interrupt that a library turned
    into its own error while Hydra composed the config (one line, exit 130; seen under load: a
    SIGTERM 1.1 s into ``serving-optimize`` gave exit 1 and OmegaConf's "full_key:
    gb300_nvl72.uncertain", printed by Hydra) from a bug (raised, with its whole traceback)."""
    before = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = before


def interrupted(err: BaseException) -> bool:
    """Whether ``err`` ends the start as an interrupt: a KeyboardInterrupt, or any error raised
    after a signal set :data:`model.app.io.STOP_REQUESTED` (a library that caught the interrupt
    and raised its own error instead: OmegaConf annotates an error raised while it builds a node)."""
    return isinstance(err, KeyboardInterrupt) or io.STOP_REQUESTED.is_set()

