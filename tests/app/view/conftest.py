"""Fixtures of the view's tests: one of each tab's callbacks (its composed configs and caches) per session."""
import pytest

from model.app.view.state import Calculator
from optimize.view_state import Fleet
from sensitivity.uncertainty.view_state import Uncertainty
from sensitivity.view_state import Sensitivity


def session_callbacks(name, cls):
    """A session fixture ``name`` giving one ``cls()`` to every test that asks for it."""
    return pytest.fixture(scope="session", name=name)(lambda: cls())


calculator = session_callbacks("calculator", Calculator)
fleet = session_callbacks("fleet", Fleet)
sens = session_callbacks("sens", Sensitivity)
unc = session_callbacks("unc", Uncertainty)
