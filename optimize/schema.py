"""Config types of the optimizer: the fleet problem of docs/model.md §5 and §9, each field declared once."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Dict, List, Optional

from omegaconf import MISSING

from model.app.schema import ModelAppConfig, schema_registrar
from model.fields import Section, spec


class IslKind(enum.Enum):
    p50 = "p50"              # one bucket at workload.isl
    lognormal = "lognormal"  # equal-probability buckets of a lognormal (median, sigma)
    buckets = "buckets"      # explicit ISL values and weights


class DemandProfile(enum.Enum):
    constant = "constant"    # one period: fleet.demand all day (docs/model.md §5)
    diurnal = "diurnal"      # 24 hourly periods on a cosine day (fleet.diurnal)
    trace = "trace"          # a request log (fleet.trace) cut into periods and ISL buckets


class TraceShape(enum.Enum):
    as_is = "as_is"          # the trace's own periods of fleet.period_s
    diurnal = "diurnal"      # the trace's mix and burst tiled over 24 hourly periods of the diurnal curve


class TraceRate(enum.Enum):
    demand = "demand"        # scaled so that each model's mean rate is its fleet.demand
    trace = "trace"          # the trace's own requests/s, for every selected model


class CapacityTier(enum.Enum):
    reserved = "reserved"    # committed for the horizon at price_per_hour (owned hardware: its amortized cost)
    on_demand = "on_demand"  # bought per period at on_demand_price_per_hour
    spot = "spot"            # bought per period at spot_price_per_hour, up with probability spot_availability


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
class DiurnalSpec:
    peak_to_trough: float = spec(2.0, unit="1", check="> 0",
                                 doc="peak over trough of the hourly demand, >= 1 (assumption; the Azure 2023 "
                                     "week-long traces swing by about 2x over a day)")
    peak_hour: float = spec(14.0, unit="h", check=">= 0", doc="hour of the day (0-24) of the peak")
    peak_to_trough_by_model: Dict[str, Optional[float]] = spec(factory=dict, unit="1",
                                                               doc="per model (null: peak_to_trough)")
    peak_hour_by_model: Dict[str, Optional[float]] = spec(factory=dict, unit="h",
                                                          doc="per model (null: peak_hour)")


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
    # Demand over time and capacity tiers (docs/model.md §11)
    demand_profile: DemandProfile = spec(DemandProfile.constant,
                                         doc="constant (one period), diurnal (24 hourly periods, rate = mean x "
                                             "(1 + a cos(2 pi (h - peak_hour) / 24)), a = (r - 1) / (r + 1)) or "
                                             "trace (fleet.trace cut into periods and ISL buckets)")
    diurnal: DiurnalSpec = spec(factory=DiurnalSpec, doc="the diurnal curve (mean: fleet.demand)")
    burst: float = spec(1.0, unit="1", check="> 0",
                        doc="constant and diurnal profiles: P99 one-minute rate over the period mean, >= 1; each "
                            "period's capacity covers mean x burst (trace: measured per period)")
    trace: Optional[str] = spec(None, unit="path", doc="request log (Azure 2023 CSV or Mooncake JSONL) for "
                                                       "demand_profile=trace")
    period_s: float = spec(3600.0, unit="s", check="> 0",
                           doc="trace: length of a period, >= 60 (the burst is measured on one-minute bins)")
    trace_shape: TraceShape = spec(TraceShape.as_is,
                                   doc="as_is: the trace's own periods; diurnal: its ISL mix and burst tiled "
                                       "over 24 hourly periods of the diurnal curve")
    trace_rate: TraceRate = spec(TraceRate.demand,
                                 doc="demand: rates scaled so each model's mean is fleet.demand; trace: the "
                                     "trace's own requests/s for every selected model")
    tiers: List[CapacityTier] = spec(factory=lambda: [CapacityTier.reserved, CapacityTier.on_demand],
                                     doc="capacity tiers on offer: reserved, on_demand, spot (spot is opt-in: "
                                         "its catalog prices are assumptions)")
    spot_spare: int = spec(2, unit="replicas", check=">= 0",
                           doc="spot rule (N+k): a (row, period) holding spot replicas with availability < 1 "
                               "keeps its demand x burst at the target utilization after losing this many more "
                               "replicas of its largest spot configuration than the expected share")
    replay: bool = spec(False, unit="bool",
                        doc="replay the trace through the planned fleet (SimPy) and write replay.csv; needs "
                            "demand_profile=trace and trace_shape=as_is")
    replay_seed: int = spec(0, unit="", check=">= 0", doc="seed of the replay's spot losses and stream scaling")
    power_cap_mw: Optional[float] = spec(None, unit="MW", check="> 0",
                                         doc="site power cap per period: sum of systems x power_kw x pue "
                                             "(null: none)")
    pue: float = spec(1.3, unit="1", check="> 0",
                      doc="power usage effectiveness of the site, >= 1 (assumption: between hyperscale AI "
                          "halls, about 1.1-1.2, and the Uptime Institute 2024 survey average, 1.56)")


@dataclass
class OptimizeAppConfig(ModelAppConfig):
    fleet: FleetSpec = spec(factory=FleetSpec, doc="the fleet problem")


register_schemas = schema_registrar("optimize_schema", OptimizeAppConfig)


FLEET_SECTION = Section(order=10, config_name="optimize", prefix="fleet", schema=FleetSpec,
                        title="`python -m optimize` (conf/optimize.yaml, conf/fleet/default.yaml; "
                              "`select.hardware` is the hardware on offer, default cerebras_wse3 and b200):",
                        register=register_schemas)
