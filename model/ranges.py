"""The allowed ranges of :data:`model.fields.CHECKS` as tests on numbers, each stated once: for one
config value (:func:`model.fields.passes`) and for parameter arrays (:func:`model.overrides.check_parameter`).

Kept apart from :mod:`model.fields`, which the apps import to print ``--help`` without numpy.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray


def _whole(v: NDArray[np.float64]) -> NDArray[np.bool_]:
    whole: NDArray[np.bool_] = np.isfinite(v) & (v == np.floor(v))
    return whole


# rule (a key of model.fields.CHECKS) -> elementwise test on float64 values; NaN fails every rule
RANGE_TESTS: dict[str, Callable[[NDArray[np.float64]], NDArray[np.bool_]]] = {
    "> 0": lambda v: np.isfinite(v) & (v > 0),
    ">= 0": lambda v: np.isfinite(v) & (v >= 0),
    "(0, 1]": lambda v: (v > 0) & (v <= 1),
    "[0, 1)": lambda v: (v >= 0) & (v < 1),
    "(0, 1)": lambda v: (v > 0) & (v < 1),
    ">= 1": lambda v: _whole(v) & (v >= 1),
    "finite": np.isfinite,
    "[0, 1e6]": lambda v: (v >= 0) & (v <= 1e6),
    "[1, 1e9]": lambda v: _whole(v) & (v >= 1) & (v <= 1e9),
    "[0, 2]": lambda v: (v >= 0) & (v <= 2),
    "[0.5, 1]": lambda v: (v >= 0.5) & (v <= 1),
}


def meets(rule: str, values: ArrayLike) -> NDArray[np.bool_]:
    """Elementwise, whether ``values`` (a number or an array of them) meet ``rule``, a key of
    :data:`model.fields.CHECKS` (NaN meets none)."""
    return RANGE_TESTS[rule](np.asarray(values, dtype=np.float64))
