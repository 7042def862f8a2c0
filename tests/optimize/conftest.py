import pytest

import optimize


@pytest.fixture(scope="session")
def ocfg():
    """The default optimizer config (conf/optimize.yaml)."""
    return optimize.load_config()
