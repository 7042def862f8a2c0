"""The toolkit's exception for bad input (docs/model.md §7)."""
from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any


class ConfigError(ValueError):
    """A bad configuration value. ``str(err)`` is a single line: ``key=value: what is allowed``."""

    def __init__(self, key: str, value: Any, allowed: str) -> None:
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={show(value)}: {allowed}")


def show(value: Any) -> str:
    """A value as the one-line error shows it (config nodes as plain containers)."""
    if type(value).__module__.startswith("omegaconf"):  # a DictConfig or ListConfig node, read as itself
        value = plain(value)
    return repr(value) if isinstance(value, str) else str(value)


def plain(value: Any) -> Any:
    """A config node's value as plain dicts, lists and scalars (enums by name), as
    ``OmegaConf.to_container(value, resolve=True, enum_to_str=True)`` gives it."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.name
    return value
