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
