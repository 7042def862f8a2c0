"""The cost model's input types: dataclasses and enums, each field declared once.

Every field carries its unit, meaning and allowed range (:func:`model.fields.spec`); the YAML
files under ``conf/`` hold the catalog values and their sources.  :class:`ModelConfig` is what
every core function reads (the catalogs, the workload, the grid, the SLA and the selection); the
apps' settings (plots, dask, output files, the calibration command) extend it in the app layer
(:mod:`model.app.schema`), which also registers the schemas with Hydra and composes them.  A
config composed from these schemas is an instance of them field for field (OmegaConf's
structured configs), so the core reads it by attribute, typed, without importing OmegaConf.
:func:`model.validate.check_config` checks its values.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, fields
from typing import Any, Dict, List, Optional

from model.fields import spec

# A required value: OmegaConf's marker for a field that must be given (``omegaconf.MISSING``, the
# same string), so that composing refuses a catalog entry without it.
MISSING: Any = "???"


class Attention(enum.Enum):
    """How the KV cache of a model is sized (docs/model.md §2)."""

    gqa = "gqa"          # 2 * full_layers * kv_heads * head_dim * kv_bits/8 per token
    mla = "mla"          # layers * (kv_lora_rank + qk_rope_head_dim) * kv_bits/8 per token
    explicit = "explicit"  # kv_bytes_per_token given directly


class PrefillMode(enum.Enum):
    """How the non-output tokens of a request are timed (docs/model.md §8)."""

    ratio = "ratio"          # the seed's: L / (cache_read_ratio * I) per request (docs/model.md §2)
    physical = "physical"    # new-token FLOPs on the replica's compute, cached prefixes loaded (docs/model.md §8)


class SlaPercentile(enum.Enum):
    """Which percentile of TTFT and TPOT an SLA holds at (docs/model.md §10)."""

    p50 = "p50"
    p90 = "p90"
    p99 = "p99"


class Parallelism(enum.Enum):
    """How a replica of S systems splits a model (docs/model.md §8)."""

    pipeline = "pipeline"    # layers over systems (the wafer): KV per system K / S
    tensor = "tensor"        # heads over GPUs: KV per GPU K / min(S, kv_heads); MLA's latent KV replicated


class KvTier(enum.Enum):
    """Where a cached prefix waits between the turns of a session (docs/model.md §8)."""

    host = "host"            # evicted to host memory and loaded back over the system's host link
    device = "device"        # kept in device memory: no load (the optimistic bound)


class CacheSource(enum.Enum):
    """Where the cached share of a request's input comes from (docs/model.md §12)."""

    mix = "mix"              # workload.mix.cache_read, as given
    trace = "trace"          # h(C): an LRU prefix-cache replay of workload.trace at the cell's capacity


class Routing(enum.Enum):
    """How requests reach the replicas that hold prefix caches (docs/model.md §12)."""

    prefix_aware = "prefix_aware"  # a session stays on one replica
    random = "random"              # every request to a uniformly random replica


class DecodeContext(enum.Enum):
    """Context length whose KV a decode step reads and a replica holds."""

    isl = "isl"              # L, the seed's (docs/model.md §2)
    mean = "mean"            # L + O / 2, the mean over the decode (benchmarks with long outputs)


@dataclass
class Sourced:
    """Where a catalog entry's values come from, and which of them are uncertain."""

    source: Dict[str, str] = spec(factory=dict, doc="where each value comes from, by field")
    uncertain: List[str] = spec(factory=list, doc="fields whose values are estimates or assumptions")



# Kinds of per-hardware quantity (array parameters of the cost model): each unit and range once
def seconds(default: Any, doc: str) -> Any:
    """A per-hardware time in seconds, >= 0."""
    return spec(default, unit="s", check=">= 0", array=True, doc=doc)


def fraction(default: Any, doc: str) -> Any:
    """A per-hardware share in (0, 1]."""
    return spec(default, unit="1", check="(0, 1]", array=True, doc=doc)


def system_count(default: Any, doc: str) -> Any:
    """A per-hardware number of systems, >= 1 (null where the default is)."""
    return spec(default, unit="systems", check=">= 1", array=True, doc=doc)


@dataclass
class HardwareSpec(Sourced):
    """One system type: a Cerebras wafer or a single GPU (``hardware.<name>.<field>``)."""

    memory_gb: float = spec(MISSING, unit="GB", check="> 0", array=True,
                            doc="memory per system (SRAM on the wafer, HBM on a GPU)")
    memory_bandwidth_tb_s: float = spec(MISSING, unit="TB/s", check="> 0", array=True,
                                        doc="memory bandwidth per system")
    price_per_hour: float = spec(MISSING, unit="$/h", check="> 0", array=True, doc="cost of one system-hour")
    capex_per_system: Optional[float] = spec(None, unit="$", check="> 0", array=True,
                                             doc="purchase cost of one system (null: unknown, capex NaN)")
    usable_memory_fraction: float = fraction(1.0, doc="fraction of memory usable for weights and KV")
    bandwidth_efficiency: float = fraction(1.0, doc="fraction of peak bandwidth achieved")
    hop_latency_s: float = seconds(0.0, doc="pipeline hop latency per system beyond those the weights need")
    step_overhead_s: float = seconds(0.0, doc="fixed time per decode step (GPU roofline)")
    # GPU decode (docs/model.md §2.3 extended): a fixed cost per layer per step and a compute bound
    layer_overhead_s: float = seconds(0.0, doc="fixed time per layer per decode step: launches, all-reduce (GPU)")
    peak_dense_tflops: Optional[float] = spec(None, unit="TFLOP/s", check="> 0", array=True,
                                              doc="peak dense FP8 tensor throughput per system "
                                                  "(null: no compute bound)")
    compute_efficiency: float = fraction(1.0, doc="fraction of peak FLOP/s achieved in decode")
    min_systems: int = system_count(1, doc="smallest replica (pins e.g. TP8)")
    cache_read_ratio: float = spec(10.0, unit="1", check="> 0", array=True,
                                   doc="cache-read token rate / output decode rate")
    # True where weights stay resident in on-chip SRAM: the decode rate then comes from the
    # measured interactivity (or its power-law fit), not from streaming weights.
    weights_resident: bool = spec(False, unit="bool", array=True,
                                  doc="weights in on-chip SRAM: decode rate from measured interactivity")
    interactivity_multiplier: float = spec(1.0, unit="1", check="> 0", array=True,
                                           doc="multiplier on the base interactivity I0")
    power_law_a: Optional[float] = spec(None, unit="tok/s", check="> 0", array=True,
                                        doc="a of I0 = a / active_params_b**b (null: fitted)")
    power_law_b: Optional[float] = spec(None, unit="1", check="finite", array=True,
                                        doc="b of I0 = a / active_params_b**b (null: fitted)")
    # Prefill (docs/model.md §8)
    prefill_mode: PrefillMode = spec(PrefillMode.ratio, doc="ratio: L / (cache_read_ratio * I); physical: "
                                     "new-token FLOPs on the replica's compute plus the cached prefix's load")
    prefill_efficiency: float = fraction(0.5, doc="fraction of peak dense FLOP/s achieved in prefill (physical mode)")
    prefill_overhead_s: float = seconds(0.0, doc="fixed time per prefill: scheduling, launches (physical mode)")
    kv_load_bandwidth_gb_s: Optional[float] = spec(None, unit="GB/s", check="> 0", array=True,
                                                   doc="host-to-device bandwidth per system for a cached prefix's KV "
                                                       "(workload.kv_tier=host; null: no load cost)")
    host_memory_gb: Optional[float] = spec(None, unit="GB", check=">= 0", array=True,
                                           doc="host memory per system that holds evicted prefix KV "
                                               "(docs/model.md §12; "
                                               "null: none)")
    storage_cache_gb: Optional[float] = spec(None, unit="GB", check=">= 0", array=True,
                                             doc="storage per system that holds prefix KV, loaded at "
                                                 "kv_load_bandwidth_gb_s (docs/model.md §12; null: none)")
    interconnect_gb_s: Optional[float] = spec(None, unit="GB/s", check="> 0", array=True,
                                              doc="network bandwidth per system for moving KV between replicas "
                                                  "(disaggregated serving, docs/model.md §9; null: none)")
    parallelism: Parallelism = spec(Parallelism.pipeline, doc="pipeline: KV per system K / S; tensor: KV per GPU "
                                    "K / min(S, kv_heads), MLA's latent KV on every GPU")
    attention_data_parallel: bool = spec(False, unit="bool", array=True,
                                         doc="tensor parallelism with data-parallel attention: requests split, "
                                             "KV per GPU K / S")
    # Serving configuration terms (docs/model.md §10): links, FP4 units, and how a replica is served.  At their
    # defaults (ep 1, no MTP, the model's KV bits, FP8 math, no prefill busy time) the step is docs/model.md §8's.
    peak_fp4_tflops: Optional[float] = spec(None, unit="TFLOP/s", check="> 0", array=True,
                                            doc="peak dense FP4 tensor throughput per GPU (null: no FP4 units)")
    scaleup_gb_s: Optional[float] = spec(None, unit="GB/s", check="> 0", array=True,
                                         doc="scale-up link (NVLink, Infinity Fabric) bandwidth per GPU and "
                                             "direction: the EP all-to-all within scaleup_domain")
    scaleup_domain: Optional[int] = system_count(
        None, doc="GPUs in one scale-up domain; EP wider than it uses interconnect_gb_s")
    ep: int = system_count(1, doc="expert-parallel width of a replica (capped at its systems); > 1 adds the all-to-all")
    ep_latency_s: float = seconds(0.0, doc="fixed time per peer (ep - 1 of them) and MoE layer of one EP "
                                           "all-to-all (dispatch + combine)")
    ep_activation_bytes: float = spec(1.5, unit="bytes", check="> 0", array=True,
                                      doc="bytes per hidden value an EP all-to-all moves: 1.5, dispatch in FP8 "
                                          "(1 B) and combine in BF16 (2 B) as DeepEP's low-latency kernels do "
                                          "(uncertain per stack)")
    mtp_draft_tokens: int = spec(0, unit="tokens", check=">= 0", array=True,
                                 doc="MTP speculative tokens drafted per decode step (0: no MTP)")
    accepted_tokens_per_step: float = spec(1.0, unit="tokens", check="> 0", array=True,
                                           doc="output tokens a decode step emits per request (1 to "
                                               "mtp_draft_tokens + 1); mtp_acceptance, where set, replaces it")
    mtp_acceptance: Optional[float] = spec(None, unit="1", check="(0, 1)", array=True,
                                           doc="probability a drafted token is accepted once the drafts before it "
                                               "are: d drafts emit (1 - a^(d+1)) / (1 - a) tokens per step "
                                               "(null: accepted_tokens_per_step)")
    mtp_draft_per_batch: bool = spec(False, unit="bool", array=True,
                                     doc="each cell runs the draft count of 1 to mtp_draft_tokens that emits the "
                                         "most tokens/s at its batch (TensorRT-LLM's attention-DP recipes); "
                                         "needs mtp_acceptance")
    kv_cache_bits: Optional[float] = spec(None, unit="bits", check="> 0", array=True,
                                          doc="bits per KV value this hardware's stack stores (null: the "
                                              "model's kv_bits)")
    fp4_compute: bool = spec(False, unit="bool", array=True,
                             doc="run the math at peak_fp4_tflops where the model's checkpoint is FP4 "
                                 "(models.<name>.fp4_checkpoint) and the GPU has FP4 units")
    prefill_busy_s: float = seconds(0.0, doc="fixed time per prefill the replica is busy (physical mode); "
                                             "prefill_overhead_s is latency the replica spends on others")
    prefill_stack_speed: float = spec(1.0, unit="1", check="> 0", array=True,
                                      doc="prefill throughput (busy time per request) of this hardware's replica "
                                          "in a disaggregated prefill pool, relative to the same replica in "
                                          "aggregated serving; a request's own prefill time stays the replica's")
    pool_latency_share: float = spec(1.0, unit="1", check=">= 0", array=True,
                                     doc="a disaggregated prefill pool's fixed latency / prefill_overhead_s")
    fp4_prefill_speed: float = spec(1.0, unit="1", check="> 0", array=True,
                                    doc="prefill_efficiency times this where the math runs at FP4 (fp4_compute): "
                                        "what this hardware's stack realizes of the FP4 peak in prefill, "
                                        "relative to its FP8 prefill (the calibration fits one per stack)")
    prefill_chunk_tokens: Optional[float] = spec(
        None, unit="tokens", check="> 0", array=True,
        doc="new tokens per prefill forward (the stack's chunk), each streaming all the weights (null: none counted)")
    memory_reserve_gb: float = spec(0.0, unit="GB", check=">= 0", array=True,
                                    doc="memory per system the stack keeps for itself (activations, graphs): "
                                        "neither weights nor KV (model.serving.kv_capacity); a pinned replica "
                                        "admits the requests whose KV fits the rest, the others wait")
    decode_attention_efficiency: Optional[float] = fraction(
        None, doc="share of the math peak a decode step's attention over the context achieves: n m F_dec ctx "
                  "/ (S peak eta_a) serial to the reads (model.serving.decode_step); fitted on the §10 "
                  "DeepSeek-R1 runs (serving-calibrate, configurations.json) (null: no term)")
    allowed_sizes: Optional[List[int]] = spec(None, unit="systems", doc="replica sizes that can be built (null: any)")
    max_systems: Optional[int] = system_count(None, doc="largest replica (null: no limit)")
    power_kw: Optional[float] = spec(None, unit="kW", check="> 0",
                                     doc="electrical power per system, IT load (fleet.power_cap_mw; null: unknown)")
    # Capacity tiers (docs/model.md §11): price_per_hour is the reserved tier (committed for the horizon)
    on_demand_price_per_hour: Optional[float] = spec(None, unit="$/h", check="> 0",
                                                     doc="list price of one system-hour bought per period "
                                                         "(null: no on-demand tier, e.g. owned hardware)")
    spot_price_per_hour: Optional[float] = spec(None, unit="$/h", check="> 0",
                                                doc="price of one preemptible system-hour (null: no spot tier)")
    spot_availability: Optional[float] = spec(None, unit="1", check="(0, 1]",
                                              doc="probability that a spot replica is up during a period")
    description: str = ""


@dataclass
class InteractivityPoint:
    """Base decode rate of one model on one hardware type, output tok/s per request."""

    tok_s: float = spec(MISSING, unit="tok/s", check="> 0", doc="base decode rate I0 per request")
    # True for a measurement; only measurements enter the power-law fit (docs/model.md §2.3).
    measured: bool = spec(False, unit="bool", doc="a measurement (only these enter the power-law fit)")


@dataclass
class ModelSpec(Sourced):
    """One LLM (``models.<name>.<field>``)."""

    total_params_b: float = spec(MISSING, unit="B params", check="> 0", array=True, doc="total parameters")
    active_params_b: float = spec(MISSING, unit="B params", check="> 0", array=True,
                                  doc="parameters active per token")
    layers: int = spec(MISSING, unit="layers", check=">= 1", array=True, doc="transformer layers")
    max_context: int = spec(MISSING, unit="tokens", check=">= 1", array=True, doc="longest context served")
    weight_bits: float = spec(16.0, unit="bits", check="> 0", array=True,
                              doc="bits per weight (ignored when weight_gb is set)")
    weight_gb: Optional[float] = spec(None, unit="GB", check="> 0", array=True,
                                      doc="weight size, overrides weight_bits")
    attention: Attention = spec(Attention.gqa, doc="KV layout: gqa, mla or explicit")
    kv_heads: Optional[int] = spec(None, unit="heads", array=True, doc="GQA key/value heads")
    head_dim: Optional[int] = spec(None, unit="values", array=True, doc="GQA head dimension")
    sliding_window_layers: int = spec(0, unit="layers", array=True, doc="GQA layers with a sliding window")
    sliding_window: Optional[int] = spec(None, unit="tokens", array=True, doc="sliding-window length")
    kv_lora_rank: Optional[int] = spec(None, unit="values", array=True, doc="MLA compressed KV rank")
    qk_rope_head_dim: Optional[int] = spec(None, unit="values", array=True, doc="MLA rope key dimension")
    kv_bytes_per_token: Optional[float] = spec(None, unit="bytes", array=True,
                                               doc="explicit KV bytes per context token")
    kv_bits: float = spec(16.0, unit="bits", check="> 0", array=True, doc="bits per KV value")
    # Attention FLOPs of prefill (docs/model.md §8): a query-key pair costs 2 * heads * (qk_head_dim + v_head_dim)
    attention_heads: Optional[int] = spec(None, unit="heads", check=">= 1", array=True, doc="query heads")
    qk_head_dim: Optional[int] = spec(None, unit="values", check=">= 1", array=True,
                                      doc="query-key head dimension (MLA: nope + rope, 192 for DeepSeek)")
    v_head_dim: Optional[int] = spec(None, unit="values", check=">= 1", array=True,
                                     doc="value head dimension (GQA: head_dim)")
    # Mixture of experts: E routed experts per MoE layer, k of them per token, their parameters
    routed_experts: Optional[int] = spec(None, unit="experts", array=True, doc="routed experts E per MoE layer")
    experts_per_token: Optional[int] = spec(None, unit="experts", array=True,
                                            doc="routed experts k chosen per token")
    routed_expert_params_b: Optional[float] = spec(None, unit="B params", array=True,
                                                   doc="parameters of all routed experts")
    # docs/model.md §10: what the EP all-to-all, dp-attention and FP4 math need
    hidden_size: Optional[int] = spec(None, unit="values", check=">= 1", array=True,
                                      doc="hidden state width (config.json hidden_size)")
    moe_layers: Optional[int] = spec(None, unit="layers", check=">= 1", array=True,
                                     doc="layers with routed experts (an EP all-to-all each)")
    attention_params_b: Optional[float] = spec(None, unit="B params", check="> 0", array=True,
                                               doc="attention weights of all layers, held whole by every "
                                                   "data-parallel-attention rank (null: not counted)")
    fp4_checkpoint: bool = spec(False, unit="bool", array=True,
                                doc="the served checkpoint's routed experts are FP4 (hardware fp4_compute "
                                    "then runs the math at the FP4 peak)")
    interactivity: Dict[str, InteractivityPoint] = spec(factory=dict, unit="tok/s",
                                                        doc="base decode rate per hardware: {tok_s, measured}")
    description: str = ""


@dataclass
class TokenMix:
    """Fractions of all tokens by type; they sum to 1."""

    cache_read: float = spec(MISSING, unit="1", check="[0, 1)", doc="fraction of all tokens that are cache reads")
    cache_write: float = spec(MISSING, unit="1", check="[0, 1)", doc="fraction of all tokens that are cache writes")
    input: float = spec(MISSING, unit="1", check="[0, 1)", doc="fraction of all tokens that are fresh input")
    output: float = spec(MISSING, unit="1", check="[0, 1)", doc="fraction of all tokens that are output")


# The token types of a request, in the order every table shows them (docs/model.md §2).
TOKEN_TYPES: tuple[str, ...] = tuple(f.name for f in fields(TokenMix))


@dataclass
class PriceSheet:
    """Selling price by token type, $/Mtok."""

    cache_read: float = spec(MISSING, unit="$/Mtok", check=">= 0", doc="selling price of cache reads")
    cache_write: float = spec(MISSING, unit="$/Mtok", check=">= 0", doc="selling price of cache writes")
    input: float = spec(MISSING, unit="$/Mtok", check=">= 0", doc="selling price of fresh input")
    output: float = spec(MISSING, unit="$/Mtok", check=">= 0", doc="selling price of output")


@dataclass
class WorkloadSpec(Sourced):
    """The workload: request lengths, token mix, selling prices (``workload.*``)."""

    name: str = spec(MISSING, doc="workload label")
    isl: int = spec(MISSING, unit="tokens", check="[1, 1e9]", doc="input-side tokens per request L (P50) for reports")
    osl: Optional[float] = spec(None, unit="tokens", check="> 0",
                                doc="output tokens per request (null: L * m_output / (1 - m_output))")
    concurrency: int = spec(250, unit="requests", check=">= 1",
                            doc="concurrent requests per replica for single-point reports")
    mix: TokenMix = spec(factory=TokenMix, doc="fractions of all tokens by type")
    kv_tier: KvTier = spec(KvTier.host, doc="where cached prefixes wait between turns: host (loaded back over the "
                           "host link) or device (no load)")
    cache: CacheSource = spec(CacheSource.mix, doc="cached share of the input: mix (workload.mix.cache_read) or "
                              "trace (LRU prefix-cache replay of workload.trace, docs/model.md §12)")
    trace: Optional[str] = spec(None, doc="request trace with prefix block ids (Mooncake JSONL) for "
                                "workload.cache=trace; with any cache, hit_rate.csv/png are written")
    cache_replicas: List[int] = spec(factory=lambda: [1, 2, 4, 8, 16], unit="replicas",
                                     doc="replica counts the hit-rate curve is replayed for (the cache split "
                                         "over them)")
    cache_points: int = spec(50, unit="points", check=">= 1", doc="capacities of the hit-rate curve (geometric, "
                             "one block to every distinct block of the trace)")
    cache_seed: int = spec(0, doc="seed of random routing in the replay")
    routing: Routing = spec(Routing.prefix_aware, doc="how requests reach replicas (workload.cache=trace): "
                            "prefix_aware (a session stays on its replica) or random")
    replicas: int = spec(1, unit="replicas", check=">= 1", doc="replicas a model's traffic (and its prefix "
                         "cache) is split over: h is read at this count (workload.cache=trace)")
    cache_curve: Optional[Dict[str, List[float]]] = spec(None, doc="h(C) filled by the apps from workload.trace "
                                                         "(capacity_tokens per replica, prefix_aware, random) at "
                                                         "workload.replicas; API: model.app.prefix.attach_curve")
    decode_context: DecodeContext = spec(DecodeContext.isl,
                                         doc="KV context of decode and memory: isl (L, docs/model.md §2) "
                                         "or mean (L + O / 2)")
    price_sheet: Optional[PriceSheet] = spec(None, doc="selling price by token type (null: no margin)")


@dataclass
class GridSpec:
    """ISL: ``isl_points`` log-spaced values in [isl_min, isl_max] plus ``isl_extra``.
    Concurrency: the integers concurrency_min..concurrency_max in steps of concurrency_step."""

    isl_min: int = spec(4000, unit="tokens", doc="smallest log-spaced ISL")
    isl_max: int = spec(1_000_000, unit="tokens", doc="largest log-spaced ISL")
    isl_points: int = spec(16, unit="points", doc="log-spaced ISL points")
    isl_extra: List[int] = spec(factory=list, unit="tokens", doc="ISLs added to the grid")
    concurrency_min: int = spec(1, unit="requests", doc="smallest concurrency")
    concurrency_max: int = spec(1024, unit="requests", doc="largest concurrency")
    concurrency_step: int = spec(1, unit="requests", doc="concurrency step")
    max_memory_fraction: float = spec(0.5, unit="1", check="(0, 1]",
                                      doc="largest share of the available memory one in-memory evaluation may "
                                          "take; larger grids are refused with a suggestion")


@dataclass
class SlaSpec:
    min_interactivity: float = spec(1000.0, unit="tok/s", check=">= 0",
                                    doc="least output tok/s per request that meets the SLA")
    max_ttft_s: Optional[float] = spec(None, unit="s", check="> 0",
                                       doc="longest time to first token that meets the SLA (null: none)")
    percentile: SlaPercentile = spec(SlaPercentile.p50, doc="the percentile of TTFT and of TPOT (1 / interactivity) "
                                     "both SLA kinds hold at: p50 (the median, as before), p90 or p99")


@dataclass
class Selection:
    models: List[str] = spec(MISSING, doc="models evaluated (names from models.*)")
    hardware: List[str] = spec(MISSING, doc="hardware evaluated (names from hardware.*)")


# The GPU calibration's fitted keys and their bounds, in the units of the hardware keys
# (here rather than in model.calibration, so that validating a config loads no fitting library)
FIT_BOUNDS = {"bandwidth_efficiency": (0.02, 1.0), "layer_overhead_s": (0.0, 2e-3),
              "compute_efficiency": (0.01, 1.0), "prefill_efficiency": (0.005, 1.0), "prefill_overhead_s": (0.0, 2.0)}


@dataclass
class ModelConfig:
    """What the cost model reads: catalogs, workload, grid, SLA and the selection (docs/model.md §2, §7)."""

    hardware: Dict[str, HardwareSpec] = spec(factory=dict, doc="hardware catalog")
    models: Dict[str, ModelSpec] = spec(factory=dict, doc="model catalog")
    workload: WorkloadSpec = spec(factory=WorkloadSpec, doc="the workload")
    grid: GridSpec = spec(factory=GridSpec, doc="the ISL x concurrency grid")
    sla: SlaSpec = spec(factory=SlaSpec, doc="the interactivity SLA")
    select: Selection = spec(factory=Selection, doc="models and hardware evaluated")

