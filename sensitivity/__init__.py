"""Global (Sobol) sensitivity of $/Mtok to the toolkit's assumptions, with SALib (SPEC §6)."""
from __future__ import annotations

from typing import Sequence

from omegaconf import DictConfig

from model.config import compose_config
from model.validate import validate as validate_model

from sensitivity.analysis import analyze
from sensitivity.schema import register_schemas
from sensitivity.validate import validate_sensitivity
from sensitivity.sobol import estimate, sobol


def validate(cfg: DictConfig) -> DictConfig:
    cfg = validate_model(cfg)
    validate_sensitivity(cfg)
    return cfg


def load_config(overrides: Sequence[str] = ()) -> DictConfig:
    """Compose ``conf/sensitivity.yaml`` (as ``python -m sensitivity`` does) and validate it."""
    register_schemas()
    return validate(compose_config("sensitivity", overrides))


__all__ = ["sobol", "estimate", "analyze", "load_config", "validate", "register_schemas"]
