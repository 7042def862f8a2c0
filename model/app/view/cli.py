"""The equivalent command line of a view's state: Hydra override strings and shell quoting.

Pure string work: :func:`override` writes one ``key=value`` in Hydra's override grammar (the
value parses back to the same Python value), :func:`command` joins overrides after an app's
console script, quoting what a shell would expand, and :func:`parse_command` splits it back.
"""
from __future__ import annotations

import math
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

# the console scripts pyproject.toml declares, by app
SCRIPTS: dict[str, str] = {"model": "serving-model", "optimize": "serving-optimize",
                           "sensitivity": "serving-sensitivity", "uncertainty": "serving-uncertainty"}


def format_value(value: Any) -> str:
    """A Python value in Hydra's override grammar.

    Parameters
    ----------
    value
        ``None``, a bool, a number, a string, or a list / tuple / mapping of those.

    Returns
    -------
    str
        ``null``, ``true``/``false``, ``repr`` of a float (it round-trips exactly), a plain
        string, ``[a,b]`` or ``{k:v}``.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if math.isnan(value):
            return "nan"
        return repr(value)  # shortest exact form; "3.0" stays a float when Hydra parses it
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{k}:{format_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    if hasattr(value, "value") and isinstance(value.value, str):  # an enum member
        return str(value.value)
    return str(value)


def override(key: str, value: Any) -> str:
    """One Hydra override, ``key=value`` (the value written as :func:`format_value` does)."""
    return f"{key}={format_value(value)}"


def delete(key: str) -> str:
    """The Hydra override that removes the dotted ``key`` from the config, ``~key``."""
    return f"~{key}"


def command(app: str, overrides: Sequence[str]) -> str:
    """The shell command that runs ``app`` with ``overrides``.

    Parameters
    ----------
    app
        ``model``, ``optimize`` or ``sensitivity``.
    overrides
        Hydra override strings.

    Returns
    -------
    str
        E.g. ``serving-model 'select.hardware=[cerebras_wse3,b200]' hardware.b200.price_per_hour=3.5``.
    """
    return " ".join([SCRIPTS[app], *(shlex.quote(o) for o in overrides)])


def parse_command(line: str) -> tuple[str, list[str]]:
    """Split a command of :func:`command` back into its app and overrides.

    Parameters
    ----------
    line
        The command line.

    Returns
    -------
    tuple
        The app name and the override strings.

    Raises
    ------
    ValueError
        If the line does not start with one of the apps' console scripts.
    """
    words = shlex.split(line)
    apps = {script: app for app, script in SCRIPTS.items()}
    if not words or words[0] not in apps:
        raise ValueError(f"not a toolkit command: {line!r}")
    return apps[words[0]], words[1:]
