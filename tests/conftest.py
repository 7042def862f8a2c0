import pytest

import model


@pytest.fixture(scope="session")
def cfg():
    return model.load_config()


@pytest.fixture(scope="session")
def grid(cfg):
    return model.evaluate(cfg)
