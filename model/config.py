"""Typed configuration: structured-config dataclasses, the ConfigStore schema, and composition.

The YAML files under ``conf/`` hold the values and their sources; the dataclasses here hold the
types.  Hydra checks types while composing (the schema is the first entry of every primary
config's defaults list); :func:`model.validate.validate` then checks values and freezes the
result.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig

import conf as _conf_package

CONF_DIR = Path(_conf_package.__file__).resolve().parent


class Attention(enum.Enum):
    """How the KV cache of a model is sized (SPEC §2)."""

    gqa = "gqa"          # 2 * full_layers * kv_heads * head_dim * kv_bits/8 per token
    mla = "mla"          # layers * (kv_lora_rank + qk_rope_head_dim) * kv_bits/8 per token
    explicit = "explicit"  # kv_bytes_per_token given directly


@dataclass
class HardwareSpec:
    """One system type: a Cerebras wafer or a single GPU. Units: GB, TB/s, $/hour, $, s."""

    memory_gb: float = MISSING
    memory_bandwidth_tb_s: float = MISSING
    price_per_hour: float = MISSING
    capex_per_system: Optional[float] = None
    usable_memory_fraction: float = 1.0
    bandwidth_efficiency: float = 1.0
    hop_latency_s: float = 0.0
    step_overhead_s: float = 0.0
    # GPU decode (SPEC §2.3 extended): a fixed cost per layer per step and a compute bound
    layer_overhead_s: float = 0.0
    peak_dense_tflops: Optional[float] = None
    compute_efficiency: float = 1.0
    min_systems: int = 1
    cache_read_ratio: float = 10.0
    # True where weights stay resident in on-chip SRAM: the decode rate then comes from the
    # measured interactivity (or its power-law fit), not from streaming weights.
    weights_resident: bool = False
    interactivity_multiplier: float = 1.0
    power_law_a: Optional[float] = None
    power_law_b: Optional[float] = None
    allowed_sizes: Optional[List[int]] = None
    max_systems: Optional[int] = None
    power_kw: Optional[float] = None
    description: str = ""
    source: Dict[str, str] = field(default_factory=dict)
    uncertain: List[str] = field(default_factory=list)


@dataclass
class InteractivityPoint:
    """Base decode rate of one model on one hardware type, output tok/s per request."""

    tok_s: float = MISSING
    # True for a measurement; only measurements enter the power-law fit (SPEC §2.3).
    measured: bool = False


@dataclass
class ModelSpec:
    """One LLM. Parameters in billions, context in tokens, bits per value."""

    total_params_b: float = MISSING
    active_params_b: float = MISSING
    layers: int = MISSING
    max_context: int = MISSING
    weight_bits: float = 16.0
    weight_gb: Optional[float] = None
    attention: Attention = Attention.gqa
    kv_heads: Optional[int] = None
    head_dim: Optional[int] = None
    sliding_window_layers: int = 0
    sliding_window: Optional[int] = None
    kv_lora_rank: Optional[int] = None
    qk_rope_head_dim: Optional[int] = None
    kv_bytes_per_token: Optional[float] = None
    kv_bits: float = 16.0
    # Mixture of experts: E routed experts per MoE layer, k of them per token, their parameters
    routed_experts: Optional[int] = None
    experts_per_token: Optional[int] = None
    routed_expert_params_b: Optional[float] = None
    interactivity: Dict[str, InteractivityPoint] = field(default_factory=dict)
    description: str = ""
    source: Dict[str, str] = field(default_factory=dict)
    uncertain: List[str] = field(default_factory=list)


@dataclass
class TokenMix:
    """Fractions of all tokens by type; they sum to 1."""

    cache_read: float = MISSING
    cache_write: float = MISSING
    input: float = MISSING
    output: float = MISSING


@dataclass
class PriceSheet:
    """Selling price by token type, $/Mtok."""

    cache_read: float = MISSING
    cache_write: float = MISSING
    input: float = MISSING
    output: float = MISSING


@dataclass
class WorkloadSpec:
    name: str = MISSING
    isl: int = MISSING
    osl: Optional[float] = None
    concurrency: int = 250
    mix: TokenMix = field(default_factory=TokenMix)
    price_sheet: Optional[PriceSheet] = None
    source: Dict[str, str] = field(default_factory=dict)
    uncertain: List[str] = field(default_factory=list)


@dataclass
class GridSpec:
    """ISL: ``isl_points`` log-spaced values in [isl_min, isl_max] plus ``isl_extra``.
    Concurrency: the integers concurrency_min..concurrency_max in steps of concurrency_step."""

    isl_min: int = 4000
    isl_max: int = 1_000_000
    isl_points: int = 16
    isl_extra: List[int] = field(default_factory=list)
    concurrency_min: int = 1
    concurrency_max: int = 1024
    concurrency_step: int = 1


@dataclass
class SlaSpec:
    min_interactivity: float = 1000.0


@dataclass
class Selection:
    models: List[str] = MISSING
    hardware: List[str] = MISSING


@dataclass
class PlotSpec:
    enabled: bool = True
    feasibility_hardware: str = "cerebras_wse3"
    feasibility_reference_model: str = "deepseek_v3"
    feasibility_params_b: List[float] = field(default_factory=lambda: [10.0, 10_000.0])


@dataclass
class DaskSpec:
    """Grids larger than memory: evaluate lazily in chunks on a dask cluster, write chunk by chunk."""

    enabled: bool = False
    chunks: Dict[str, int] = field(default_factory=dict)  # dim -> chunk length (missing: defaults)
    address: Optional[str] = None   # scheduler address, e.g. tcp://10.0.0.5:8786; null: a local cluster
    n_workers: int = 2              # local cluster: worker processes


@dataclass
class ModelAppConfig:
    hardware: Dict[str, HardwareSpec] = field(default_factory=dict)
    models: Dict[str, ModelSpec] = field(default_factory=dict)
    workload: WorkloadSpec = field(default_factory=WorkloadSpec)
    grid: GridSpec = field(default_factory=GridSpec)
    sla: SlaSpec = field(default_factory=SlaSpec)
    select: Selection = field(default_factory=Selection)
    plots: PlotSpec = field(default_factory=PlotSpec)
    dask: DaskSpec = field(default_factory=DaskSpec)


# Unit and meaning of every config field, for the README's config reference and error messages.
FIELD_DOCS: dict[str, tuple[str, str]] = {
    # hardware.<name>.<field>
    "memory_gb": ("GB", "memory per system (SRAM on the wafer, HBM on a GPU)"),
    "memory_bandwidth_tb_s": ("TB/s", "memory bandwidth per system"),
    "price_per_hour": ("$/h", "cost of one system-hour"),
    "capex_per_system": ("$", "purchase cost of one system (null: unknown, capex NaN)"),
    "usable_memory_fraction": ("1", "fraction of memory usable for weights and KV"),
    "bandwidth_efficiency": ("1", "fraction of peak bandwidth achieved"),
    "hop_latency_s": ("s", "pipeline hop latency per system beyond those the weights need"),
    "step_overhead_s": ("s", "fixed time per decode step (GPU roofline)"),
    "layer_overhead_s": ("s", "fixed time per layer per decode step: launches, all-reduce (GPU)"),
    "peak_dense_tflops": ("TFLOP/s", "peak dense FP8 tensor throughput per system (null: no compute bound)"),
    "compute_efficiency": ("1", "fraction of peak FLOP/s achieved in decode"),
    "min_systems": ("systems", "smallest replica (pins e.g. TP8)"),
    "cache_read_ratio": ("1", "cache-read token rate / output decode rate"),
    "weights_resident": ("bool", "weights in on-chip SRAM: decode rate from measured interactivity"),
    "interactivity_multiplier": ("1", "multiplier on the base interactivity I0"),
    "power_law_a": ("tok/s", "a of I0 = a / active_params_b**b (null: fitted)"),
    "power_law_b": ("1", "b of I0 = a / active_params_b**b (null: fitted)"),
    "allowed_sizes": ("systems", "replica sizes that can be built (null: any)"),
    "max_systems": ("systems", "largest replica (null: no limit)"),
    "power_kw": ("kW", "power per system (informational)"),
    # models.<name>.<field>
    "total_params_b": ("B params", "total parameters"),
    "active_params_b": ("B params", "parameters active per token"),
    "layers": ("layers", "transformer layers"),
    "max_context": ("tokens", "longest context served"),
    "weight_bits": ("bits", "bits per weight (ignored when weight_gb is set)"),
    "weight_gb": ("GB", "weight size, overrides weight_bits"),
    "attention": ("", "KV layout: gqa, mla or explicit"),
    "kv_heads": ("heads", "GQA key/value heads"),
    "head_dim": ("values", "GQA head dimension"),
    "sliding_window_layers": ("layers", "GQA layers with a sliding window"),
    "sliding_window": ("tokens", "sliding-window length"),
    "kv_lora_rank": ("values", "MLA compressed KV rank"),
    "qk_rope_head_dim": ("values", "MLA rope key dimension"),
    "kv_bytes_per_token": ("bytes", "explicit KV bytes per context token"),
    "kv_bits": ("bits", "bits per KV value"),
    "routed_experts": ("experts", "routed experts E per MoE layer"),
    "experts_per_token": ("experts", "routed experts k chosen per token"),
    "routed_expert_params_b": ("B params", "parameters of all routed experts"),
    "interactivity": ("tok/s", "base decode rate per hardware: {tok_s, measured}"),
}


@dataclass
class CalibrationSpec:
    """``python -m model.calibrate``: fit the GPU decode model to measured points."""

    data: str = "data/inferencex/gpu-benchmarks-inferencex.csv"  # relative to the repository
    length_factor: float = 0.9
    weights_gb: Dict[str, Any] = field(default_factory=dict)  # model -> precision -> GB
    per_hardware: List[str] = field(default_factory=lambda: ["bandwidth_efficiency", "layer_overhead_s"])
    shared: List[str] = field(default_factory=lambda: ["compute_efficiency"])
    inherit: Dict[str, str] = field(default_factory=dict)
    cross_validate: bool = False  # leave-one-out errors (one fit per point: minutes)
    write: bool = True
    target: str = "conf/hardware/gpu_calibration.yaml"
    source: Dict[str, str] = field(default_factory=dict)


@dataclass
class CalibrateAppConfig(ModelAppConfig):
    calibration: CalibrationSpec = field(default_factory=CalibrationSpec)


def register_schemas() -> None:
    """Put the schemas in Hydra's ConfigStore (idempotent)."""
    cs = ConfigStore.instance()
    cs.store(name="model_schema", node=ModelAppConfig)
    cs.store(name="calibrate_schema", node=CalibrateAppConfig)


register_schemas()


def load_config(overrides: Sequence[str] = (), config_name: str = "model") -> DictConfig:
    """Compose ``conf/`` with Hydra's compose API and validate it.

    Parameters
    ----------
    overrides
        Command-line style overrides, e.g. ``["hardware.b200.price_per_hour=3"]``.
    config_name
        Primary config: ``model``, ``optimize`` or ``sensitivity``.

    Returns
    -------
    DictConfig
        The same config the CLI builds, validated and read-only.

    Raises
    ------
    model.validate.ConfigError
        On a bad value (one line naming key, value and what is allowed).
    """
    from model.validate import validate

    return validate(compose_config(config_name, overrides))


def compose_config(config_name: str, overrides: Sequence[str] = ()) -> DictConfig:
    """Compose a primary config of ``conf/`` with Hydra's compose API (not validated)."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name=config_name, overrides=list(overrides))


def as_plain(node: Any) -> Any:
    """A config node as plain Python containers (for attrs and JSON)."""
    from omegaconf import OmegaConf

    return OmegaConf.to_container(node, resolve=True, enum_to_str=True)
