import sys
from pathlib import Path

import pytest
import xarray as xr

import model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def cfg():
    return model.load_config()


@pytest.fixture(scope="session")
def grid(cfg):
    return model.evaluate(cfg)


def at(isl, concurrency):
    """Keyword arguments that evaluate one ISL and one concurrency."""
    return {"isl": xr.DataArray([isl], dims="isl", coords={"isl": [isl]}),
            "concurrency": xr.DataArray([concurrency], dims="concurrency",
                                        coords={"concurrency": [concurrency]})}


def python_cmd(*args):
    return [sys.executable, *args]
