"""What the three Hydra apps share: one-line errors, exit codes, the run directory."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

from omegaconf import DictConfig

from model.io import OutputExistsError
from model.validate import ConfigError

EXIT_OK, EXIT_INFEASIBLE, EXIT_BAD_INPUT = 0, 1, 2


def output_dir() -> Path:
    """The Hydra run (or sweep job) directory."""
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)


def run_job(job: Callable[[DictConfig, Path], int], cfg: DictConfig,
            validate: Callable[[DictConfig], DictConfig] | None = None) -> None:
    """Validate ``cfg``, run ``job(cfg, output_dir)`` and exit with its code.

    Bad input ends in one line on stderr, ``error: <key>=<value>: <what is allowed>``, and
    exit code 2, before any work is done.
    """
    if validate is None:
        from model.validate import validate

    try:
        code = job(validate(cfg), output_dir())
    except (ConfigError, OutputExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    if code:
        sys.exit(code)
