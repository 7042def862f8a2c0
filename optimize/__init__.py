"""Cost-minimizing concurrency and integer fleet plans (SPEC §5), on Pyomo + HiGHS."""
from __future__ import annotations

from typing import Sequence

from omegaconf import DictConfig

from model.config import compose_config
from model.validate import validate as validate_model

from optimize.concurrency import NoAnswer, best_concurrency
from optimize.schema import register_schemas
from optimize.validate import validate_fleet
from optimize.fleet import FleetPlan, plan_fleet
from optimize.milp import SolveStatus


def validate(cfg: DictConfig) -> DictConfig:
    """The cost-model checks, then the fleet's (one-line errors)."""
    cfg = validate_model(cfg)
    validate_fleet(cfg)
    return cfg


def load_config(overrides: Sequence[str] = ()) -> DictConfig:
    """Compose ``conf/optimize.yaml`` (as ``python -m optimize`` does) and validate it."""
    register_schemas()
    return validate(compose_config("optimize", overrides))


__all__ = ["best_concurrency", "plan_fleet", "FleetPlan", "SolveStatus", "NoAnswer", "load_config", "validate", "register_schemas"]
