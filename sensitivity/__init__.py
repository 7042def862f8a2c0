"""Global (Sobol) sensitivity of $/Mtok to the toolkit's assumptions, with SALib (docs/model.md §6).

The steps mirror SALib's modules: :mod:`sensitivity.sample` (the SALib problem of the declared
parameters and its Sobol design), :mod:`sensitivity.evaluate` (the cost model on all samples in
one call), :mod:`sensitivity.sobol` (the generic estimators, which need no cost model) and
:mod:`sensitivity.analysis` (:func:`analyze`, the three composed).  ``sample`` and
``evaluate_design`` are not re-exported here, so that ``sensitivity.sample`` and
``sensitivity.evaluate`` stay the modules.
"""
from __future__ import annotations

from collections.abc import Sequence

from omegaconf import DictConfig

from model.exports import lazy_exports
from sensitivity.schema import register_schemas


def validate(cfg: DictConfig) -> DictConfig:
    """Validate the cost-model part of a composed config, then ``sensitivity``.

    Parameters
    ----------
    cfg
        A composed sensitivity config.

    Returns
    -------
    DictConfig
        The validated config (as :func:`model.validate` returns it).
    """
    from model.app.validate import validate as validate_model
    from sensitivity.validate import validate_sensitivity

    cfg = validate_model(cfg)
    validate_sensitivity(cfg)
    return cfg


def load_config(overrides: Sequence[str] = ()) -> DictConfig:
    """Compose ``conf/sensitivity.yaml`` (as ``python -m sensitivity`` does) and validate it.

    Parameters
    ----------
    overrides
        Hydra overrides, e.g. ``["sensitivity.n=1024"]``.

    Returns
    -------
    DictConfig
    """
    from model.app.config import compose_config

    register_schemas()
    return validate(compose_config("sensitivity", overrides))


__all__ = ["sobol", "estimate", "indices", "problem", "analyze", "load_config", "validate", "register_schemas"]

lazy_exports(__name__, {"sobol": "sensitivity.sobol", "estimate": "sensitivity.sobol", "indices": "sensitivity.sobol",
                        "problem": "sensitivity.sample", "analyze": "sensitivity.analysis"})
