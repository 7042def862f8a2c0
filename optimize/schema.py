"""Config types of the optimizer: the fleet problem of docs/model.md §5 and §9, each field declared once."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from model.fields import Section, spec
from model.schema import ModelAppConfig
from model.schema import register_schemas as model_register_schemas


class IslKind(enum.Enum):
    p50 = "p50"              # one bucket at workload.isl
    lognormal = "lognormal"  # equal-probability buckets of a lognormal (median, sigma)
    buckets = "buckets"      # explicit ISL values and weights


@dataclass
class IslBucket:
    isl: int = spec(MISSING, unit="tokens", check="[1, 1e9]", doc="ISL of the bucket")
    weight: float = spec(MISSING, unit="1", doc="share of requests in the bucket")


@dataclass
class IslDistribution:
    kind: IslKind = spec(IslKind.p50, doc="ISL distribution: p50 (one bucket at workload.isl), lognormal, buckets")
    median: Optional[float] = spec(None, unit="tokens", check="> 0", doc="lognormal median ISL (null: workload.isl)")
    sigma: float = spec(1.0, unit="1", check="> 0", doc="lognormal sigma of ln ISL")
    buckets: int = spec(8, unit="buckets", check=">= 1",
                        doc="lognormal: equal-probability buckets, each at its median quantile")
    explicit: List[IslBucket] = spec(factory=list, unit="tokens, 1",
                                     doc="buckets: list of {isl, weight}, weights summing to 1")


@dataclass
class SolverSpec:
    time_limit_s: float = spec(60.0, unit="s", check="> 0",
                               doc="HiGHS time limit; a plan found by then is returned as time_limit")
    mip_rel_gap: float = spec(1e-6, unit="1", check=">= 0", doc="HiGHS relative MIP gap")
    threads: Optional[int] = spec(None, unit="threads", check=">= 1", doc="HiGHS threads (null: HiGHS default)")


@dataclass
class FleetSpec:
    demand: Dict[str, Optional[float]] = spec(factory=dict, unit="1/s",
                                              doc="requests/s per model (null: demand_default)")
    demand_default: float = spec(10.0, unit="1/s", check="[0, 1e6]",
                                 doc="requests/s of each selected model whose demand is null "
                                     "(docs/model.md §5 default)")
    isl: IslDistribution = spec(factory=IslDistribution, doc="ISL distribution")
    sla: Dict[str, Optional[float]] = spec(factory=dict, unit="tok/s",
                                           doc="least output tok/s per request by model (null: sla.min_interactivity)")
    target_utilization: float = spec(0.8, unit="1", check="(0, 1]",
                                     doc="largest share of capacity used: demand <= utilization x capacity")
    inventory: Dict[str, Optional[int]] = spec(factory=dict, unit="systems",
                                               doc="most systems available by hardware type (null: no cap)")
    prune: bool = spec(True, unit="bool", doc="drop dominated columns (within each kind) before building the MILP")
    # Disaggregated serving (docs/model.md §9)
    disaggregation: bool = spec(True, unit="bool",
                                doc="also offer disaggregated serving: prefill replicas hand each request's KV "
                                    "to decode replicas over interconnect_gb_s (docs/model.md §9); "
                                    "false: aggregated only")
    prefill_hardware: Optional[List[str]] = spec(None, unit="",
                                                 doc="hardware that may prefill for decode replicas (null: the "
                                                     "hardware on offer, select.hardware); may name catalog "
                                                     "hardware not on offer, which then only prefills")
    decode_keeps_prefix: bool = spec(False, unit="bool",
                                     doc="decode replicas keep the cached prefix's KV, so only the rest moves "
                                         "(false: the whole context's KV moves)")
    max_ttft_s: Dict[str, Optional[float]] = spec(factory=dict, unit="s",
                                                  doc="longest TTFT per model, for columns of every kind "
                                                      "(null: sla.max_ttft_s)")
    solver: SolverSpec = spec(factory=SolverSpec, doc="HiGHS options")


@dataclass
class OptimizeAppConfig(ModelAppConfig):
    fleet: FleetSpec = spec(factory=FleetSpec, doc="the fleet problem")


def register_schemas() -> None:
    """Put this app's schema (and the cost model's) in Hydra's ConfigStore; call before composing."""
    model_register_schemas()
    ConfigStore.instance().store(name="optimize_schema", node=OptimizeAppConfig)


FLEET_SECTION = Section(order=10, config_name="optimize", prefix="fleet", schema=FleetSpec,
                        title="`python -m optimize` (conf/optimize.yaml, conf/fleet/default.yaml; "
                              "`select.hardware` is the hardware on offer, default cerebras_wse3 and b200):",
                        register=register_schemas)
