"""Composing the config: ``conf/`` through Hydra's compose API, then validation (the app layer).

The types live in :mod:`model.schema` (the cost model's) and :mod:`model.app.schema` (the apps'
settings), the checks in :mod:`model.validate` (values) and :mod:`model.app.validate` (files and
app settings); this module puts them together, as ``python -m model`` does.  ``model.load_config``
is :func:`load_config`.
"""
from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

import conf as _conf_package
from model.app import libyaml
from model.app.schema import register_schemas
from model.app.validate import validate
from model.errors import ConfigError

# Hydra's compose works through one global instance: threads take turns (else "GlobalHydra is
# already initialized" in all but one of them)
_COMPOSE_LOCK = threading.Lock()
libyaml.install()  # OmegaConf's YAML parsing on libyaml where PyYAML has it: the same configs, faster
CONF_DIR = Path(_conf_package.__file__).resolve().parent
REPO_DIR = CONF_DIR.parent  # data/ and the calibration target are relative to it


# the key OmegaConf writes into the message of an error raised on a config node
_OMEGACONF_KEY = re.compile(r"^\s*full_key: (\S+)$", re.M)


def compose_config(config_name: str, overrides: Sequence[str] = (), hydra_node: bool = False) -> DictConfig:
    """Compose a primary config of ``conf/`` with Hydra's compose API (not validated).

    The schema named in its defaults list must be registered first (:func:`register_schemas`
    here for ``model`` and ``calibrate``; each app's own ``register_schemas`` for its config).
    ``hydra_node``: keep Hydra's own node (``hydra.*``) in the result, as Hydra's compose API
    returns it with ``return_hydra_config``.
    """
    register_schemas()
    try:
        with _COMPOSE_LOCK, initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose(config_name=config_name, overrides=list(overrides), return_hydra_config=hydra_node)
    except (HydraException, OmegaConfBaseException) as err:
        raise composition_error(err, overrides) from None
    except (AttributeError, TypeError, KeyError, ValueError) as err:
        # OmegaConf raises some merge failures as the builtin error, its message annotated with
        # the node's key (a dict override into a null Optional[Dict] field: "'NoneType' object
        # has no attribute 'get' / full_key: workload.cache_curve"); any other is a bug, not the
        # input's fault, and is raised as it is
        if _OMEGACONF_KEY.search(str(err)) is None:
            raise
        raise composition_error(err, overrides) from None
    except yaml.YAMLError as err:  # a malformed YAML file in conf/ or a --config-dir
        mark = getattr(err, "problem_mark", None)
        where = f"{mark.name}, line {mark.line + 1}" if mark is not None else "a config file"
        raise ConfigError("config file", where, f"not valid YAML ({getattr(err, 'problem', None) or err})") from None


def composition_error(err: Exception, overrides: Sequence[str]) -> ConfigError:
    """What Hydra refused while composing (a misspelled key, a wrong type, bad override syntax:
    several lines from Hydra) as one :class:`ConfigError` naming the key and the value given.

    Parameters
    ----------
    err
        The ``HydraException`` or ``OmegaConfBaseException`` raised by ``compose``, or a builtin
        error whose message OmegaConf annotated with the key it failed on (``full_key: ...``).
    overrides
        The overrides composed, to recover the value given for the key.

    Returns
    -------
    ConfigError
    """
    cause = err.__cause__ if isinstance(err.__cause__, OmegaConfBaseException) else err
    key = getattr(cause, "full_key", None) or getattr(err, "full_key", None)
    if not key and (found := _OMEGACONF_KEY.search(str(err))):
        key = found.group(1)
    text = str(cause).splitlines()[0].strip()
    if not isinstance(err, (HydraException, OmegaConfBaseException)):  # a builtin error from a merge
        text = f"cannot be set to this value by an override (OmegaConf: {type(err).__name__}: {text})"
    if not key:
        return ConfigError("overrides", list(overrides), text)
    given = {o.lstrip("+~").partition("=")[0]: o.partition("=")[2] for o in overrides}
    return ConfigError(key, given.get(key, "?"), text)


def load_config(overrides: Sequence[str] = (), config_name: str = "model") -> DictConfig:
    """Compose ``conf/`` with Hydra's compose API and validate it.

    Parameters
    ----------
    overrides
        Command-line style overrides, e.g. ``["hardware.b200.price_per_hour=3"]``.
    config_name
        Primary config: ``model`` or ``calibrate`` (``optimize.load_config`` and
        ``sensitivity.load_config`` compose theirs).

    Returns
    -------
    DictConfig
        The same config the CLI builds, validated and read-only.

    Raises
    ------
    model.errors.ConfigError
        On a bad value (one line naming key, value and what is allowed).
    """
    return validate(compose_config(config_name, overrides))


def with_values(cfg: DictConfig, values: Mapping[str, Any],
                validate_with: Callable[[DictConfig], DictConfig] = validate) -> DictConfig:
    """A validated copy of ``cfg`` with dotted keys set, e.g. ``{"hardware.b200.prefill_mode": "physical"}``.

    ``validate_with`` is the app's validation (default: the cost model's).
    """
    copy = OmegaConf.merge(cfg)
    OmegaConf.set_readonly(copy, False)
    for key, value in values.items():
        OmegaConf.update(copy, key, value, merge=False)
    return validate_with(copy)

