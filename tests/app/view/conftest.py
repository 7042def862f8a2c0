"""Fixtures of the view's tests: one calculator (its composed configs and caches) per session."""
import pytest

from model.app.view.fleet_state import Fleet
from model.app.view.sensitivity_state import Sensitivity
from model.app.view.state import Calculator
from model.app.view.uncertainty_state import Uncertainty


@pytest.fixture(scope="session")
def calculator():
    return Calculator()


@pytest.fixture(scope="session")
def fleet():
    return Fleet()


@pytest.fixture(scope="session")
def sens():
    return Sensitivity()


@pytest.fixture(scope="session")
def unc():
    return Uncertainty()
