"""The cost model's quantities, each declared once: what the kernel reads and what a result holds.

One :class:`Quantity` per name: its dims, unit, meaning, where it comes from, and its roles.

- An **input** is an array :func:`model.equations.cell_kernel` reads (:data:`INPUTS`).  Its
  ``source`` is either the config key whose value the kernel reads as it is
  (``hardware.<name>.hop_latency_s``: unit, meaning and range are then the field's, read from its
  declaration in :mod:`model.schema`, not restated here) or the function of :mod:`model.parameters`
  that derives it (``model.parameters.derive_terms``), with the equation in ``doc``.
- An **output** is a variable of :func:`model.evaluate`'s Dataset, in the order it has there
  (:data:`OUTPUTS`): a per-cell output of the kernel (``dtype`` set: :data:`CELL_OUTPUTS`) or a term of
  the parameters carried along (``term``: the parameter it is read from).  ``doc`` is its netCDF
  ``long_name``, ``unit`` its ``units``; ``display_unit`` is the unit the view shows it in
  (:func:`display_scale`); ``valid`` the range every known value lies in (a key of
  :data:`model.fields.CHECKS`; None where there is none, e.g. a margin or a flag).
- A **coordinate** labels a grid dim (:data:`COORDINATES`).

A name can be both an input and an output (``weight_bytes``): one declaration serves both.
``dims`` are the grid dims a quantity can vary along (a design's ``sample`` or a swept key may add
others); the grid's cells are :data:`GRID_DIMS`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from model.fields import CHECKS, FieldDoc, array_fields, field_docs
from model.schema import (
    HardwareSpec,
    InteractivityPoint,
    ModelSpec,
    PriceSheet,
    SlaSpec,
    TokenMix,
    WorkloadSpec,
)

GRID_DIMS = ("model", "hardware", "isl", "concurrency")
H, M, HM = ("hardware",), ("model",), ("model", "hardware")
ISL = ("isl",)
CELL = GRID_DIMS


@dataclass(frozen=True)
class Quantity:
    """One quantity of the cost model (see the module docstring for the roles)."""

    name: str
    dims: tuple[str, ...]
    unit: str
    doc: str
    source: str = ""                # inputs: config key read as is, or model.parameters.<function>
    input: bool = False             # read by model.equations.cell_kernel
    output: bool = False            # a variable of model.evaluate's Dataset
    dtype: type | None = None       # outputs the kernel computes per cell
    term: str = ""                  # outputs carried from the parameters: the parameter's name
    display_unit: str = ""          # the unit the view shows (default: unit)
    valid: str | None = None        # range of every known value, a key of model.fields.CHECKS
    on_request: bool = False        # outputs computed only when asked for by name (not in the default Dataset)

    @property
    def shown_unit(self) -> str:
        """The unit the view shows the quantity in."""
        return self.display_unit or self.unit


# (unit, display unit) -> factor from the one to the other
DISPLAY_SCALES = {("bytes", "GB"): 1e-9, ("s", "µs"): 1e6}


def display_scale(q: Quantity) -> float:
    """Factor from ``q``'s unit to its display unit (1 where they are the same)."""
    if q.shown_unit == q.unit:
        return 1.0
    return DISPLAY_SCALES[(q.unit, q.shown_unit)]


_SECTIONS = {"hardware": (HardwareSpec, "hardware.<name>.", H), "models": (ModelSpec, "models.<name>.", M),
             "sla": (SlaSpec, "sla.", ())}


def from_field(section: str, name: str, display_unit: str = "") -> Quantity:
    """A quantity whose value is a config field's, as it is: unit, meaning and range from the field's
    declaration (:func:`model.fields.spec`), dims from its section (a hardware field varies by hardware)."""
    cls, prefix, dims = _SECTIONS[section]
    d = field_docs(cls)[name]
    return Quantity(name, dims, d.unit, d.doc, source=prefix + name, valid=d.check, display_unit=display_unit)


def derived(name: str, dims: tuple[str, ...], unit: str, doc: str, function: str, **extra: Any) -> Quantity:
    """A quantity :mod:`model.parameters`' ``function`` computes from the config (``doc``: how)."""
    return Quantity(name, dims, unit, doc, source=f"model.parameters.{function}", **extra)


def _in(q: Quantity) -> Quantity:
    return replace(q, input=True)


def _cell(name: str, unit: str, doc: str, dtype: type = np.float64, valid: str | None = "> 0",
          on_request: bool = False) -> Quantity:
    return Quantity(name, CELL, unit, doc, output=True, dtype=dtype, valid=valid, on_request=on_request)


def _term(name: str, dims: tuple[str, ...], unit: str, doc: str, term: str = "", valid: str | None = ">= 0",
          display_unit: str = "") -> Quantity:
    return Quantity(name, dims, unit, doc, output=True, term=term or name, valid=valid, display_unit=display_unit)


_D, _S, _P, _R = "derive_terms", "serving_terms", "prefill_terms", "read_catalog"

# The kernel's inputs, in the order model.results.kernel_inputs hands them over.
_INPUTS: tuple[Quantity, ...] = tuple(_in(q) for q in (
    derived("concurrent_requests", ("concurrency",), "requests", "concurrent requests N per replica (the grid's)", _D),
    derived("kv_bytes_per_request", ("model", "hardware", "isl"), "bytes",
            "KV cache of one request at context = ISL", _D, output=True, term="kv_bytes_per_request",
            valid=">= 0", display_unit="GB"),
    derived("weight_bytes", M, "bytes", "weight bytes W of one model replica", _D, output=True, term="weight_bytes",
            valid="> 0", display_unit="GB"),
    derived("memory_capacity", H, "bytes", "usable memory per system: memory_gb * 1e9 * usable_memory_fraction", _D),
    derived("sizes_restricted", H, "bool", "the hardware builds only allowed_sizes", _R),
    derived("max_buildable", H, "systems", "largest buildable replica: max_systems, capped by the largest "
            "allowed size", _D),
    derived("context_ok", ("model", "hardware", "isl"), "bool", "ISL <= max_context and every input the cell "
            "needs is known", _D),
    derived("step_constant", HM, "s", "t_base - hop_latency_s * S0: the decode step less its hops", _D),
    from_field("hardware", "hop_latency_s", display_unit="µs"),
    derived("streamed_bytes", ("model", "hardware", "concurrency"), "bytes",
            "weight bytes read per decode step of N requests (MoE-aware; 0 with a measured rate)", _D),
    derived("compute_seconds", HM, "s", "decode FLOPs of one token over one system's achieved FLOP/s "
            "(0 with a measured rate)", _D),
    from_field("hardware", "min_systems"),
    derived("effective_bandwidth", H, "bytes/s", "achieved memory bandwidth per system: memory_bandwidth_tb_s * "
            "1e12 * bandwidth_efficiency", _D),
    from_field("hardware", "cache_read_ratio"),
    derived("time_per_step", ("hardware", "isl"), "steps", "decode steps per request in ratio mode: "
            "L / cache_read_ratio + O", _D),
    derived("tokens_per_request", ISL, "tokens", "all tokens of a request, L + O", _D),
    derived("output_tokens", ISL, "tokens", "output tokens per request O (workload.osl, or L * m_output / "
            "(1 - m_output))", _D),
    derived("output_share", ISL, "1", "(L + O) / O: all tokens per output token", _D),
    from_field("hardware", "price_per_hour"),
    from_field("hardware", "capex_per_system"),
    from_field("models", "layers"),
    from_field("sla", "min_interactivity"),
    derived("price_per_mtok", (), "$/Mtok", "selling price per Mtok of the workload mix", _D, output=True,
            term="price_per_mtok", valid=">= 0"),
    # docs/model.md §8
    derived("input_length", ISL, "tokens", "input-side tokens per request L (the grid's ISL)", _D),
    from_field("sla", "max_ttft_s"),
    derived("kv_shards", HM, "systems", "systems a replica's KV splits over at most (inf: all of them)", "kv_shards"),
    derived("pinned_systems", H, "systems", "min_systems where min_systems == max_systems (NaN: not pinned)", _P),
    derived("prefill_physical", H, "bool", "prefill timed physically (hardware.<name>.prefill_mode = physical)", _R),
    from_field("hardware", "prefill_overhead_s"),
    derived("prefill_compute_seconds", ("model", "hardware", "isl"), "s",
            "one system's time for the prefill FLOPs of the new tokens", _P),
    derived("prefix_load_seconds", ("model", "hardware", "isl"), "s",
            "one system's time to load the cached prefix's KV from host memory (0: device tier)", _P),
    derived("prefix_compute_seconds", ("model", "hardware", "isl"), "s",
            "one system's time to recompute the cached prefix instead", _P),
    derived("ratio_prefill_steps", ("hardware", "isl"), "steps", "L / cache_read_ratio: ratio-mode prefill "
            "in decode steps", _P),
    derived("routed_bytes", HM, "bytes", "bytes of all routed experts (0: dense, or a measured rate)", _D),
    derived("expert_untouched", HM, "1", "share of routed experts a token leaves untouched, 1 - k/E (1: dense)", _D),
    derived("dense_bytes", HM, "bytes", "weight bytes every token reads (0 with a measured rate)", _D),
    # docs/model.md §10
    derived("sla_quantile", (), "1", "the quantile of sla.percentile (0.5, 0.9, 0.99)", _R),
    from_field("hardware", "prefill_busy_s"),
    derived("mtp_step_factor", HM, "1", "(1 + mtp_draft_tokens / layers) / accepted tokens per step (from "
            "mtp_acceptance where set): step to time per output token", _S),
    derived("mtp_draft_per_batch", H, "bool", "the cell runs the draft count of 1 to mtp_draft_tokens that emits "
            "the most tokens/s at its batch", _S),
    from_field("hardware", "mtp_acceptance"),
    derived("mtp_tokens", H, "tokens", "tokens a decode step verifies per request, 1 + mtp_draft_tokens", _S),
    derived("attention_bytes", HM, "bytes", "attention weights held whole by each data-parallel-attention "
            "rank (0 elsewhere)", _S),
    derived("ep_width", HM, "systems", "expert-parallel width (1: dense, or a measured rate)", _S),
    from_field("models", "experts_per_token"), from_field("models", "hidden_size"),
    from_field("hardware", "ep_activation_bytes"), from_field("models", "moe_layers"),
    derived("scaleup_bytes_s", H, "bytes/s", "scale-up link bandwidth, scaleup_gb_s * 1e9", _S),
    from_field("hardware", "scaleup_domain"),
    derived("scaleout_bytes_s", H, "bytes/s", "scale-out link bandwidth, interconnect_gb_s * 1e9", _S),
    from_field("hardware", "ep_latency_s"),
    from_field("hardware", "prefill_stack_speed"), from_field("hardware", "pool_latency_share"),
    from_field("hardware", "prefill_chunk_tokens"),
    derived("new_tokens", ISL, "tokens", "new input-side tokens per request to prefill, L_n = L - L_c", _P,
            output=True, term="new_tokens", valid=">= 0"),
    from_field("hardware", "attention_data_parallel"),
    derived("prefill_attention_coefficient", ("model", "isl"), "FLOP/token^2",
            "A in the new tokens' attention FLOPs A L_n^2 / 2 (model.serving.prefill_own; 0 without new tokens)", _P),
    derived("prefill_flops_per_s", H, "FLOP/s", "one system's achieved prefill FLOP/s: math peak * 1e12 * "
            "prefill_efficiency", _P),
    derived("decode_attention_seconds", ("model", "hardware", "isl"), "s",
            "one GPU's time for one verified decode token's attention over its context, F_dec ctx / (math peak "
            "* 1e12 * decode_attention_efficiency) (0: the setting null, or a measured rate; NaN: the "
            "attention shape unknown)",
            "decode_attention_seconds"),
))

# The outputs in the order of model.evaluate's Dataset; those read by the kernel are above.
_BY_NAME = {q.name: q for q in _INPUTS}
_OUTPUTS: tuple[Quantity, ...] = (
    _BY_NAME["weight_bytes"],
    _BY_NAME["kv_bytes_per_request"],
    # formed from the terms by model.results.assemble
    _term("kv_cache_bytes", CELL, "bytes", "KV cache K of all N requests of a replica",
          display_unit="GB"),
    _term("memory_bytes", CELL, "bytes", "memory of one replica, W + K", valid="> 0",
          display_unit="GB"),
    _term("osl", ISL, "tokens", "output tokens per request O", term="output_tokens", valid="> 0"),
    _BY_NAME["new_tokens"],
    _term("cached_tokens", ISL, "tokens", "cached prefix tokens per request, L_c = L * m_cache_read / (1 - m_output)"),
    _term("prefill_flops", ("model", "isl"), "FLOP",
          "FLOPs to prefill the new tokens after the cached prefix (docs/model.md §8)"),
    _term("prefix_kv_bytes", ("model", "hardware", "isl"), "bytes", "KV of one request's cached prefix, kv(L_c)",
          display_unit="GB"),
    _term("systems_for_weights", HM, "systems", "systems per replica for the weights alone, S0", valid=">= 1"),
    _term("base_interactivity", HM, "tok/s", "base decode rate I0 (measured or power-law), per request",
          valid="> 0"),
    _term("power_law_a", H, "tok/s", "power-law coefficient a of I0 = a / active_params_b**b", valid="> 0"),
    _term("power_law_b", H, "1", "power-law exponent b of I0 = a / active_params_b**b", valid="finite"),
    _BY_NAME["price_per_mtok"],
    _cell("systems", "systems", "systems per replica S (memory need where no allowed size fits)", np.int64, ">= 1"),
    _cell("layers_per_system", "layers", "layers per system, layers / S"),
    _cell("capex", "$", "capital cost of one replica, S * capex_per_system"),
    _cell("step_time", "s", "decode step time per request"),
    _cell("interactivity", "tok/s", "output tokens per second per request, after contention"),
    _cell("cache_read_throughput", "tok/s", "non-output token rate per request: cache_read_ratio * I (ratio mode), "
          "L / prefill_time (physical)"),
    _cell("prefill_time", "s", "prefill time of one request t_pf: L / R (ratio mode) or compute and prefix load "
          "(physical)"),
    _cell("ttft", "s", "time to first token: t_pf, plus waiting for other prefills (physical) and for admission"),
    _cell("implied_cache_read_ratio", "1", "(L / prefill_time) / interactivity: the seed's ratio this cell implies"),
    _cell("prefill_capacity", "1/s", "requests/s a replica prefills when it does nothing else: 1 / busy prefill "
          "time (physical), N / t_pf (ratio)"),
    _cell("pool_prefill_time", "s", "prefill time t_pf of this replica in a disaggregated prefill pool: its "
          "own prefill (the replica's), latency pool_latency_share * prefill_overhead_s (docs/model.md §10)",
          on_request=True),
    _cell("pool_prefill_capacity", "1/s", "requests/s this replica prefills in a disaggregated prefill pool: "
          "1 / its busy time there (physical), prefill_capacity (ratio)", on_request=True),
    _cell("admitted_requests", "requests", "requests a replica serves at once (< N where a pinned replica is full)",
          np.int64, ">= 1"),
    _cell("request_time", "s", "wall time of one request: L/R + O/I (ratio mode), O * step + N * t_pf (physical)"),
    _cell("requests_per_second", "1/s", "completed requests per second per replica, N / T"),
    _cell("throughput", "tok/s", "all-token throughput per replica, N (L + O) / T"),
    _cell("output_throughput", "tok/s", "output-token throughput per replica, N O / T"),
    _cell("cost_per_hour", "$/h", "hardware cost of one replica per hour, S * price_per_hour"),
    _cell("cost_per_mtok", "$/Mtok", "hardware cost per million tokens of all types"),
    _cell("cost_per_output_mtok", "$/Mtok", "hardware cost per million output tokens"),
    _cell("margin_per_mtok", "$/Mtok", "price_per_mtok - cost_per_mtok", valid="finite"),
    _cell("feasible", "1", "replica buildable (allowed size, max_systems) and ISL <= max_context", np.bool_, None),
    _cell("meets_sla", "1", "feasible, interactivity >= sla.min_interactivity and ttft <= sla.max_ttft_s",
          np.bool_, None),
)

COORDINATES: tuple[Quantity, ...] = (
    Quantity("isl", ISL, "tokens", "input sequence length L per request", valid="> 0"),
    Quantity("concurrency", ("concurrency",), "requests", "concurrent requests N per replica", valid="> 0"),
    Quantity("model", M, "", "model name"),
    Quantity("hardware", H, "", "hardware name"),
)

# Every quantity once, by name
QUANTITIES: dict[str, Quantity] = {q.name: q for q in (*_INPUTS, *_OUTPUTS)}
INPUTS: dict[str, Quantity] = {q.name: q for q in _INPUTS}
OUTPUTS: dict[str, Quantity] = {q.name: q for q in _OUTPUTS}
CELL_OUTPUTS: dict[str, type] = {q.name: q.dtype for q in _OUTPUTS if q.dtype is not None}


def _by_type(cls: type, doc: str) -> FieldDoc:
    """The one unit and range every token type's field of ``cls`` declares, with ``doc``."""
    docs = set((d.unit, d.check) for d in field_docs(cls).values())
    if len(docs) != 1:
        raise ValueError(f"{cls.__name__}: token types with different units or ranges")
    unit, check = docs.pop()
    return FieldDoc(unit, doc, check)


# The config keys model.overrides.apply_overrides replaces by arrays, in the order its error lists them:
# pattern -> (parameter replaced, the field's declaration).  <name>: a catalog entry, <hardware>: a
# hardware name, <type>: a token type (model.schema.TOKEN_TYPES), <field>: an array field of the catalog.
OVERRIDE_KEYS: dict[str, tuple[str, FieldDoc]] = {
    "hardware.<name>.<field>": ("<field>", FieldDoc("", "a number of the hardware catalog: "
                                                      + ", ".join(array_fields(HardwareSpec)))),
    "models.<name>.<field>": ("<field>", FieldDoc("", "a number of the model catalog: "
                                                    + ", ".join(array_fields(ModelSpec)))),
    "models.<name>.interactivity.<hardware>.tok_s": ("base_interactivity", field_docs(InteractivityPoint)["tok_s"]),
    "workload.mix.<type>": ("mix_<type>", _by_type(TokenMix, "fraction of all tokens of the type")),
    "workload.price_sheet.<type>": ("price_<type>", _by_type(PriceSheet, "selling price of the type")),
    "workload.osl": ("osl", field_docs(WorkloadSpec)["osl"]),
    "sla.min_interactivity": ("min_interactivity", field_docs(SlaSpec)["min_interactivity"]),
    "sla.max_ttft_s": ("max_ttft_s", field_docs(SlaSpec)["max_ttft_s"]),
}


def check_table() -> None:
    """The table's own rules: ranges are known checks, cell outputs span the grid, carried terms name a
    parameter, dims are grid dims in the grid's order (raises ``ValueError``)."""
    for q in (*QUANTITIES.values(), *COORDINATES):
        if q.valid is not None and q.valid not in CHECKS:
            raise ValueError(f"{q.name}: unknown range {q.valid!r}")
        if [d for d in GRID_DIMS if d in q.dims] != list(q.dims):
            raise ValueError(f"{q.name}: dims {q.dims} are not grid dims in the order {GRID_DIMS}")
        if q.dtype is not None and q.dims != CELL:
            raise ValueError(f"{q.name}: a cell output spans {CELL}")
        if q.output and (q.dtype is None) == (not q.term):
            raise ValueError(f"{q.name}: an output is either computed per cell (dtype) or carried (term)")
        display_scale(q)


check_table()
