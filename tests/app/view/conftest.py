"""Fixtures of the view's tests: one calculator (its composed configs and caches) per session."""
import pytest

from model.app.view.state import Calculator
from optimize.view_state import Fleet
from sensitivity.uncertainty.view_state import Uncertainty
from sensitivity.view_state import Sensitivity


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
