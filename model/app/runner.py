"""What the Hydra apps share: one-line errors, exit codes, run directories, multirun jobs.

Each app's ``__main__`` is one call, :func:`hydra_main`: it registers the app's schemas,
hands Hydra the primary config, validates it and runs the app's job.
"""
from __future__ import annotations

import json
import signal
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import hydra
import xarray as xr
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from model.app import io
from model.app.sweep import HEADLINE, STATUS
from model.config import CONF_DIR, compose_config
from model.errors import ConfigError

EXIT_OK, EXIT_INFEASIBLE, EXIT_BAD_INPUT = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C


def stop_on_signal(signum: int, frame: object) -> None:
    """Turn SIGTERM into KeyboardInterrupt: the run unwinds, temporary files are removed."""
    raise KeyboardInterrupt

Job = Callable[[DictConfig, Path], "JobResult"]


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
    use_file_backend()
    out = output_dir()
    multirun = in_multirun()
    # SIGTERM unwinds like Ctrl-C, so the atomic writes' finally blocks remove their temporary files
    signal.signal(signal.SIGTERM, stop_on_signal)
    try:
        result = job(validate(cfg), out)
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
    except (HydraException, OmegaConfBaseException) as err:
        cause = err.__cause__ if isinstance(err.__cause__, OmegaConfBaseException) else err
        key = getattr(cause, "full_key", None) or getattr(err, "full_key", None)
        text = str(cause).splitlines()[0].strip()
        return f"{key}: {text}" if key else text
    return None


def occupied_run_dir(overrides: list[str]) -> str | None:
    """A refusal when ``hydra.run.dir`` names a directory that already holds a run (its
    ``.hydra/``): Hydra would rewrite that run's recorded config before the job could refuse."""
    for item in overrides:
        key, _, value = item.partition("=")
        if key == "hydra.run.dir" and (Path(value) / ".hydra").exists():
            return f"{value} holds another run: refusing to overwrite another run's output; choose a new hydra.run.dir"
    return None


def hydra_main(config_name: str, job: Job, validate: Callable[[DictConfig], DictConfig],
               register: Callable[[], None]) -> None:
    """Run ``job`` as a Hydra app on ``conf/<config_name>.yaml`` (the body of an app's ``__main__``).

    Overrides Hydra would refuse end in one line on stderr and exit code 2 before Hydra starts
    (single runs; a multirun's sweep syntax is Hydra's to parse).
    """
    register()
    args = sys.argv[1:]
    if not any(a.startswith("-") for a in args):  # --multirun, --help, ...: Hydra's own
        overrides = [a for a in args if not a.lstrip("+~").startswith(("hydra.", "hydra/"))]
        problem = input_error(config_name, overrides, validate) or occupied_run_dir(args)
        if problem is not None:
            print(f"error: {problem}", file=sys.stderr)
            sys.exit(EXIT_BAD_INPUT)

    @hydra.main(config_path=str(CONF_DIR), config_name=config_name, version_base="1.3")
    def main(cfg: DictConfig) -> None:
        run_job(job, cfg, validate)

    main()
