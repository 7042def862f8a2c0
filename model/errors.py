"""The toolkit's exception for bad input (docs/model.md §7)."""
from __future__ import annotations

from typing import Any

from omegaconf import OmegaConf


class ConfigError(ValueError):
    """A bad configuration value. ``str(err)`` is a single line: ``key=value: what is allowed``."""

    def __init__(self, key: str, value: Any, allowed: str) -> None:
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={show(value)}: {allowed}")


def show(value: Any) -> str:
    """A value as the one-line error shows it (config nodes as plain containers)."""
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value, resolve=True, enum_to_str=True)
    return repr(value) if isinstance(value, str) else str(value)
