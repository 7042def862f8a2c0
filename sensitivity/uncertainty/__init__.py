"""Decisions under uncertainty (issue 14): how sure is the answer?

The steps mirror the Sobol analysis': :mod:`~sensitivity.uncertainty.scenarios` (the uncertain
inputs as a scrambled Sobol design, the GPU model error among them), :mod:`~sensitivity.uncertainty.bands`
(the cost model on every scenario in one vectorized pass, then quantiles) and
:mod:`~sensitivity.uncertainty.win` (how often each hardware type is the cheapest meeting the
SLA); :mod:`~sensitivity.uncertainty.analysis` composes them.  The robust fleet plan is
:mod:`optimize.robust`, the price to beat :mod:`model.price_to_beat`.  ``python -m
sensitivity.uncertainty`` (``serving-uncertainty``) runs it all.
"""
from __future__ import annotations

from collections.abc import Sequence

from omegaconf import DictConfig

from model.exports import lazy_exports
from sensitivity.uncertainty.schema import register_schemas


def validate(cfg: DictConfig) -> DictConfig:
    """Validate the cost-model part of a composed config, then ``fleet`` and ``uncertainty``.

    Parameters
    ----------
    cfg
        A composed uncertainty config.

    Returns
    -------
    DictConfig
        The validated config (as :func:`model.validate` returns it).
    """
    from model.app.validate import validate as validate_model
    from optimize.validate import validate_fleet
    from sensitivity.uncertainty.validate import validate_uncertainty

    cfg = validate_model(cfg)
    validate_fleet(cfg)
    validate_uncertainty(cfg)
    return cfg


def load_config(overrides: Sequence[str] = ()) -> DictConfig:
    """Compose ``conf/uncertainty.yaml`` (as ``python -m sensitivity.uncertainty`` does) and validate it.

    Parameters
    ----------
    overrides
        Hydra overrides, e.g. ``["uncertainty.n=256"]``.

    Returns
    -------
    DictConfig
    """
    from model.app.config import compose_config

    register_schemas()
    return validate(compose_config("uncertainty", overrides))


__all__ = ["analyze", "draw", "scenario_params", "win_probability", "isl_values", "load_config", "validate",
           "register_schemas"]

lazy_exports(__name__, {"analyze": "sensitivity.uncertainty.analysis", "isl_values": "sensitivity.uncertainty.analysis",
                        "draw": "sensitivity.uncertainty.scenarios",
                        "scenario_params": "sensitivity.uncertainty.scenarios",
                        "win_probability": "sensitivity.uncertainty.win"})
