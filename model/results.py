"""The result Dataset of the cost model: variable names, units, long names and its assembly.

Shared by the in-memory evaluation (:mod:`model.evaluate`) and the lazy one (:mod:`model.lazy`),
so that both return the same variables, dims, coordinates and attributes.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import xarray as xr

from model.equations import ALLOWED_SIZE, INPUTS
from model.errors import ConfigError
from model.quantities import CELL_OUTPUTS, COORDINATES, OUTPUTS
from model.schema import ModelConfig

# name: (units, long_name) of each output, in the Dataset's order (declared in model.quantities)
VARIABLES: dict[str, tuple[str, str]] = {name: (q.unit, q.doc) for name, q in OUTPUTS.items()}

# computed only when asked for by name (the optimizer's disaggregated prefill columns), not by default
ON_REQUEST = frozenset(name for name, q in OUTPUTS.items() if q.on_request)


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
COORD_ATTRS = {q.name: (q.unit, q.doc) for q in COORDINATES}


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
    light = {"weight_bytes": weight_bytes, "kv_cache_bytes": kv, "memory_bytes": memory}
    priced = "margin_per_mtok" in cells or bool(p.price_per_mtok.notnull().any())
    for name, q in OUTPUTS.items():
        if q.term and name not in light and (priced or name != "price_per_mtok"):
            light[name] = term(q.term)
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
