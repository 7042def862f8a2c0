"""Config → labelled parameter arrays (docs/model.md §2, inputs and per-model/per-hardware terms).

Every catalog number becomes a variable on dim ``hardware`` or ``model`` (or both), named as
its config key.  Any of them can be replaced by an array along extra dims (a ``sample`` dim of a
sensitivity design, a swept key): :func:`model.overrides.apply_overrides` addresses them by dotted config key and
everything derived afterwards broadcasts by name.
"""
from __future__ import annotations

import weakref
from collections.abc import Mapping
from functools import partial
from typing import Any, cast

import numpy as np
import xarray as xr

from model import serving
from model.interactivity import fit_power_law, power_law_interactivity
from model.overrides import (
    HARDWARE_FIELDS,
    MODEL_FIELDS,
    apply_overrides,
    as_array,
    check_catalog_dims,
    check_parameter,
)
from model.schema import (
    TOKEN_TYPES,
    Attention,
    DecodeContext,
    KvTier,
    ModelConfig,
    Parallelism,
    PrefillMode,
    SlaPercentile,
)
from model.validate import validation_stamp

# The quantile of each SLA percentile (docs/model.md §10)
SLA_QUANTILE = {SlaPercentile.p50: 0.5, SlaPercentile.p90: 0.9, SlaPercentile.p99: 0.99}
# Fields whose absence (null) means "no limit" rather than "unknown".
_NULL_IS_INF = {"max_systems", "max_ttft_s", "prefill_chunk_tokens"}


def _value(x: Any, field: str) -> float:
    if x is None:
        return np.inf if field in _NULL_IS_INF else np.nan
    return float(x)


def grid_isl(cfg: ModelConfig) -> np.ndarray:
    """ISL grid, tokens: ``isl_points`` log-spaced integers in [isl_min, isl_max] plus extras."""
    g = cfg.grid
    points: Any = np.rint(np.geomspace(g.isl_min, g.isl_max, g.isl_points)) if g.isl_points else []
    return np.unique(np.concatenate([np.asarray(points, float), np.asarray(list(g.isl_extra), float)])
                     ).astype(np.int64)


def grid_sizes(cfg: ModelConfig) -> dict[str, int]:
    """Lengths of the ISL grid (at most: log-spaced points may round to the same integer) and of
    the concurrency grid, by arithmetic alone: a grid too large to allocate is measured first."""
    g = cfg.grid
    steps = (int(g.concurrency_max) - int(g.concurrency_min)) // max(int(g.concurrency_step), 1) + 1
    return {"isl": int(g.isl_points) + len(g.isl_extra), "concurrency": max(steps, 0)}


def grid_concurrency(cfg: ModelConfig) -> np.ndarray:
    """Concurrency grid: concurrent requests per replica."""
    g = cfg.grid
    return np.arange(g.concurrency_min, g.concurrency_max + 1, g.concurrency_step, dtype=np.int64)


# The catalog's arrays of each validated config, read once: a validated config is read-only, so its
# arrays cannot change; the entry goes with the config, or with its next validation.
# id -> (weak reference, validation stamp, Dataset)
_CATALOG_ARRAYS: dict[int, tuple[weakref.ref[Any], int, xr.Dataset]] = {}


def raw_parameters(cfg: ModelConfig) -> xr.Dataset:
    """Every catalog number as an array on ``hardware`` / ``model`` (the whole catalog).

    A config the apps' validation passed (resolved and read-only: :func:`model.validate.validation_stamp`)
    is read once per validation; every call returns its own deep copy of those arrays (about 1 ms,
    against tens of ms to read the catalog node by node).  Any other config is read on every call.
    """
    stamp = validation_stamp(cfg)
    if stamp is None:
        return read_catalog(cfg)
    key = id(cfg)
    hit = _CATALOG_ARRAYS.get(key)
    if hit is None or hit[0]() is not cfg or hit[1] != stamp:
        ds = read_catalog(cfg)
        hit = (weakref.ref(cfg, partial(forget_catalog, key)), stamp, ds)
        _CATALOG_ARRAYS[key] = hit
    return hit[2].copy(deep=True)


def forget_catalog(key: int, _: Any = None) -> None:
    """Drop the cached catalog arrays of the config whose id is ``key`` (it is gone)."""
    _CATALOG_ARRAYS.pop(key, None)


def read_catalog(cfg: ModelConfig) -> xr.Dataset:
    """:func:`raw_parameters` of ``cfg``, read node by node."""
    hw_names = list(cfg.hardware.keys())
    model_names = list(cfg.models.keys())
    # each entry fetched once: a config node's lookup costs tens of microseconds
    hws = [cfg.hardware[h] for h in hw_names]
    mdls = [cfg.models[m] for m in model_names]
    data: dict[str, Any] = {}
    for f in HARDWARE_FIELDS:
        data[f] = ("hardware", [_value(getattr(hw, f), f) for hw in hws])
    for flag in ("weights_resident", "attention_data_parallel", "fp4_compute", "mtp_draft_per_batch"):
        data[flag] = ("hardware", [bool(getattr(hw, flag)) for hw in hws])
    data["prefill_physical"] = ("hardware", [PrefillMode(hw.prefill_mode) == PrefillMode.physical for hw in hws])
    data["tensor_parallel"] = ("hardware", [Parallelism(hw.parallelism) == Parallelism.tensor for hw in hws])
    allowed_sizes = [hw.allowed_sizes for hw in hws]
    max_options = max((len(allowed or []) for allowed in allowed_sizes), default=0)
    sizes = np.full((len(hw_names), max(max_options, 1)), np.inf)
    for i, allowed in enumerate(allowed_sizes):
        if allowed is not None:
            sizes[i, : len(allowed)] = list(allowed)
    data["allowed_sizes"] = (("hardware", "size_option"), sizes)
    data["sizes_restricted"] = ("hardware", [allowed is not None for allowed in allowed_sizes])
    for f in MODEL_FIELDS:
        data[f] = ("model", [_value(getattr(m, f), f) for m in mdls])
    data["fp4_checkpoint"] = ("model", [bool(m.fp4_checkpoint) for m in mdls])
    tok_s = np.full((len(model_names), len(hw_names)), np.nan)
    measured = np.zeros_like(tok_s, dtype=bool)
    for i, m in enumerate(mdls):
        for h, point in m.interactivity.items():
            j = hw_names.index(h)
            tok_s[i, j], measured[i, j] = point.tok_s, point.measured
    data["base_interactivity"] = (("model", "hardware"), tok_s)
    data["interactivity_measured"] = (("model", "hardware"), measured)
    w = cfg.workload
    for t in TOKEN_TYPES:
        data[f"mix_{t}"] = float(getattr(w.mix, t))
        data[f"price_{t}"] = np.nan if w.price_sheet is None else float(getattr(w.price_sheet, t))
    data["osl"] = _value(w.osl, "osl")
    data["min_interactivity"] = float(cfg.sla.min_interactivity)
    data["max_ttft_s"] = _value(cfg.sla.max_ttft_s, "max_ttft_s")
    data["sla_quantile"] = SLA_QUANTILE[SlaPercentile(cfg.sla.percentile)]
    data["kv_tier_host"] = KvTier(w.kv_tier) == KvTier.host
    data["decode_context_mean"] = DecodeContext(w.decode_context) == DecodeContext.mean
    data["attention"] = ("model", [Attention(m.attention).value for m in mdls])
    return xr.Dataset(data, coords={"hardware": hw_names, "model": model_names})


def _kv_coefficients(ds: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """KV bytes per context token, per window token, and window length (docs/model.md §2)."""
    byte_per_value = ds.kv_bits / 8
    if ds.kv_cache_bits.notnull().any():  # docs/model.md §10: the stack's KV bits, where a hardware sets them
        byte_per_value = xr.where(ds.kv_cache_bits.notnull(), ds.kv_cache_bits, ds.kv_bits) / 8
    gqa_full = 2 * (ds.layers - ds.sliding_window_layers) * ds.kv_heads * ds.head_dim * byte_per_value
    gqa_window = 2 * ds.sliding_window_layers * ds.kv_heads * ds.head_dim * byte_per_value
    mla = ds.layers * (ds.kv_lora_rank + ds.qk_rope_head_dim) * byte_per_value
    kind = ds.attention
    per_token = xr.where(kind == "gqa", gqa_full, xr.where(kind == "mla", mla, ds.kv_bytes_per_token))
    window_bytes = xr.where(kind == "gqa", gqa_window, 0.0)
    window = xr.where((kind == "gqa") & (ds.sliding_window_layers > 0), ds.sliding_window, 0.0)
    return per_token, window_bytes, window


def round_up_to_allowed(systems: xr.DataArray, ds: xr.Dataset) -> xr.DataArray:
    """Next allowed replica size >= ``systems``; unchanged if unrestricted or if none fits."""
    sizes = ds.allowed_sizes
    rounded = sizes.where(np.isfinite(sizes) & (sizes >= systems)).min("size_option")
    out: xr.DataArray = xr.where(ds.sizes_restricted & rounded.notnull(), rounded, systems)
    return out


def systems_for_weights(weight_bytes: Any, attention_bytes: Any, capacity: Any) -> Any:
    """S0, the systems a replica's weights alone need (before ``min_systems`` and rounding):
    ``ceil((W - A) / (capacity - A))``, every GPU holding the ``A`` attention bytes whole under
    dp-attention (docs/model.md §10; ``A = 0`` elsewhere: ``ceil(W / capacity)``).  Where
    ``capacity <= A`` no size holds them: ``ceil(W / capacity)``, as if A split (the kernel finds
    such a cell infeasible)."""
    lacking = (attention_bytes > 0) & ~(capacity > attention_bytes)
    split = np.ceil((weight_bytes - attention_bytes) / (capacity - attention_bytes))
    return xr.where(lacking, np.ceil(weight_bytes / capacity), split)


def streamed_weight_bytes(ds: xr.Dataset, weight_bytes: xr.DataArray,
                          concurrency: xr.DataArray) -> xr.DataArray:
    """Weight bytes read from HBM per decode step of N concurrent requests (GPU path).

    ``dense + (1 - (1 - k/E)**N) * routed`` parameters at the model's bytes per parameter, with
    ``dense = active - (k/E) * routed``: each of the N tokens picks k of E routed experts, so a
    step touches an expected fraction ``1 - (1 - k/E)**N`` of them.  N = 1 reads exactly the
    active weights; large N approaches dense + routed, the total.  Dense models read the active
    (= total) weights.
    """
    bytes_per_param = weight_bytes / (ds.total_params_b * 1e9)
    share = ds.experts_per_token / ds.routed_experts
    touched = 1 - (1 - share) ** concurrency
    dense = ds.active_params_b - share * ds.routed_expert_params_b
    moe = (dense + touched * ds.routed_expert_params_b) * 1e9 * bytes_per_param
    out: xr.DataArray = xr.where(ds.routed_experts.notnull(), moe, ds.active_params_b * 1e9 * bytes_per_param)
    return out


def derive(ds: xr.Dataset, isl: xr.DataArray, concurrency: xr.DataArray,
           cached_share: xr.DataArray | None = None) -> xr.Dataset:
    """Terms of docs/model.md §2 that do not depend on the (hardware × concurrency) cell.

    Adds ``weight_bytes`` (bytes), ``kv_bytes_per_token`` (bytes per context token),
    ``kv_bytes_per_request`` (bytes, context = ISL), ``osl`` (tokens), ``memory_capacity``
    (usable bytes per system for weights and KV, after ``memory_reserve_gb``),
    ``effective_bandwidth`` (bytes/s per system),
    ``systems_for_weights`` (S0), ``decode_base_time`` (t_base, s), ``streamed_bytes``
    (weight bytes read per decode step, by concurrency), ``compute_seconds`` (decode FLOPs of
    one token over one system's achieved FLOP/s, s), the fitted power law and
    ``price_per_mtok`` ($/Mtok).  ``cached_share``: L_c / L per cell (docs/model.md §12, ``workload.cache=trace``)
    in place of the mix's.
    """
    # The terms are computed on xarray Variables (dims by name, no indexes): every input shares the
    # catalog's labels once aligned here, and a DataArray operation would align them again, term
    # by term (most of this function's time).  The Dataset at the end puts the labels back.
    shares = [] if cached_share is None else [cached_share]
    aligned = cast(list[Any], xr.align(ds, isl, concurrency, *shares, join="inner", copy=False))
    coords = {str(name): c.variable for a in aligned for name, c in a.coords.items()}
    out = {str(name): aligned[0].variables[name] for name in aligned[0].data_vars}
    out.update(derive_terms(VariableView(aligned[0]), aligned[1].variable, aligned[2].variable,
                            aligned[3].variable if shares else None))
    return xr.Dataset(out, coords=coords)


def derive_terms(ds: Any, isl: Any, concurrency: Any, cached_share: Any = None) -> dict[str, Any]:
    """:func:`derive`'s terms as :class:`xarray.Variable` s, from the parameters ``ds`` (a
    :class:`VariableView`, or a Dataset), ISL, concurrency and cached share (Variables or
    DataArrays: the same arithmetic, with or without label alignment)."""
    out: dict[str, Any] = {}
    out["weight_bytes"] = xr.where(ds.weight_gb.notnull(), ds.weight_gb * 1e9,
                                   ds.total_params_b * 1e9 * ds.weight_bits / 8)
    per_token, window_bytes, window = _kv_coefficients(ds)
    out["kv_bytes_per_context_token"] = per_token
    # Named apart from the dims so that the grid coordinates keep their integer labels.
    out["input_length"], out["concurrent_requests"] = isl, concurrency
    m_out = ds.mix_output
    out["output_tokens"] = xr.where(ds.osl.notnull(), ds.osl, isl * m_out / (1 - m_out))
    # KV of one request: its context is L (docs/model.md §2), or the mean over the decode, L + O / 2
    context = xr.where(ds.decode_context_mean, isl + out["output_tokens"] / 2, isl)
    out["kv_bytes_per_request"] = context * per_token + window_bytes * np.minimum(window, context)
    # docs/model.md §10: the stack's own reserve is neither weights nor KV (model.serving.kv_capacity)
    out["memory_capacity"] = ds.memory_gb * 1e9 * ds.usable_memory_fraction - ds.memory_reserve_gb * 1e9
    out["effective_bandwidth"] = ds.memory_bandwidth_tb_s * 1e12 * ds.bandwidth_efficiency

    measured = ds.base_interactivity.where(ds.interactivity_measured)
    fit_a, fit_b = fit_power_law(ds.active_params_b, measured, dim="model")
    a = xr.where(ds.power_law_a.notnull(), ds.power_law_a, fit_a)
    b = xr.where(ds.power_law_b.notnull(), ds.power_law_b, fit_b)
    out["power_law_a"], out["power_law_b"] = a, b
    fitted = power_law_interactivity(ds.active_params_b, a, b).where(ds.weights_resident)
    base = xr.where(ds.base_interactivity.notnull(), ds.base_interactivity, fitted)
    out["base_interactivity"] = base * ds.interactivity_multiplier
    has_rate = base.notnull()
    out["decode_base_time"] = xr.where(has_rate, 1 / out["base_interactivity"],
                                       ds.step_overhead_s + ds.layers * ds.layer_overhead_s)
    # docs/model.md §10 MTP: a step verifies 1 + draft tokens per request (the same arrays where there is no MTP)
    drafting = bool((ds.mtp_draft_tokens > 0).any())
    verified = concurrency * (1 + ds.mtp_draft_tokens) if drafting else concurrency
    out["streamed_bytes"] = xr.where(has_rate, 0.0, streamed_weight_bytes(ds, out["weight_bytes"], verified))
    # the same read for another batch size (a pinned replica's admitted requests, docs/model.md §8):
    # dense + (1 - untouched**N) * routed bytes, with untouched = 1 - k/E (1: no routed experts)
    bytes_per_param = out["weight_bytes"] / (ds.total_params_b * 1e9)
    moe = ds.routed_experts.notnull() & ~has_rate
    out["routed_bytes"] = xr.where(moe, ds.routed_expert_params_b * 1e9 * bytes_per_param, 0.0)
    out["expert_untouched"] = xr.where(moe, 1 - ds.experts_per_token / ds.routed_experts, 1.0)
    out["dense_bytes"] = xr.where(has_rate, 0.0, xr.where(
        moe, (ds.active_params_b - ds.experts_per_token / ds.routed_experts * ds.routed_expert_params_b) * 1e9,
        ds.active_params_b * 1e9) * bytes_per_param)
    flops_per_token = 2 * ds.active_params_b * 1e9
    peak = math_peak_tflops(ds)
    compute = flops_per_token / (peak * 1e12 * ds.compute_efficiency)
    if drafting:
        compute = compute * (1 + ds.mtp_draft_tokens)
    out["compute_seconds"] = xr.where(has_rate | ds.peak_dense_tflops.isnull(), 0.0, compute)
    out["decode_attention_seconds"] = decode_attention_seconds(ds, context, window, has_rate)
    out.update(serving_terms(ds, out["weight_bytes"], has_rate))
    out["systems_for_weights"] = round_up_to_allowed(
        np.maximum(ds.min_systems, systems_for_weights(out["weight_bytes"], out["attention_bytes"],
                                                       out["memory_capacity"])), ds)
    price = sum(ds[f"mix_{t}"] * ds[f"price_{t}"] for t in TOKEN_TYPES)
    out["price_per_mtok"] = price
    # Per-(model, hardware) and per-ISL constants of the cell equations (model.equations).
    largest = ds.allowed_sizes.where(np.isfinite(ds.allowed_sizes)).max("size_option")
    out["max_buildable"] = xr.where(ds.sizes_restricted, np.minimum(ds.max_systems, largest),
                                    ds.max_systems)
    # a cell is served only if ISL is within context and every input it needs is known (a NaN
    # parameter makes the cell infeasible rather than giving a number)
    # (terms without the concurrency dim: a NaN ISL or concurrency fails the comparisons by itself,
    # and an outer product with a design's sample dim would cost far more than the kernel)
    needed = [out["weight_bytes"], out["kv_bytes_per_request"], out["memory_capacity"], out["effective_bandwidth"],
              out["decode_base_time"], out["dense_bytes"], out["routed_bytes"], out["output_tokens"],
              out["decode_attention_seconds"],
              ds.price_per_hour, ds.cache_read_ratio, ds.min_interactivity, ds.hop_latency_s, ds.min_systems]
    known = True
    for term in needed:
        known = known & term.notnull()
    # EP wider than 1 needs the model's hidden width and MoE layers and the GPU's scale-out link
    ep_known = ds.hidden_size.notnull() & ds.moe_layers.notnull() & ds.interconnect_gb_s.notnull()
    known = known & ((out["ep_width"] <= 1) | ep_known)
    out["context_ok"] = (isl <= ds.max_context) & known
    out["step_constant"] = out["decode_base_time"] - ds.hop_latency_s * out["systems_for_weights"]
    out["time_per_step"] = isl / ds.cache_read_ratio + out["output_tokens"]
    out["tokens_per_request"] = isl + out["output_tokens"]
    out["output_share"] = out["tokens_per_request"] / out["output_tokens"]
    out.update(prefill_terms(ds, isl, per_token, window_bytes, window, cached_share))
    return out


class VariableView:
    """A Dataset's variables by attribute or key as :class:`xarray.Variable` s (labels dropped):
    the duck type :func:`derive` and its helpers compute on (they accept a Dataset as well)."""

    def __init__(self, ds: xr.Dataset) -> None:
        self._variables = ds.variables

    def __getattr__(self, name: str) -> xr.Variable:
        try:
            return self._variables[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> xr.Variable:
        return self._variables[name]


def fp4_math(ds: xr.Dataset) -> xr.DataArray:
    """Where the math runs at FP4 (docs/model.md §10): the hardware runs FP4 math (``fp4_compute``),
    the model's checkpoint is FP4 and the GPU has FP4 units."""
    fp4: xr.DataArray = ds.fp4_compute & ds.fp4_checkpoint & ds.peak_fp4_tflops.notnull()
    return fp4


def math_peak_tflops(ds: xr.Dataset) -> xr.DataArray:
    """Dense TFLOP/s of the precision the math runs at (docs/model.md §10): ``peak_fp4_tflops`` where
    it runs at FP4 (:func:`fp4_math`), ``peak_dense_tflops`` (FP8) elsewhere."""
    fp4 = fp4_math(ds)
    dense: xr.DataArray = ds.peak_dense_tflops
    if not bool(fp4.any()):
        return dense
    peak: xr.DataArray = xr.where(fp4, ds.peak_fp4_tflops, dense)
    return peak


def prefill_efficiency_at_math(ds: xr.Dataset) -> xr.DataArray:
    """The prefill efficiency at the precision the math runs at (docs/model.md §10):
    ``prefill_efficiency`` times ``fp4_prefill_speed`` where the math runs at FP4
    (:func:`fp4_math`), ``prefill_efficiency`` elsewhere."""
    fp4 = fp4_math(ds)
    efficiency: xr.DataArray = ds.prefill_efficiency
    if not bool(fp4.any()):
        return efficiency
    scaled: xr.DataArray = efficiency * xr.where(fp4, ds.fp4_prefill_speed, 1.0)
    return scaled


def decode_attention_seconds(ds: Any, context: Any, window: Any, has_rate: Any) -> Any:
    """docs/model.md §10: the seconds one verified decode token's attention over its context costs one
    GPU, ``F_dec ctx / (peak eta_a)``.  The kernel adds ``n m`` of them over the replica's ``S`` GPUs to
    the step, serial to the reads, inside the MTP factor, as :func:`model.serving.decode_step` does
    (``m`` tokens verified per request per step).

    ``F_dec`` are the FLOPs per context token.  An MLA model decodes in the absorbed form,
    ``2 heads (2 kv_lora_rank + rope) layers`` (:func:`model.serving.decode_attention_flops`).  The
    others (GQA, MHA, an explicit KV layout) score and weight every cached token at the prefill's
    pair FLOPs, ``2 heads (qk_head_dim + v_head_dim)`` per layer (:func:`prefill_terms`), a GQA
    model's sliding-window layers over ``min(window, ctx)`` tokens.  ``ctx`` is the decode context
    the KV per request is sized at (``workload.decode_context``: L, or L + O / 2), ``peak`` the math
    peak of the step's compute bound (:func:`math_peak_tflops`), ``eta_a`` the hardware's
    ``decode_attention_efficiency``.  0 where that is null (no term) or the decode rate is measured
    (its step already holds the attention); NaN, an unknown input that makes the cell infeasible,
    where the model's attention shape is unknown.
    """
    efficiency = ds.decode_attention_efficiency
    if not bool(efficiency.notnull().any()):
        return xr.zeros_like(efficiency)
    mla = ds.attention == "mla"
    sliding = xr.where(ds.attention == "gqa", ds.sliding_window_layers, 0.0)
    pair_flops = 2 * ds.attention_heads * (ds.qk_head_dim + ds.v_head_dim)
    flops = xr.where(mla, serving.decode_attention_flops(ds.attention_heads, ds.kv_lora_rank, ds.qk_rope_head_dim,
                                                         ds.layers) * context,
                     pair_flops * ((ds.layers - sliding) * context + sliding * np.minimum(window, context)))
    seconds = flops / (math_peak_tflops(ds) * 1e12 * efficiency)
    return xr.where(efficiency.isnull() | has_rate, 0.0, seconds)


def serving_terms(ds: xr.Dataset, weight_bytes: xr.DataArray, has_rate: xr.DataArray) -> dict[str, xr.DataArray]:
    """The per-(model, hardware) constants of the docs/model.md §10 step terms the kernel adds
    (:mod:`model.serving`): EP all-to-all, dp-attention's whole attention weights, MTP.

    ``mtp_step_factor = (1 + draft / layers) / accepted`` turns a step into the time per output
    token of a request (the draft model costs one layer's share per drafted token; a step emits
    ``accepted`` tokens: ``accepted_tokens_per_step``, or :func:`model.serving.accepted_tokens` of
    ``mtp_acceptance`` where that is set).  ``mtp_draft_per_batch`` marks the hardware whose cells
    choose their draft count per batch (:func:`model.equations.decode_step`).  ``attention_bytes``
    are the attention weights at the model's bytes per parameter where dp-attention holds them whole
    on every GPU (0 elsewhere, or where ``attention_params_b`` is null).  Links are in bytes/s.
    """
    bytes_per_param = weight_bytes / (ds.total_params_b * 1e9)
    dp = ds.attention_data_parallel & ds.attention_params_b.notnull() & ~has_rate
    accepted = xr.where(ds.mtp_acceptance.notnull(), serving.accepted_tokens(ds.mtp_acceptance, ds.mtp_draft_tokens),
                        ds.accepted_tokens_per_step)
    return {
        "mtp_step_factor": (1 + ds.mtp_draft_tokens / ds.layers) / accepted,
        "mtp_draft_per_batch": ds.mtp_draft_per_batch & (ds.mtp_draft_tokens > 1) & ds.mtp_acceptance.notnull(),
        "mtp_tokens": 1 + ds.mtp_draft_tokens,
        "attention_bytes": xr.where(dp, ds.attention_params_b * 1e9 * bytes_per_param, 0.0),
        "ep_width": xr.where(has_rate | ds.routed_experts.isnull(), 1.0, ds.ep),
        "scaleup_bytes_s": ds.scaleup_gb_s * 1e9, "scaleout_bytes_s": ds.interconnect_gb_s * 1e9,
    }


def kv_shards(ds: xr.Dataset) -> xr.DataArray:
    """Over how many systems a replica's KV splits at most (docs/model.md §8), per (model, hardware).

    Pipeline parallelism and data-parallel attention split it over all S systems (inf here: no
    cap).  Tensor parallelism splits heads: a GQA model's KV over at most ``kv_heads`` GPUs;
    MLA's latent KV is one head, held whole by every GPU; an explicit KV layout is taken to
    split like pipeline (its heads are unknown).
    """
    by_heads = xr.where(ds.attention == "gqa", ds.kv_heads, xr.where(ds.attention == "mla", 1.0, np.inf))
    out: xr.DataArray = xr.where(ds.tensor_parallel & ~ds.attention_data_parallel, by_heads, np.inf)
    return out


def prefill_terms(ds: xr.Dataset, isl: xr.DataArray, per_token: xr.DataArray, window_bytes: xr.DataArray,
                  window: xr.DataArray, cached_share: xr.DataArray | None = None) -> dict[str, xr.DataArray]:
    """The prefill phase's terms that do not depend on the cell's replica size (docs/model.md §8).

    Of the ``L`` input-side tokens, ``L_c = L * m_cache_read / (1 - m_output)`` are a cached
    prefix (their KV exists) and ``L_n = L - L_c`` are new.  Prefilling them costs
    ``F = L_n * (2 * active_params_b * 1e9 + A * (L_c + L_n / 2) + A_w * min(window, L_c + L_n / 2))``
    FLOPs, with ``A = 2 * attention_heads * (qk_head_dim + v_head_dim) * full_layers`` (each new
    token meets, on average, ``L_c + L_n / 2`` earlier ones) and ``A_w`` the same over the
    sliding-window layers, which see at most ``window`` tokens.  One system does that in
    ``F / (peak_dense_tflops * 1e12 * prefill_efficiency)`` seconds; the cached prefix's KV loads
    back from host memory (``workload.kv_tier=host``) in ``kv(L_c) / (kv_load_bandwidth_gb_s * 1e9)``
    seconds on one system, or is recomputed where that is faster (``prefix_compute_seconds``: the
    whole prompt's FLOPs less the new tokens'; a stack loads a prefix only to save time).  The
    kernel divides both by the systems that share the work.
    With ``cached_share`` (docs/model.md §12: h at each cell's cache capacity), ``L_c = L * cached_share``.
    """
    cached = isl * ds.mix_cache_read / (1 - ds.mix_output) if cached_share is None else isl * cached_share
    new = isl - cached
    sliding = xr.where(ds.attention == "gqa", ds.sliding_window_layers, 0.0)
    pair_flops = 2 * ds.attention_heads * (ds.qk_head_dim + ds.v_head_dim)
    seen = cached + new / 2
    attention = new * (pair_flops * (ds.layers - sliding) * seen + pair_flops * sliding * np.minimum(window, seen))
    flops = new * (2 * ds.active_params_b * 1e9 + pair_flops * (ds.layers - sliding) * seen
                   + pair_flops * sliding * np.minimum(window, seen))
    # recomputing the cached prefix instead: the whole prompt's FLOPs less the new tokens'
    seen_all = isl / 2
    whole = isl * (2 * ds.active_params_b * 1e9 + pair_flops * (ds.layers - sliding) * seen_all
                   + pair_flops * sliding * np.minimum(window, seen_all))
    prefix_kv = cached * per_token + window_bytes * np.minimum(window, cached)
    load = xr.where(ds.kv_tier_host & ds.kv_load_bandwidth_gb_s.notnull(),
                    prefix_kv / (ds.kv_load_bandwidth_gb_s * 1e9), 0.0)
    flops_per_s = math_peak_tflops(ds) * 1e12 * prefill_efficiency_at_math(ds)  # one system's prefill FLOP/s
    return {
        "cached_tokens": cached, "new_tokens": new, "prefill_flops": flops, "prefix_kv_bytes": prefix_kv,
        "prefill_compute_seconds": flops / flops_per_s,
        "prefix_load_seconds": load,
        # docs/model.md §10 dp-attention prefill (model.serving.prefill_own): the new tokens' attention FLOPs
        # as A L_n^2 / 2, and the FLOP/s one GPU prefills at
        "prefill_attention_coefficient": xr.where(new > 0, 2 * attention / new ** 2, 0.0),
        "prefill_flops_per_s": flops_per_s,
        "prefix_compute_seconds": xr.where(cached > 0, (whole - flops) / flops_per_s, 0.0),
        "kv_shards": kv_shards(ds),
        "pinned_systems": xr.where(ds.min_systems == ds.max_systems, ds.min_systems, np.nan),
        "ratio_prefill_steps": isl / ds.cache_read_ratio,
    }


def parameters(cfg: ModelConfig, params: Mapping[str, Any] | None = None,
               isl: Any = None, concurrency: Any = None, cached_share: xr.DataArray | None = None) -> xr.Dataset:
    """All inputs of the cost model for the selected models and hardware.

    Parameters
    ----------
    cfg
        A validated config (:func:`model.load_config`).
    params
        Optional replacements by dotted config key, numbers or DataArrays along extra dims.
    isl, concurrency
        Optional DataArrays replacing the grid's ISL (tokens) or concurrency values, e.g. along
        a ``sample`` dim.  Default: the config's grid, on dims ``isl`` and ``concurrency``.
    cached_share
        L_c / L per cell in place of the workload mix's (docs/model.md §12; see
        :func:`model.prefix_cache.cell_cached_share`).
    """
    ds = raw_parameters(cfg)
    if params:
        ds = apply_overrides(ds, params)
    if isl is None:
        values = grid_isl(cfg)
        isl = xr.DataArray(values, dims="isl", coords={"isl": values})
    if concurrency is None:
        values = grid_concurrency(cfg)
        concurrency = xr.DataArray(values, dims="concurrency", coords={"concurrency": values})
    isl, concurrency = as_array(isl, "isl"), as_array(concurrency, "concurrency")
    isl, concurrency = xr.DataArray(isl), xr.DataArray(concurrency)
    for key, values in (("isl", isl), ("concurrency", concurrency)):
        check_parameter(key, key, values)
        check_catalog_dims(key, values, cfg)
    if cached_share is not None:  # on the whole catalog, as every other term here
        cached_share = cached_share.reindex(model=ds.model.values, hardware=ds.hardware.values)
    # Compute in float; coordinates keep the caller's (integer) labels.
    out = derive(ds, isl.copy(data=isl.values.astype(float)),
                 concurrency.copy(data=concurrency.values.astype(float)), cached_share)
    return out.sel(model=list(cfg.select.models), hardware=list(cfg.select.hardware))
