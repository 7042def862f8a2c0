"""Cost-minimizing concurrency and integer fleet plans (docs/model.md §5), with disaggregated serving
(prefill and decode on different replicas, docs/model.md §9) and fleets over a day (demand profiles,
capacity tiers, a power cap and a replay, docs/model.md §11), on Pyomo + HiGHS.

The solver and xarray load when first used (:mod:`model.exports`), not on ``import optimize``."""
from __future__ import annotations

from collections.abc import Sequence

from omegaconf import DictConfig

from model.exports import lazy_exports
from optimize.schema import register_schemas


def validate(cfg: DictConfig) -> DictConfig:
    """The cost-model checks, then the fleet's (one-line errors).

    Parameters
    ----------
    cfg
        Composed optimizer config.

    Returns
    -------
    omegaconf.DictConfig
        The validated config.
    """
    from model.app.validate import validate as validate_model
    from optimize.validate import validate_fleet

    cfg = validate_model(cfg)
    validate_fleet(cfg)
    return cfg


def load_config(overrides: Sequence[str] = ()) -> DictConfig:
    """Compose ``conf/optimize.yaml`` (as ``python -m optimize`` does) and validate it.

    Parameters
    ----------
    overrides
        Hydra overrides, e.g. ``["sla.min_interactivity=100"]``.
    """
    from model.app.config import compose_config

    register_schemas()
    return validate(compose_config("optimize", overrides))


__all__ = ["best_concurrency", "plan_fleet", "plan_day", "DayPlan", "FleetPlan", "FleetTotals", "SolveStatus",
           "NoAnswer", "Phase",
           "load_config", "validate", "register_schemas"]

lazy_exports(__name__, {
    "best_concurrency": "optimize.concurrency", "plan_fleet": "optimize.fleet", "FleetPlan": "optimize.plan",
    "FleetTotals": "optimize.plan", "SolveStatus": "optimize.constants", "NoAnswer": "optimize.constants",
    "Phase": "optimize.constants", "plan_day": "optimize.day", "DayPlan": "optimize.day",
})
