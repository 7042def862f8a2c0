"""The result Dataset of the cost model: variable names, units, long names and its assembly.

Shared by the in-memory evaluation (:mod:`model.evaluate`) and the lazy one (:mod:`model.lazy`),
so that both return the same variables, dims, coordinates and attributes.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from model.equations import ALLOWED_SIZE, INPUTS
from model.errors import ConfigError
from model.schema import ModelConfig

# name: (units, long_name)
VARIABLES: dict[str, tuple[str, str]] = {
    "weight_bytes": ("bytes", "weight bytes W of one model replica"),
    "kv_bytes_per_request": ("bytes", "KV cache of one request at context = ISL"),
    "kv_cache_bytes": ("bytes", "KV cache K of all N requests of a replica"),
    "memory_bytes": ("bytes", "memory of one replica, W + K"),
    "osl": ("tokens", "output tokens per request O"),
    "new_tokens": ("tokens", "new input-side tokens per request to prefill, L_n = L - L_c"),
    "cached_tokens": ("tokens", "cached prefix tokens per request, L_c = L * m_cache_read / (1 - m_output)"),
    "prefill_flops": ("FLOP", "FLOPs to prefill the new tokens after the cached prefix (docs/model.md §8)"),
    "prefix_kv_bytes": ("bytes", "KV of one request's cached prefix, kv(L_c)"),
    "systems_for_weights": ("systems", "systems per replica for the weights alone, S0"),
    "base_interactivity": ("tok/s", "base decode rate I0 (measured or power-law), per request"),
    "power_law_a": ("tok/s", "power-law coefficient a of I0 = a / active_params_b**b"),
    "power_law_b": ("1", "power-law exponent b of I0 = a / active_params_b**b"),
    "price_per_mtok": ("$/Mtok", "selling price per Mtok of the workload mix"),
    "systems": ("systems", "systems per replica S (memory need where no allowed size fits)"),
    "layers_per_system": ("layers", "layers per system, layers / S"),
    "capex": ("$", "capital cost of one replica, S * capex_per_system"),
    "step_time": ("s", "decode step time per request"),
    "interactivity": ("tok/s", "output tokens per second per request, after contention"),
    "cache_read_throughput": ("tok/s", "non-output token rate per request: cache_read_ratio * I (ratio mode), "
                              "L / prefill_time (physical)"),
    "prefill_time": ("s", "prefill time of one request t_pf: L / R (ratio mode) or compute and prefix load (physical)"),
    "ttft": ("s", "time to first token: t_pf, plus waiting for other prefills (physical) and for admission"),
    "implied_cache_read_ratio": ("1", "(L / prefill_time) / interactivity: the seed's ratio this cell implies"),
    "prefill_capacity": ("1/s", "requests/s a replica prefills when it does nothing else: 1 / busy prefill time "
                         "(physical), N / t_pf (ratio)"),
    "pool_prefill_time": ("s", "prefill time t_pf of this replica in a disaggregated prefill pool: compute at "
                          "prefill_stack_speed, latency pool_latency_share * prefill_overhead_s (docs/model.md §10)"),
    "pool_prefill_capacity": ("1/s", "requests/s this replica prefills in a disaggregated prefill pool: "
                              "1 / its busy time there (physical), prefill_capacity (ratio)"),
    "admitted_requests": ("requests", "requests a replica serves at once (< N where a pinned replica is full)"),
    "request_time": ("s", "wall time of one request: L/R + O/I (ratio mode), O * step + N * t_pf (physical)"),
    "requests_per_second": ("1/s", "completed requests per second per replica, N / T"),
    "throughput": ("tok/s", "all-token throughput per replica, N (L + O) / T"),
    "output_throughput": ("tok/s", "output-token throughput per replica, N O / T"),
    "cost_per_hour": ("$/h", "hardware cost of one replica per hour, S * price_per_hour"),
    "cost_per_mtok": ("$/Mtok", "hardware cost per million tokens of all types"),
    "cost_per_output_mtok": ("$/Mtok", "hardware cost per million output tokens"),
    "margin_per_mtok": ("$/Mtok", "price_per_mtok - cost_per_mtok"),
    "feasible": ("1", "replica buildable (allowed size, max_systems) and ISL <= max_context"),
    "meets_sla": ("1", "feasible, interactivity >= sla.min_interactivity and ttft <= sla.max_ttft_s"),
}
CELL_OUTPUTS: dict[str, type] = {
    "systems": np.int64, "layers_per_system": np.float64, "capex": np.float64,
    "step_time": np.float64, "interactivity": np.float64, "cache_read_throughput": np.float64,
    "prefill_time": np.float64, "ttft": np.float64, "implied_cache_read_ratio": np.float64,
    "prefill_capacity": np.float64, "pool_prefill_time": np.float64, "pool_prefill_capacity": np.float64,
    "admitted_requests": np.int64,
    "request_time": np.float64, "requests_per_second": np.float64, "throughput": np.float64,
    "output_throughput": np.float64, "cost_per_hour": np.float64, "cost_per_mtok": np.float64,
    "cost_per_output_mtok": np.float64, "margin_per_mtok": np.float64, "feasible": np.bool_,
    "meets_sla": np.bool_,
}

# computed only when asked for by name (the optimizer's disaggregated prefill columns), not by default
ON_REQUEST = frozenset({"pool_prefill_time", "pool_prefill_capacity"})


def kernel_inputs(p: xr.Dataset) -> dict[str, xr.DataArray]:
    """The arrays :func:`model.equations.cell_kernel` reads, allowed sizes split by option."""
    inputs = {k: p[k] for k in INPUTS}
    for k in range(p.sizes["size_option"]):
        inputs[f"{ALLOWED_SIZE}{k}"] = p.allowed_sizes.isel(size_option=k, drop=True)
    return {k: v.drop_vars([c for c in v.coords if c not in v.dims]) for k, v in inputs.items()}


def label(ds: xr.Dataset) -> xr.Dataset:
    """Attach ``units`` and ``long_name`` from :data:`VARIABLES` (and to the coordinates)."""
    for name in ds.data_vars:
        units, long_name = VARIABLES[str(name)]
        ds[name].attrs.update(units=units, long_name=long_name)
    return label_coords(ds)


# units and long name of each grid coordinate, wherever a result has one
COORD_ATTRS = {"isl": ("tokens", "input sequence length L per request"),
               "concurrency": ("requests", "concurrent requests N per replica"),
               "model": ("", "model name"), "hardware": ("", "hardware name")}


def label_coords(ds: xr.Dataset) -> xr.Dataset:
    """``units`` and ``long_name`` of the grid coordinates (:data:`COORD_ATTRS`)."""
    for name, (units, long_name) in COORD_ATTRS.items():
        if name in ds.coords:
            ds[name].attrs.update(units=units, long_name=long_name)
    return ds


def cell_outputs(p: xr.Dataset, variables: Any = None) -> dict[str, type]:
    """The per-cell outputs to compute: ``variables`` (default all but :data:`ON_REQUEST`), without
    the margin when there is no price sheet."""
    if isinstance(variables, str):
        variables = [variables]
    unknown = [v for v in (variables or []) if v not in CELL_OUTPUTS]
    if unknown:
        raise ConfigError("variables", unknown[0], f"not a per-cell output; allowed: {', '.join(CELL_OUTPUTS)}")
    wanted = ({k: v for k, v in CELL_OUTPUTS.items() if k not in ON_REQUEST} if variables is None
              else {v: CELL_OUTPUTS[v] for v in variables})
    if not bool(p.price_per_mtok.notnull().any()):
        wanted.pop("margin_per_mtok", None)
    return wanted


def assemble(config: ModelConfig, p: xr.Dataset, cells: Mapping[str, Any], dims: tuple[str, ...],
             term: Callable[[str], xr.DataArray]) -> xr.Dataset:
    """The result Dataset: per-cell arrays on ``dims``, the light terms of ``p`` (each fetched
    through ``term``, which may make it lazy), ``K = N * kv`` and ``memory = W + K``, labels."""
    coords = {d: p[d] for d in dims if d in p.coords}
    ds = xr.Dataset({k: (dims, v) for k, v in cells.items()}, coords=coords)
    weight_bytes = term("weight_bytes")
    with warnings.catch_warnings():  # dask: an outer product grows the chunk count, as intended
        warnings.simplefilter("ignore", category=Warning)
        kv = term("concurrent_requests") * term("kv_bytes_per_request")
        memory = kv + weight_bytes
    light = {"weight_bytes": weight_bytes, "kv_bytes_per_request": term("kv_bytes_per_request"),
             "kv_cache_bytes": kv, "memory_bytes": memory, "osl": term("output_tokens"),
             "new_tokens": term("new_tokens"), "cached_tokens": term("cached_tokens"),
             "prefill_flops": term("prefill_flops"), "prefix_kv_bytes": term("prefix_kv_bytes")}
    for name in ("systems_for_weights", "base_interactivity", "power_law_a", "power_law_b"):
        light[name] = term(name)
    if "margin_per_mtok" in cells or bool(p.price_per_mtok.notnull().any()):
        light["price_per_mtok"] = term("price_per_mtok")
    ds = ds.assign({name: var.drop_vars([c for c in var.coords if c not in var.dims and c not in ds.coords],
                                        errors="ignore") for name, var in light.items()})  # one merge
    ds = ds[[v for v in VARIABLES if v in ds.data_vars]]
    ds = label(ds.transpose(*dims, ...))
    ds.attrs.update(
        title="LLM serving cost model (docs/model.md §2)",
        workload=str(config.workload.name),
        sla_min_interactivity=float(config.sla.min_interactivity),
    )
    return ds
