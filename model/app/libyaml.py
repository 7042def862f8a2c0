"""OmegaConf's YAML loader on libyaml's C parser (the app layer: composing ``conf/``).

OmegaConf reads every config file with a subclass of PyYAML's pure-Python ``SafeLoader`` that
adds a float resolver (``1e3`` is a number), drops the timestamp resolver, refuses duplicate keys
and constructs ``pathlib`` paths.  Parsing is about a fifth of a Hydra compose (a warm compose of
``model``: 0.54 s on the pure-Python parser, 0.43 s on the C one, on the AVX2 machine), and every
command composes twice and the tests about 500 times.  Where PyYAML was built with libyaml,
:func:`install` gives OmegaConf the same loader on ``CSafeLoader``: the same resolvers and
constructors, read from OmegaConf's own loader, so the configs are the same
(``tests/app/test_libyaml.py`` parses every file of ``conf/`` both ways).  Without libyaml
nothing changes.
"""
from __future__ import annotations

from typing import Any

import omegaconf._utils
import omegaconf.basecontainer
import yaml

# OmegaConf's own factory, kept to build from (and for the tests' comparison)
PYTHON_LOADER = omegaconf._utils.get_yaml_loader


def c_loader() -> Any:
    """OmegaConf's loader class, on libyaml's parser: its implicit resolvers and constructors,
    and its refusal of a key given twice in one mapping."""
    python = PYTHON_LOADER()

    class OmegaConfCLoader(yaml.CSafeLoader):  # type: ignore[misc,name-defined]
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
            keys = set()
            for key_node, _ in node.value:
                if key_node.tag != yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG:
                    continue
                if key_node.value in keys:
                    raise yaml.constructor.ConstructorError("while constructing a mapping", node.start_mark,
                                                            f"found duplicate key {key_node.value}",
                                                            key_node.start_mark)
                keys.add(key_node.value)
            return super().construct_mapping(node, deep=deep)

    OmegaConfCLoader.yaml_implicit_resolvers = python.yaml_implicit_resolvers
    OmegaConfCLoader.yaml_constructors = dict(python.yaml_constructors)
    return OmegaConfCLoader


def install() -> bool:
    """Make OmegaConf (and so Hydra) parse YAML with :func:`c_loader` where libyaml is present;
    whether it is.  Idempotent."""
    if not getattr(yaml, "__with_libyaml__", False):
        return False
    omegaconf._utils.get_yaml_loader = c_loader
    omegaconf.basecontainer.get_yaml_loader = c_loader  # (imported by name there)
    return True
