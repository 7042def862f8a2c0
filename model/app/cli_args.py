"""The command line as Hydra will read it, checked before Hydra creates a run directory.

Hydra's own flags are sorted into those that only print (``--help``, ``--cfg``, ...: Hydra's to
answer, nothing is run) and those that shape the run (``--multirun``, ``--config-dir``,
``--config-name``): with the latter the overrides are composed and validated exactly as the run
will be, so that bad input is refused in one line whatever flags are given.

The run and sweep directories named with ``hydra.run.dir`` / ``hydra.sweep.dir`` (with or without
``+``/``++``) are checked too: never inside the toolkit's own ``conf/`` or packages, never a file,
never a directory that cannot be created or written, never another run's directory.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from model.app.config import CONF_DIR, REPO_DIR

# flags that take a value (as the next argument or after '=')
VALUE_FLAGS = {"--config-dir": "config_dir", "-cd": "config_dir", "--config-path": "config_path",
               "-cp": "config_path", "--config-name": "config_name", "-cn": "config_name",
               "--experimental-rerun": "rerun", "--package": "package", "-p": "package",
               "--info": "info", "-i": "info", "--shell-completion": "info", "-sc": "info"}
MULTIRUN_FLAGS = ("--multirun", "-m")
# flags after which Hydra prints and exits: nothing runs, nothing is written
PRINT_FLAGS = ("--help", "-h", "--hydra-help", "--version", "--cfg", "-c", "--resolve", "--info", "-i",
               "--shell-completion", "-sc", "--package", "-p")
# the toolkit's own directories: no run writes there
PACKAGE_DIRS = ("conf", "model", "optimize", "sensitivity", "tests", "docs", "benchmarks", ".git")


@dataclass
class CommandLine:
    """The arguments of one app's command line, sorted."""

    overrides: list[str] = field(default_factory=list)  # key=value, hydra.* ones included
    flags: dict[str, str] = field(default_factory=dict)  # VALUE_FLAGS' names -> value
    multirun: bool = False
    prints_only: bool = False  # --help, --cfg, ...: Hydra answers, no job runs
    unknown: list[str] = field(default_factory=list)

    @property
    def app_overrides(self) -> list[str]:
        """The overrides the app's config sees (Hydra's own ``hydra.*`` keys left out)."""
        return [o for o in self.overrides if not o.lstrip("+~").startswith(("hydra.", "hydra/"))]

    def hydra_value(self, key: str) -> str | None:
        """The last value given to ``hydra.<key>`` (with or without ``+``/``++``), or None."""
        value = None
        for item in self.overrides:
            name, sep, given = item.lstrip("+~").partition("=")
            if sep and name == f"hydra.{key}":
                value = given
        return value


def parse(args: list[str]) -> CommandLine:
    """Sort ``args`` (``sys.argv[1:]``) into overrides and Hydra's flags."""
    line = CommandLine()
    i = 0
    while i < len(args):
        arg = args[i]
        name, sep, inline = arg.partition("=")
        if arg in MULTIRUN_FLAGS:
            line.multirun = True
        elif name in VALUE_FLAGS and arg.startswith("-"):
            if sep:
                value = inline
            elif i + 1 < len(args) and name not in ("--info", "-i", "--shell-completion", "-sc"):
                i += 1
                value = args[i]
            else:
                value = ""
            line.flags[VALUE_FLAGS[name]] = value
            line.prints_only |= name in PRINT_FLAGS
        elif arg.startswith("-"):
            line.prints_only |= arg in PRINT_FLAGS
            if arg not in PRINT_FLAGS:
                line.unknown.append(arg)
        else:
            line.overrides.append(arg)
        i += 1
    return line


def search_dirs(line: CommandLine) -> list[str]:
    """Extra config directories (``--config-dir``) as absolute paths."""
    given = line.flags.get("config_dir")
    return [str(Path(given).expanduser().resolve())] if given else []


def config_name_error(line: CommandLine, app_config: str) -> str | None:
    """A refusal when ``--config-name`` names another app's primary config (its job would fail)."""
    name = line.flags.get("config_name")
    if name is None or name == app_config:
        return None
    own_dir = search_dirs(line)
    if own_dir and any((Path(own_dir[0]) / f"{name}{ext}").is_file() for ext in (".yaml", ".yml")):
        return None  # the user's own primary config: composed and validated like any other
    allowed = app_config + (f", or a primary config in {line.flags['config_dir']}" if own_dir else "")
    return f"--config-name={name}: this command runs conf/{app_config}.yaml; allowed: {allowed}"


def _toolkit_dir(path: Path) -> Path | None:
    for name in PACKAGE_DIRS:
        own = (REPO_DIR / name).resolve()
        if path == own or own in path.parents:
            return own
    if path == CONF_DIR or CONF_DIR in path.parents:
        return CONF_DIR
    return None


def directory_error(key: str, value: str, occupied_marker: str | None) -> str | None:
    """Why ``value`` cannot be the run (or sweep) directory, or None.

    Parameters
    ----------
    key
        ``hydra.run.dir`` or ``hydra.sweep.dir``, named in the refusal.
    value
        The directory given.
    occupied_marker
        A name whose presence in the directory means another run owns it (``.hydra`` for a run,
        ``multirun.yaml`` for a sweep), or None.
    """
    if not value.strip():
        return f"{key}='': must name a directory"
    path = Path(value).expanduser().absolute()
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError) as err:
        return f"{key}={value}: cannot be used as a directory ({err.strerror or type(err).__name__})"
    own = _toolkit_dir(resolved)
    if own is not None:
        return (f"{key}={value}: inside the toolkit's own {own.name}/ directory; "
                "choose a directory outside the package and its configs (default outputs/)")
    limit = os.pathconf("/", "PC_NAME_MAX") if hasattr(os, "pathconf") else 255
    if len(str(resolved)) > 4000 or any(len(part) > limit for part in resolved.parts):
        return f"{key}={value[:60]}...: path too long (each name at most {limit} characters)"
    existing = resolved
    while not existing.exists():
        existing = existing.parent
    if existing == resolved and not resolved.is_dir():
        return f"{key}={value}: is a file, not a directory; choose a new directory"
    if existing != resolved and not existing.is_dir():
        return f"{key}={value}: {existing} is a file, so the directory cannot be created"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{key}={value}: {existing} is not writable"
    if occupied_marker and (resolved / occupied_marker).exists():
        return (f"{key}={value}: holds another run: refusing to overwrite another run's output; "
                f"choose a new {key}")
    return None


# the launchers a pyproject extra installs: its name, for the refusal's install line
LAUNCHER_EXTRAS = {"joblib": "joblib", "submitit_local": "slurm", "submitit_slurm": "slurm"}


def launcher_error(line: CommandLine) -> str | None:
    """A refusal when ``hydra/launcher=NAME`` names a launcher that is not installed: Hydra would fail
    with a traceback after the check (the launcher is no key of the app's config)."""
    names = [item.partition("=")[2] for item in line.overrides
             if item.lstrip("+~").partition("=")[0] == "hydra/launcher"]
    if not names:
        return None
    from hydra.core.config_store import ConfigStore
    from hydra.core.plugins import Plugins

    Plugins.instance()  # imports the installed hydra_plugins, which register their launchers' configs
    installed = sorted(n.removesuffix(".yaml") for n in ConfigStore.instance().list("hydra/launcher"))
    for name in names:
        if name not in installed:
            extra = LAUNCHER_EXTRAS.get(name)
            hint = f"; install it with pip install -e \".[{extra}]\"" if extra else ""
            return f"hydra/launcher={name}: not installed; allowed: {', '.join(installed)}{hint}"
    return None


def run_directory_error(line: CommandLine) -> str | None:
    """The checks of :func:`directory_error` on the directories this command line names."""
    if line.multirun:
        value = line.hydra_value("sweep.dir")
        return None if value is None else directory_error("hydra.sweep.dir", value, "multirun.yaml")
    value = line.hydra_value("run.dir")
    return None if value is None else directory_error("hydra.run.dir", value, ".hydra")
