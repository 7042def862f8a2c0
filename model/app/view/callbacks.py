"""The pure skeleton every tab's callbacks fill in (no Panel): inputs -> overrides -> a composed
config -> a result that knows its equivalent command.

A tab's inputs are a frozen dataclass with :class:`Inputs`' ``set``; its callbacks an
:class:`AppCallbacks` naming the app's ``load_config`` and the overrides of some inputs; its
result an :class:`AppResult` (the inputs, the overrides, the command).  :func:`compose` caches one
validated config per (overrides, app), :func:`shared` one callbacks object per server.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from typing import Any, ClassVar, Generic, TypeVar

from hydra.errors import HydraException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

import model
from model.app.view.cli import command

# Hydra's compose API keeps global state: one composition at a time, whichever thread asks.
COMPOSE_LOCK = threading.RLock()
# errors whose first line the page shows instead of a result
INPUT_ERRORS = (model.ConfigError, HydraException, OmegaConfBaseException)
T = TypeVar("T")
# sample sizes a tab offers (Sobol base samples N, uncertainty scenarios): powers of two up to 1,024,
# so that a run in the page stays within seconds
N_CHOICES = (64, 128, 256, 512, 1024)
DEFAULT_N = 256  # what they open with


def one_line(err: BaseException) -> str:
    """The first line of an error, as the page's alert shows it.

    Parameters
    ----------
    err
        A :class:`model.ConfigError` (already one line) or a Hydra / OmegaConf composition error.

    Returns
    -------
    str
    """
    text = str(err).strip() or type(err).__name__
    line = text.splitlines()[0]
    return line if isinstance(err, model.ConfigError) else f"{type(err).__name__}: {line}"


@lru_cache(maxsize=64)
def compose(overrides: tuple[str, ...] = (),
            load: Callable[[list[str]], DictConfig] = model.load_config) -> DictConfig:
    """A validated config of one app, composed once per distinct (override tuple, app).

    Parameters
    ----------
    overrides
        Hydra override strings.
    load
        The app's ``load_config`` (:func:`model.load_config`, ``optimize.load_config``, ...):
        each tab passes its own, so the view names no app above it.

    Returns
    -------
    DictConfig
        Read-only, shared between sessions.

    Raises
    ------
    model.ConfigError
        On a bad value (one line).
    """
    with COMPOSE_LOCK:
        return load(list(overrides))


_shared: dict[type, Any] = {}
_shared_lock = threading.Lock()


def shared(cls: type[T]) -> T:
    """One ``cls()`` for every session of the server (its composed configs and caches are shared).

    Parameters
    ----------
    cls
        A callbacks class (:class:`~model.app.view.state.Calculator`, ``optimize.view_state.Fleet``, ...).

    Returns
    -------
    An instance of ``cls``, made on the first call.
    """
    with _shared_lock:
        if cls not in _shared:
            _shared[cls] = cls()
        return _shared[cls]


class Inputs:
    """``set`` for a tab's frozen inputs dataclass: a copy with one key changed.

    A key names a field, or one entry of a mapping field as ``<field>.<entry>``; a key naming
    neither goes whole into the mapping field :attr:`extra` (the calculator's dotted config keys).
    Lists become tuples, so inputs stay hashable and compare equal however a widget gave them.
    """

    extra: ClassVar[str | None] = None

    def set(self, key: str, value: Any) -> Any:
        """A copy with ``key`` set to ``value`` (see the class)."""
        value = tuple(value) if isinstance(value, list) else value
        name, _, entry = key.partition(".")
        known = {f.name for f in fields(self)}  # type: ignore[arg-type]
        if name not in known or (entry and not isinstance(getattr(self, name), Mapping)):
            if self.extra is None:
                raise KeyError(key)
            name, entry = self.extra, key
        if not entry:
            return replace(self, **{name: value})  # type: ignore[type-var]
        values = dict(getattr(self, name))
        values[entry] = value
        return replace(self, **{name: values})  # type: ignore[type-var]


@dataclass(frozen=True)
class AppResult:
    """What every tab's result holds: the inputs it answers and the overrides of its command.

    Attributes
    ----------
    inputs
        The inputs it answers.
    overrides
        Hydra overrides of the equivalent command (keys differing from the defaults).
    """

    inputs: Any
    overrides: tuple[str, ...]
    app: ClassVar[str] = "model"  # the command: serving-<app>

    @property
    def command(self) -> str:
        """The equivalent ``serving-<app> ...`` command."""
        return command(self.app, self.overrides)


class AppCallbacks:
    """A tab's callbacks: the app's default config, its catalog names, inputs -> overrides ->
    a composed config.

    Parameters
    ----------
    base
        The app's default config (``load()``); composed here if not given.
    """

    load: ClassVar[Callable[[list[str]], DictConfig]] = staticmethod(model.load_config)
    app: ClassVar[str] = "model"
    # the config key of the inputs' sample size ``n``, which the page keeps to a power of two
    # <= max(N_CHOICES); None: no sample size
    n_key: ClassVar[str | None] = None
    # (inputs field, config key, what to do) of a selection that must not be empty
    required: ClassVar[tuple[str, str, str] | None] = None

    def __init__(self, base: DictConfig | None = None) -> None:
        self.base = compose((), type(self).load) if base is None else base

    @property
    def models(self) -> list[str]:
        """Every catalog model."""
        return [str(m) for m in self.base.models.keys()]

    @property
    def hardware(self) -> list[str]:
        """Every catalog hardware type."""
        return [str(h) for h in self.base.hardware.keys()]

    def overrides(self, inputs: Any) -> tuple[str, ...]:
        """The overrides of the equivalent command: keys differing from the defaults."""
        raise TypeError(f"{type(self).__name__} must define overrides()")

    def check(self, inputs: Any) -> None:
        """Refuse inputs the page does not run, beyond the config's own checks: a sample size
        (:attr:`n_key`) that is not a power of two up to ``max(N_CHOICES)``, an empty
        :attr:`required` selection.

        Raises
        ------
        model.ConfigError
            Naming the key, the value and what is allowed.
        """
        n, most = getattr(inputs, "n", None), max(N_CHOICES)
        if self.n_key and (isinstance(n, bool) or not isinstance(n, int) or n < 2 or n > most or n & (n - 1)):
            raise model.ConfigError(self.n_key, n, f"must be a power of two <= {most:,} in the view")
        if self.required and not getattr(inputs, self.required[0]):
            raise model.ConfigError(self.required[1], [], self.required[2])

    def config(self, inputs: Any) -> DictConfig:
        """The composed, validated config of ``inputs`` (cached).

        Raises
        ------
        model.ConfigError
            A refused input (one line).
        """
        self.check(inputs)
        return compose(self.overrides(inputs), type(self).load)

    def command(self, inputs: Any) -> str:
        """The equivalent ``serving-<app> ...`` command of ``inputs``."""
        return command(self.app, self.overrides(inputs))


class LastUsed(Generic[T]):
    """A thread-safe cache of the last ``size`` values used, by key.

    Parameters
    ----------
    size
        How many values it keeps.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: OrderedDict[Hashable, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> T | None:
        """The value of ``key`` (now the most recently used), or ``None``."""
        with self._lock:
            if key not in self._values:
                return None
            self._values.move_to_end(key)
            return self._values[key]

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._values

    def put(self, key: Hashable, value: T) -> T:
        """Keep ``value`` under ``key``, dropping the least recently used beyond :attr:`size`."""
        with self._lock:
            self._values[key] = value
            while len(self._values) > self.size:
                self._values.popitem(last=False)
        return value
