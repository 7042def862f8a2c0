"""Helpers shared by the tests (fixtures live in conftest.py)."""
import sys
from pathlib import Path

import xarray as xr

ROOT = Path(__file__).resolve().parents[1]


def at(isl, concurrency):
    """Keyword arguments that evaluate one ISL and one concurrency."""
    return {"isl": xr.DataArray([isl], dims="isl", coords={"isl": [isl]}),
            "concurrency": xr.DataArray([concurrency], dims="concurrency",
                                        coords={"concurrency": [concurrency]})}


def python_cmd(*args):
    """A subprocess command running this interpreter (the test venv's)."""
    return [sys.executable, *args]


def assert_matches_oracle(ds, expected: dict) -> None:
    """Every quantity the pointwise oracle gives for one cell equals the grid's (``ds``, the cell
    selected): flags exactly, NaN where the oracle has NaN, numbers to 1e-12 relative."""
    import math

    for key, value in expected.items():
        got = ds[key].item()
        if isinstance(value, bool):
            assert bool(got) == value, key
        elif math.isnan(value):
            assert math.isnan(got), key
        else:
            assert math.isclose(got, value, rel_tol=1e-12), (key, got, value)
