"""The ``validate`` and ``load_config`` an app package exports (``sensitivity``, ``sensitivity.uncertainty``),
made once: the cost model's checks, then the app's own, each module loaded when first called, so that
importing the package stays light (``serving-* --help`` loads no job library)."""
from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence

from omegaconf import DictConfig

Validate = Callable[[DictConfig], DictConfig]
LoadConfig = Callable[..., DictConfig]


def app_config_api(config_name: str, register: Callable[[], None],
                   checks: Sequence[str]) -> tuple[Validate, LoadConfig]:
    """An app's ``validate(cfg)`` (:func:`model.app.validate.validate`, then each of ``checks``, given as
    ``"module:function"`` taking the config) and ``load_config(overrides=())`` (``register`` the schemas,
    compose ``conf/<config_name>.yaml`` as the app's command does, validate)."""
    def validate(cfg: DictConfig) -> DictConfig:
        from model.app.validate import validate as validate_model

        cfg = validate_model(cfg)
        for target in checks:
            module, _, name = target.partition(":")
            getattr(importlib.import_module(module), name)(cfg)
        return cfg

    def load_config(overrides: Sequence[str] = ()) -> DictConfig:
        from model.app.config import compose_config

        register()
        return validate(compose_config(config_name, overrides))

    validate.__doc__ = (f"Validate a composed ``conf/{config_name}.yaml`` config: the cost model's checks, then "
                        f"{', '.join(checks)}; returns it resolved and read-only, or raises a one-line ConfigError.")
    load_config.__doc__ = (f"Compose ``conf/{config_name}.yaml`` with Hydra ``overrides`` (as the app's command "
                           "does) and validate it.")
    return validate, load_config
