"""Shared, small Sobol results (the analysis is deterministic, so one run serves many tests)."""
import pytest

import sensitivity


@pytest.fixture(scope="session")
def small_result():
    """The default analysis at N = 16 (256 model runs, seven parameters apply): cheap, every variable."""
    return sensitivity.analyze(sensitivity.load_config(["sensitivity.n=16"]))
