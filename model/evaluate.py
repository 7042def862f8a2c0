"""``evaluate``: the cost model of SPEC §2 over model × hardware × ISL × concurrency.

Terms that depend on few dims (weights, KV per request, S0, ...) are computed with xarray at
their own size; the per-cell terms run through :mod:`model.engine` in cache-sized blocks.
Every variable carries ``units`` and ``long_name``.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import xarray as xr
from omegaconf import DictConfig

from model import engine
from model.equations import ALLOWED_SIZE, INPUTS, cell_kernel
from model.parameters import parameters

# name: (units, long_name)
VARIABLES: dict[str, tuple[str, str]] = {
    "weight_bytes": ("bytes", "weight bytes W of one model replica"),
    "kv_bytes_per_request": ("bytes", "KV cache of one request at context = ISL"),
    "kv_cache_bytes": ("bytes", "KV cache K of all N requests of a replica"),
    "memory_bytes": ("bytes", "memory of one replica, W + K"),
    "osl": ("tokens", "output tokens per request O"),
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
    "cache_read_throughput": ("tok/s", "non-output token rate per request, cache_read_ratio * I"),
    "request_time": ("s", "wall time of one request, L/R + O/I"),
    "requests_per_second": ("1/s", "completed requests per second per replica, N / T"),
    "throughput": ("tok/s", "all-token throughput per replica, N (L + O) / T"),
    "output_throughput": ("tok/s", "output-token throughput per replica, N O / T"),
    "cost_per_hour": ("$/h", "hardware cost of one replica per hour, S * price_per_hour"),
    "cost_per_mtok": ("$/Mtok", "hardware cost per million tokens of all types"),
    "cost_per_output_mtok": ("$/Mtok", "hardware cost per million output tokens"),
    "margin_per_mtok": ("$/Mtok", "price_per_mtok - cost_per_mtok"),
    "feasible": ("1", "replica buildable (allowed size, max_systems) and ISL <= max_context"),
    "meets_sla": ("1", "feasible and interactivity >= sla.min_interactivity"),
}
CELL_OUTPUTS: dict[str, type] = {
    "systems": np.int64, "layers_per_system": np.float64, "capex": np.float64,
    "step_time": np.float64, "interactivity": np.float64, "cache_read_throughput": np.float64,
    "request_time": np.float64, "requests_per_second": np.float64, "throughput": np.float64,
    "output_throughput": np.float64, "cost_per_hour": np.float64, "cost_per_mtok": np.float64,
    "cost_per_output_mtok": np.float64, "margin_per_mtok": np.float64, "feasible": np.bool_,
    "meets_sla": np.bool_,
}


def kernel_inputs(p: xr.Dataset) -> dict[str, xr.DataArray]:
    """The arrays :func:`model.equations.cell_kernel` reads, allowed sizes split by option."""
    inputs = {k: p[k] for k in INPUTS}
    for k in range(p.sizes["size_option"]):
        inputs[f"{ALLOWED_SIZE}{k}"] = p.allowed_sizes.isel(size_option=k, drop=True)
    return {k: v.drop_vars([c for c in v.coords if c not in v.dims]) for k, v in inputs.items()}


def label(ds: xr.Dataset) -> xr.Dataset:
    """Attach ``units`` and ``long_name`` from :data:`VARIABLES` (and to the coordinates)."""
    for name in ds.data_vars:
        units, long_name = VARIABLES[name]
        ds[name].attrs.update(units=units, long_name=long_name)
    return label_coords(ds)


def label_coords(ds: xr.Dataset) -> xr.Dataset:
    """``units`` and ``long_name`` of the grid coordinates."""
    coord_attrs = {"isl": ("tokens", "input sequence length L per request"),
                   "concurrency": ("requests", "concurrent requests N per replica"),
                   "model": ("", "model name"), "hardware": ("", "hardware name")}
    for name, (units, long_name) in coord_attrs.items():
        if name in ds.coords:
            ds[name].attrs.update(units=units, long_name=long_name)
    return ds


def evaluate(config: DictConfig, params: Mapping[str, Any] | None = None, *,
             isl: Any = None, concurrency: Any = None, variables: Any = None,
             block_cells: int = engine.BLOCK_CELLS, workers: int | None = None) -> xr.Dataset:
    """Evaluate the cost model on the config's grid.

    Parameters
    ----------
    config
        Validated config from :func:`model.load_config`.
    params
        Replacements by dotted config key (``hardware.<name>.<field>``, ``models.<name>.<field>``,
        ...), numbers or DataArrays along extra dims, which every output then carries.
    isl, concurrency
        Replace the grid's ISL or concurrency values (e.g. a DataArray along ``sample``).
    variables
        Per-cell variables to compute (default: all of them).
    block_cells, workers
        Block size in cells and thread count of the blocked evaluation.

    Returns
    -------
    xarray.Dataset
        Dims ``model``, ``hardware``, ``isl``, ``concurrency`` (plus any from ``params``); the
        variables of SPEC §2 (see :data:`VARIABLES`), each with ``units`` and ``long_name``.
        Cells that cannot be served have ``feasible == False`` and NaN rates and costs.
    """
    p = parameters(config, params, isl=isl, concurrency=concurrency)
    has_prices = bool(p.price_per_mtok.notnull().any())
    wanted = dict(CELL_OUTPUTS) if variables is None else {v: CELL_OUTPUTS[v] for v in variables}
    if not has_prices:
        wanted.pop("margin_per_mtok", None)
    inputs = kernel_inputs(p)
    dims, sizes = engine.output_dims(inputs)
    cells = engine.run(cell_kernel, inputs, wanted, dims, sizes, block_cells, workers)

    coords = {d: p[d] for d in dims if d in p.coords}
    ds = xr.Dataset({k: (dims, v) for k, v in cells.items()}, coords=coords)
    kv = p.concurrent_requests * p.kv_bytes_per_request
    light = {
        "weight_bytes": p.weight_bytes,
        "kv_bytes_per_request": p.kv_bytes_per_request,
        "kv_cache_bytes": kv,
        "memory_bytes": kv + p.weight_bytes,
        "osl": p.output_tokens,
        "systems_for_weights": p.systems_for_weights,
        "base_interactivity": p.base_interactivity,
        "power_law_a": p.power_law_a,
        "power_law_b": p.power_law_b,
    }
    if has_prices:
        light["price_per_mtok"] = p.price_per_mtok
    for name, da in light.items():
        ds[name] = da.drop_vars([c for c in da.coords if c not in da.dims and c not in ds.coords],
                                errors="ignore")
    ds = ds[[v for v in VARIABLES if v in ds.data_vars]]
    ds = label(ds.transpose(*dims, ...))
    ds.attrs.update(
        title="LLM serving cost model (SPEC §2)",
        workload=str(config.workload.name),
        sla_min_interactivity=float(config.sla.min_interactivity),
    )
    return ds
