"""OmegaConf's YAML loader on libyaml (:mod:`model.app.libyaml`) reads every config as OmegaConf's
own pure-Python loader does."""
from __future__ import annotations

import omegaconf._utils
import pytest
import yaml

from model.app import libyaml
from model.app.config import CONF_DIR

pytestmark = pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML without libyaml: nothing installed")


def test_the_composes_use_the_c_parser():
    assert omegaconf._utils.get_yaml_loader is libyaml.c_loader
    assert issubclass(libyaml.c_loader(), yaml.CSafeLoader)


@pytest.mark.parametrize("path", sorted(CONF_DIR.rglob("*.yaml")), ids=lambda p: str(p.relative_to(CONF_DIR)))
def test_every_config_file_parses_as_omegaconfs_own_loader_parses_it(path):
    text = path.read_text()
    assert yaml.load(text, Loader=libyaml.c_loader()) == yaml.load(text, Loader=libyaml.PYTHON_LOADER())


def test_omegaconfs_resolvers_and_refusals_hold():
    """OmegaConf's additions to YAML 1.1, each as its own loader has them: ``1e3`` a float (plain
    YAML 1.1 reads a string), a date a string (no timestamp resolver), ``.inf`` a float, a
    ``pathlib`` path constructed, and a key given twice refused with its line."""
    text = "a: 1e3\nb: 2026-12-07\nc: .inf\nd: !!python/object/apply:pathlib.Path [conf, x.yaml]\n"
    for loader in (libyaml.c_loader(), libyaml.PYTHON_LOADER()):
        parsed = yaml.load(text, Loader=loader)
        assert parsed["a"] == 1000.0 and isinstance(parsed["a"], float)
        assert parsed["b"] == "2026-12-07" and parsed["c"] == float("inf")
        assert str(parsed["d"]) == "conf/x.yaml"
    with pytest.raises(yaml.constructor.ConstructorError, match="found duplicate key a") as refused:
        yaml.load("a: 1\nb: 2\na: 3\n", Loader=libyaml.c_loader())
    assert refused.value.problem_mark.line == 2  # the second a, on line 3 (0-based 2)
