"""How a config field is declared: its type, default, unit, meaning and allowed range in one place.

Every schema dataclass (``model.schema``, ``optimize.schema``, ``sensitivity.schema``) declares its
fields with :func:`spec`.  That one declaration feeds Hydra's type checks (the dataclass),
the value checks (:func:`model.validate.check_fields`), the parameter arrays of the cost model
(:mod:`model.parameters`) and the config reference, docs/config.md (:mod:`model.app.docs`), as PyPSA's
``component_attrs`` tables do for its components.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import MISSING, dataclass
from typing import Any

# Allowed ranges a field can declare; model.validate applies them and says them in errors.
CHECKS = {
    "> 0": "must be a finite number > 0",
    ">= 0": "must be a finite number >= 0",
    "(0, 1]": "must be in (0, 1]",
    "[0, 1)": "must be a fraction in [0, 1)",
    "(0, 1)": "must be a probability in (0, 1)",
    ">= 1": "must be a whole number >= 1",
    "finite": "must be a finite number",
    # a rate of requests the fleet MILP can carry: beyond 1e6 requests/s (86 billion a day, far above any
    # published service) replica counts pass 1e8 and HiGHS' tolerances (1e-7 to 1e-6) no longer resolve
    # one replica, so a plan could silently serve less than its demand
    "[0, 1e6]": "must be a finite number in [0, 1e6]",
    # token counts: 1e9 is beyond every model's context, and keeps L * N * bytes within float64 and int64
    "[1, 1e9]": "must be a whole number of tokens in [1, 1e9]",
    # the sigma of a lognormal error factor: at 2 one standard deviation is already a factor of 7.4, and
    # beyond ~100 the drawn factors overflow to 0 or inf
    "[0, 2]": "must be in [0, 2] (sigma of ln factor; 2 is a factor of 7.4 at one standard deviation)",
    # the mean of lengths drawn uniformly from [low, 1] x nominal, low >= 0
    "[0.5, 1]": "must be in [0.5, 1] (the mean of lengths uniform on [2 x value - 1, 1] x nominal)",
}


def passes(rule: str, value: Any) -> bool:
    """Whether ``value``, a number (not a bool), meets ``rule`` (a key of :data:`CHECKS`; the test is
    :data:`model.ranges.RANGE_TESTS`', the one the parameter arrays pass)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    from model.ranges import meets  # numpy: not needed to print an app's --help

    return bool(meets(rule, float(value)))


@dataclass(frozen=True)
class FieldDoc:
    """What a field means: unit, meaning, allowed range (a key of :data:`CHECKS`, or None)."""

    unit: str
    doc: str
    check: str | None = None
    array: bool = False  # a number of the cost model, addressable by dotted key (model.parameters)


def spec(default: Any = MISSING, *, factory: Callable[[], Any] | None = None, unit: str = "",
         doc: str, check: str | None = None, array: bool = False) -> Any:
    """A dataclass field with its :class:`FieldDoc` in ``metadata["doc"]``."""
    if check is not None and check not in CHECKS:
        raise ValueError(f"unknown check {check!r}; allowed: {', '.join(CHECKS)}")
    meta = {"doc": FieldDoc(unit, doc, check, array)}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def field_docs(cls: type) -> dict[str, FieldDoc]:
    """Name -> :class:`FieldDoc` of every documented field of a schema dataclass, in order."""
    return {f.name: f.metadata["doc"] for f in dataclasses.fields(cls) if "doc" in f.metadata}


def array_fields(cls: type) -> tuple[str, ...]:
    """The fields of ``cls`` that the cost model turns into parameter arrays."""
    return tuple(name for name, d in field_docs(cls).items() if d.array)


@dataclass(frozen=True)
class Section:
    """A config section an app documents in the config reference (docs/config.md).

    Apps declare theirs in their schema module and list it under the ``ENTRY_POINT_GROUP``
    entry points of ``pyproject.toml``, so the reference generator finds them without importing
    the apps.
    """

    order: int                  # position in docs/config.md
    config_name: str            # primary config that holds the section (conf/<config_name>.yaml)
    prefix: str                 # dotted prefix of the keys, e.g. "fleet"
    schema: type                # the section's dataclass
    title: str                  # heading of its table
    register: Callable[[], None]  # puts the config's schemas in Hydra's ConfigStore
    exclude: tuple[str, ...] = ()  # fields of ``schema`` documented elsewhere


ENTRY_POINT_GROUP = "llm_serving_economics.config_sections"
