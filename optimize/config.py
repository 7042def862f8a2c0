"""Config of the optimizer: the fleet problem of SPEC §5 (types, defaults, value checks)."""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig

from model.config import ModelAppConfig
from model.validate import ConfigError


class IslKind(enum.Enum):
    p50 = "p50"              # one bucket at workload.isl
    lognormal = "lognormal"  # equal-probability buckets of a lognormal (median, sigma)
    buckets = "buckets"      # explicit ISL values and weights


@dataclass
class IslBucket:
    isl: int = MISSING
    weight: float = MISSING


@dataclass
class IslDistribution:
    kind: IslKind = IslKind.p50
    median: Optional[float] = None   # lognormal; null: workload.isl
    sigma: float = 1.0               # lognormal: sigma of ln ISL
    buckets: int = 8                 # lognormal: number of equal-probability buckets
    explicit: List[IslBucket] = field(default_factory=list)  # kind=buckets


@dataclass
class SolverSpec:
    time_limit_s: float = 60.0
    mip_rel_gap: float = 1e-6
    threads: Optional[int] = None


@dataclass
class FleetSpec:
    demand: Dict[str, Optional[float]] = field(default_factory=dict)  # model -> requests/s (null: default)
    demand_default: float = 10.0     # requests/s of every selected model not in `demand`
    isl: IslDistribution = field(default_factory=IslDistribution)
    sla: Dict[str, Optional[float]] = field(default_factory=dict)  # model -> min tok/s (null: sla.*)
    target_utilization: float = 0.8
    inventory: Dict[str, Optional[int]] = field(default_factory=dict)  # hardware -> max systems
    prune: bool = True
    solver: SolverSpec = field(default_factory=SolverSpec)


@dataclass
class OptimizeAppConfig(ModelAppConfig):
    fleet: FleetSpec = field(default_factory=FleetSpec)


ConfigStore.instance().store(name="optimize_schema", node=OptimizeAppConfig)

BUCKET_WEIGHT_TOLERANCE = 1e-6


def validate_fleet(cfg: DictConfig) -> None:
    """Value checks of ``fleet`` (one-line :class:`ConfigError`)."""
    f = cfg.fleet
    catalog_models, catalog_hardware = list(cfg.models.keys()), list(cfg.hardware.keys())
    for name, value in f.demand.items():
        if name not in catalog_models:
            raise ConfigError(f"fleet.demand.{name}", value,
                              f"unknown model; allowed: {', '.join(catalog_models)}")
        if value is not None and (not math.isfinite(value) or value < 0):
            raise ConfigError(f"fleet.demand.{name}", value, "must be a finite number of requests/s >= 0")
    if not math.isfinite(f.demand_default) or f.demand_default < 0:
        raise ConfigError("fleet.demand_default", f.demand_default, "must be a finite number of requests/s >= 0")
    for name, value in f.sla.items():
        if name not in catalog_models:
            raise ConfigError(f"fleet.sla.{name}", value, f"unknown model; allowed: {', '.join(catalog_models)}")
        if value is not None and (not math.isfinite(value) or value < 0):
            raise ConfigError(f"fleet.sla.{name}", value, "must be a finite tok/s >= 0")
    if not 0 < f.target_utilization <= 1:
        raise ConfigError("fleet.target_utilization", f.target_utilization, "must be in (0, 1]")
    for name, value in f.inventory.items():
        if name not in catalog_hardware:
            raise ConfigError(f"fleet.inventory.{name}", value,
                              f"unknown hardware; allowed: {', '.join(catalog_hardware)}")
        if value is not None and value < 0:
            raise ConfigError(f"fleet.inventory.{name}", value, "must be a whole number of systems >= 0, or null")
    d = f.isl
    if d.kind == IslKind.lognormal:
        if d.median is not None and not d.median > 0:
            raise ConfigError("fleet.isl.median", d.median, "must be > 0 tokens, or null (workload.isl)")
        if not (math.isfinite(d.sigma) and d.sigma > 0):
            raise ConfigError("fleet.isl.sigma", d.sigma, "must be a finite number > 0")
        if d.buckets < 1:
            raise ConfigError("fleet.isl.buckets", d.buckets, "must be a whole number >= 1")
    if d.kind == IslKind.buckets:
        if not d.explicit:
            raise ConfigError("fleet.isl.explicit", [], "kind=buckets needs at least one {isl, weight}")
        for b in d.explicit:
            if b.isl < 1 or not b.weight > 0:
                raise ConfigError("fleet.isl.explicit", f"{{isl: {b.isl}, weight: {b.weight}}}",
                                  "each bucket needs isl >= 1 and weight > 0")
        total = sum(b.weight for b in d.explicit)
        if abs(total - 1) > BUCKET_WEIGHT_TOLERANCE:
            raise ConfigError("fleet.isl.explicit", total, "bucket weights must sum to 1")
    s = f.solver
    if not s.time_limit_s > 0:
        raise ConfigError("fleet.solver.time_limit_s", s.time_limit_s, "must be > 0 seconds")
    if not s.mip_rel_gap >= 0:
        raise ConfigError("fleet.solver.mip_rel_gap", s.mip_rel_gap, "must be >= 0")
    if s.threads is not None and s.threads < 1:
        raise ConfigError("fleet.solver.threads", s.threads, "must be >= 1, or null")
