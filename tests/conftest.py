import copy

import pytest

import model
from model.app import config as app_config

_hydra_compose = app_config.compose
_composed: dict = {}


def _compose_once(config_name, overrides=(), return_hydra_config=False):
    """Hydra's ``compose`` for the tests of one process: a config composed before (same primary
    config, same overrides) is returned as a deep copy instead of composed again.  Composing is a
    pure function of conf/ and the overrides and costs ~0.4 s of CPU (the copy ~0.03 s); ~60 of the
    suite's ~370 in-process composes repeat one.  A compose that fails is not kept, so every refusal
    is raised by Hydra itself; with Hydra's own node (its runtime: cwd, output dir) nothing is kept."""
    if return_hydra_config:
        return _hydra_compose(config_name=config_name, overrides=overrides, return_hydra_config=True)
    key = (config_name, tuple(overrides))
    if key not in _composed:
        _composed[key] = _hydra_compose(config_name=config_name, overrides=list(overrides))
    return copy.deepcopy(_composed[key])


app_config.compose = _compose_once


@pytest.fixture(scope="session")
def cfg():
    return model.load_config()


@pytest.fixture(scope="session")
def grid(cfg):
    return model.evaluate(cfg)
