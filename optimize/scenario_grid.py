"""The fleet's grid over scenarios, reduced to its pessimistic order statistics: the grid a robust
plan is made on (issue 14).

The cost model is evaluated on the fleet's grid (:func:`optimize.inputs.bucket_grid`) once per
scenario (the scenarios are ``params`` along a ``scenario`` dim, e.g. from
:func:`sensitivity.uncertainty.scenarios.scenario_params`). Each cell (model, bucket, hardware,
concurrency) is then reduced to its pessimistic order statistic over the scenarios
(:func:`quantile_grid`): what a replica carries or reaches (``requests_per_second``,
``interactivity``, ``prefill_capacity``, ``admitted_requests``) at the ``1 - q`` quantile, what
it takes (``ttft``, ``prefill_time``, ``step_time``, ``systems`` and the KV bytes it moves) at
the ``q`` quantile. A scenario where the cell cannot be served counts as the worst value, so a
cell infeasible in more than ``1 - q`` of the scenarios is infeasible. The order statistics are
numpy's ``lower`` (``1 - q``) and ``higher`` (``q``) quantiles: at least a share ``q`` of the
scenarios does at least as well. ``meets_sla`` is recomputed from the quantiles, and
``cost_per_hour`` is the quantile systems at the catalog $/hour (prices do not change what a
plan can serve, only what it costs; the scenarios' prices enter the evaluation).
:func:`optimize.plan_fleet` plans on that grid as on any other.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr
from omegaconf import DictConfig, OmegaConf, open_dict

from model.equations import MTOK_PER_HOUR
from model.evaluate import check_memory
from model.parameters import SLA_QUANTILE, grid_concurrency
from model.schema import PrefillMode, SlaPercentile
from optimize.columns import CELL_ORDER, at_sla_percentile
from optimize.concurrency import sla_by_model
from optimize.inputs import COLUMN_VARIABLES, bucket_grid, grid_hardware, isl_buckets

SCENARIO = "scenario"
# what a cell carries or reaches (pessimistic: small) and what it takes (pessimistic: large); any
# other variable with a scenario dim (none that the plan reads) is taken at its median
LOW = ("requests_per_second", "interactivity", "prefill_capacity", "admitted_requests", "base_interactivity",
       "pool_prefill_capacity")
HIGH = ("ttft", "prefill_time", "step_time", "pool_prefill_time", "systems", "kv_bytes_per_request",
        "prefix_kv_bytes", "osl",
        "kv_cache_bytes", "memory_bytes", "weight_bytes", "prefill_flops", "systems_for_weights")
INTEGER = ("systems", "admitted_requests")
CHUNK_BYTES = 256 * 2 ** 20  # budget of one concurrency chunk of the scenario grid

def selected_catalog(cfg: DictConfig, params: Mapping[str, Any]) -> tuple[DictConfig, dict[str, Any]]:
    """The config with only the selected hardware and models in its catalog (and the models with
    measured points, which the power-law fit needs), and ``params`` without the others' keys.

    :func:`model.parameters.parameters` derives every term on the whole catalog before it selects;
    a term that gains the scenario dim (the weights streamed per concurrency) is then built for
    every catalog entry.  No term crosses hardware types, and the only term that crosses models
    is the power-law fit over the measured points, which are kept, so the selection's numbers are
    the same (a test checks it).

    Returns the trimmed config (not re-validated: a subset of the valid ``cfg``) and the kept
    ``params`` (dotted key -> value).
    """
    keep = set(cfg.select.hardware)
    # the power-law fit runs over the measured points of the whole model catalog: keep those models
    models = set(cfg.select.models) | {m for m, entry in cfg.models.items()
                                       if any(p.measured for h, p in entry.interactivity.items() if h in keep)}
    trimmed = OmegaConf.merge(cfg)
    OmegaConf.set_readonly(trimmed, False)
    with open_dict(trimmed):
        for name in [h for h in trimmed.hardware if h not in keep]:
            del trimmed.hardware[name]
        for name in [m for m in trimmed.models if m not in models]:
            del trimmed.models[name]
        for model in trimmed.models.values():
            for name in [h for h in model.interactivity if h not in keep]:
                del model.interactivity[name]
    OmegaConf.set_readonly(trimmed, True)

    def wanted(key: str) -> bool:
        parts = key.split(".")
        if parts[0] == "hardware":
            return parts[1] in keep
        if parts[0] == "models":
            return parts[1] in models and (len(parts) != 5 or parts[3] in keep)
        return True

    return trimmed, {k: v for k, v in params.items() if wanted(k)}


def scenario_grid(cfg: DictConfig, params: Mapping[str, Any], concurrency: Any = None) -> xr.Dataset:
    """:func:`optimize.inputs.bucket_grid` of a config with ``fleet`` (optimizer or uncertainty),
    with ``params`` (dotted key -> value, DataArrays along ``scenario``) applied on the catalog
    trimmed to the selection (:func:`selected_catalog`), at ``concurrency`` (default: the
    config's grid): the light terms too, on (model, hardware, [scenario,] bucket, concurrency)."""
    return bucket_grid(cfg, params, concurrency, trim=selected_catalog)


def order_index(n: int, q: float) -> int:
    """The pessimistic order statistic of confidence ``q`` over ``n`` scenarios, as an index.

    ``k = floor((n - 1) (1 - q))``: the ``k``-th smallest value of a capacity (numpy's ``lower``
    quantile at ``1 - q``) and the ``k``-th largest of a time (``higher`` at ``q``); at least a
    share ``q`` of the scenarios does at least as well.

    Parameters
    ----------
    n
        Scenarios.
    q
        Confidence in (0, 1).

    Returns
    -------
    int
        In ``[0, n - 1]``.

    Raises
    ------
    ValueError
        ``q`` outside (0, 1).
    """
    if not 0 < q < 1:
        raise ValueError(f"q={q}: must be in (0, 1)")
    return int(np.floor(round((n - 1) * (1 - q), 9)))


def _sorted_values(da: xr.DataArray, fill: float) -> np.ndarray:
    """Values sorted along ``scenario`` (moved last), NaN counted as ``fill``."""
    values = np.moveaxis(da.values.astype(float), da.get_axis_num(SCENARIO), -1)
    return np.sort(np.where(np.isnan(values), fill, values), axis=-1)


def reduce_scenarios(grid: xr.Dataset, ks: Sequence[int], price_per_hour: xr.DataArray,
                     min_interactivity: xr.DataArray, quantile: float = 0.5,
                     physical: np.ndarray | None = None) -> list[xr.Dataset]:
    """The pessimistic grids of a scenario grid, one per order index ``k`` (module docstring).

    Parameters
    ----------
    grid
        :func:`scenario_grid`'s result.
    ks
        Order indices (:func:`order_index`): capacities at their ``k``-th smallest value, times
        at their ``k``-th largest.
    price_per_hour
        Catalog $/hour per grid hardware.
    min_interactivity
        The SLA per model (tok/s).
    quantile, physical
        ``sla.percentile``'s quantile and, per grid hardware, whether it prefills in the physical
        mode: ``meets_sla`` judges the interactivity at that percentile (docs/model.md §10), as the
        kernel does.

    Returns
    -------
    list of xarray.Dataset
        The variables of ``grid`` without ``scenario``, one Dataset per ``k``.
    """
    n = grid.sizes[SCENARIO]
    coords = {k: v for k, v in grid.coords.items() if SCENARIO not in v.dims}
    index = {}  # name -> (sorted values, dims, position of k)
    for name, da in grid.data_vars.items():
        if SCENARIO not in da.dims:
            continue
        side = "low" if name in LOW else "high" if name in HIGH else "median"
        fill = {"low": -np.inf, "high": np.inf, "median": np.nan}[side]
        index[name] = (_sorted_values(da, fill), [d for d in da.dims if d != SCENARIO], side)
    out = []
    for k in ks:
        ds = xr.Dataset(coords=coords)
        for name, da in grid.data_vars.items():
            if name not in index:
                ds[name] = da
                continue
            values, dims, side = index[name]
            at = {"low": k, "high": n - 1 - k, "median": (n - 1) // 2}[side]
            picked = values[..., at]
            ds[name] = (dims, np.where(np.isinf(picked), np.nan, picked), da.attrs)
        out.append(_complete(ds, grid, price_per_hour, min_interactivity, quantile, physical))
    return out


def _complete(out: xr.Dataset, grid: xr.Dataset, price_per_hour: xr.DataArray,
              min_interactivity: xr.DataArray, quantile: float = 0.5, physical: np.ndarray | None = None) -> xr.Dataset:
    """Feasibility, SLA and cost of a reduced grid from its order statistics."""
    feasible = out.requests_per_second.notnull() & out.interactivity.notnull()
    times = [n for n in ("ttft", "prefill_time", "step_time", "prefill_capacity", "pool_prefill_time",
                         "pool_prefill_capacity") if n in grid]  # the pool's: where the grid has them
    for name in times:
        if SCENARIO in grid[name].dims:
            feasible = feasible & out[name].notnull()
    for name in ["requests_per_second", "interactivity", *times]:
        out[name] = out[name].where(feasible)
    for name in INTEGER:  # order statistics of whole numbers are whole (never NaN: filled on infeasible cells)
        out[name] = out[name].astype(np.int64)
    out["feasible"] = feasible
    interactivity = out.interactivity
    if quantile > 0.5 and physical is not None:
        at = at_sla_percentile(out, quantile, physical)[0]
        interactivity = xr.DataArray(at, dims=CELL_ORDER, coords={d: out[d] for d in CELL_ORDER if d in out.coords})
    out["meets_sla"] = feasible & (interactivity >= min_interactivity)
    out["cost_per_hour"] = (out.systems * price_per_hour).where(feasible)
    tokens = out.bucket_isl + out.osl
    out["cost_per_mtok"] = out.cost_per_hour / (out.requests_per_second * tokens * MTOK_PER_HOUR)
    for name, da in grid.data_vars.items():
        out[name].attrs.update(da.attrs)
    return out.transpose(*[d for d in grid.cost_per_hour.dims if d != SCENARIO], ...)


def _catalog_price(cfg: DictConfig, hardware: list[str]) -> xr.DataArray:
    return xr.DataArray([float(cfg.hardware[h].price_per_hour) for h in hardware], dims="hardware",
                        coords={"hardware": hardware})


def scenario_count(params: Mapping[str, Any]) -> int:
    """Scenarios of ``params``: the length of their ``scenario`` dim (1 without one).

    Parameters
    ----------
    params
        Dotted key -> value.

    Returns
    -------
    int
    """
    return max([v.sizes[SCENARIO] for v in params.values() if isinstance(v, xr.DataArray) and SCENARIO in v.dims],
               default=1)


def _concurrency_chunks(cfg: DictConfig, grid_cells: int, n: int) -> list[np.ndarray]:
    levels = grid_concurrency(cfg)
    per_level = max(1, grid_cells) * max(1, n) * len(COLUMN_VARIABLES) * 8 * 2  # the grid and its sorted copy
    step = int(max(1, min(len(levels), CHUNK_BYTES // per_level)))
    check_memory(step * per_level, float(cfg.grid.max_memory_fraction))
    return [levels[i:i + step] for i in range(0, len(levels), step)]


def quantile_grids(cfg: DictConfig, params: Mapping[str, Any], ks: Sequence[int]) -> list[xr.Dataset]:
    """The grids :func:`optimize.plan_fleet` plans on, one per order index (module docstring).

    Evaluated in chunks of concurrency levels, so that no more than a fixed budget of the
    (model, hardware, scenario, bucket, concurrency) grid is held at once.

    Parameters
    ----------
    cfg, params
        As :func:`scenario_grid`.
    ks
        Order indices (:func:`order_index`).

    Returns
    -------
    list of xarray.Dataset
        As :func:`optimize.inputs.bucket_grid` returns it, one per ``k``.
    """
    hardware = grid_hardware(cfg)
    n = scenario_count(params)
    buckets = len(isl_buckets(cfg)[0])
    chunks = _concurrency_chunks(cfg, len(cfg.select.models) * len(hardware) * buckets, n)
    price = _catalog_price(cfg, hardware)
    sla = sla_by_model(cfg)
    quantile = SLA_QUANTILE[SlaPercentile(cfg.sla.percentile)]
    physical = np.array([PrefillMode(cfg.hardware[h].prefill_mode) == PrefillMode.physical for h in hardware])
    parts = []
    for levels in chunks:
        at = xr.DataArray(levels, dims="concurrency", coords={"concurrency": levels})
        grid = scenario_grid(cfg, params, at)
        if SCENARIO not in grid.dims:
            grid = grid.expand_dims({SCENARIO: n}).copy()
        parts.append(reduce_scenarios(grid, ks, price, sla, quantile, physical))
    grids = []
    for i, k in enumerate(ks):
        pieces = [part[i] for part in parts]
        grid = pieces[0] if len(pieces) == 1 else xr.concat(pieces, dim="concurrency", data_vars="minimal",
                                                            coords="minimal", compat="override")
        grid.attrs.update(scenarios=n, order_index=k, column_confidence=column_confidence(n, k))
        grids.append(grid)
    return grids


def column_confidence(n: int, k: int) -> float:
    """The share of scenarios that do at least as well as the ``k``-th order statistic, ``(n - k) / n``.

    Parameters
    ----------
    n
        Scenarios.
    k
        Order index.

    Returns
    -------
    float
    """
    return (n - k) / n


def quantile_grid(cfg: DictConfig, params: Mapping[str, Any], q: float) -> xr.Dataset:
    """The grid :func:`optimize.plan_fleet` plans on at confidence ``q`` in (0, 1): every cell at
    its pessimistic order statistic :func:`order_index` ``(n, q)`` over the ``n`` scenarios of
    ``params`` (module docstring); one of :func:`quantile_grids`."""
    return quantile_grids(cfg, params, [order_index(scenario_count(params), q)])[0]
