"""Step 2 and 3 of the uncertainty analysis: the cost model on every scenario, then its quantiles.

:func:`evaluate_scenarios` feeds the scenarios to the cost model as DataArray parameters along a
``scenario`` dim, exactly as the Sobol analysis feeds its design
(:func:`sensitivity.evaluate.evaluate_design`): one :func:`model.evaluate` call for $/Mtok at the
workload's concurrency and one blocked reduction, :func:`model.cheapest.cheapest_under_sla`, for
the SLA-constrained optimum over the concurrency grid, which never holds more than a few blocks of
the (model, hardware, scenario, ISL, concurrency) grid.  Scenarios go through in chunks
(:func:`scenario_chunk`) so that the parameter terms that gain the scenario dim (the weights a
decode step streams, per concurrency, when a model's active parameters are uncertain) stay within
a fixed memory budget.

:func:`bands` takes quantiles over the scenarios of each quantity, where it is defined (a cost
exists only where the SLA is met); ``*_defined`` says in how many scenarios it is.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr
from omegaconf import DictConfig

from model.cheapest import ATTRS as CHEAPEST_ATTRS
from model.cheapest import cheapest_under_sla
from model.engine import BLOCK_CELLS, Progress
from model.evaluate import check_memory, evaluate
from model.price_to_beat import price_to_beat_from_costs
from model.results import label_coords
from optimize.scenario_grid import selected_catalog
from sensitivity.uncertainty.scenarios import SCENARIO

CHUNK_BYTES = 512 * 2 ** 20   # budget of the scenario-dependent parameter terms of one chunk
TERM_COPIES = 4               # a per-concurrency term and the temporaries that derive it

ATTRS = {
    "cost_per_mtok": ("$/Mtok", "hardware cost per Mtok at the workload's concurrency"),
    "optimal_cost_per_mtok": ("$/Mtok", "least cost per Mtok over the concurrency grid meeting the SLA"),
    "optimal_concurrency": ("requests", "concurrency of that least cost"),
    "optimal_systems": CHEAPEST_ATTRS["systems"],
    "optimal_replica_capex": ("$", "capital cost of one replica at that concurrency, systems x capex_per_system"),
    "sla_met": CHEAPEST_ATTRS["sla_met"],
    "max_interactivity": ("tok/s", "best interactivity over feasible concurrencies"),
    "price_to_beat": ("$/h", "price per system-hour at which the hardware's least SLA-meeting $/Mtok equals the "
                             "best other hardware's (inf: no other meets the SLA; NaN: it does not)"),
}
BANDED = ("cost_per_mtok", "optimal_cost_per_mtok", "optimal_replica_capex", "price_to_beat")


def scenario_chunk(cfg: DictConfig, n: int, budget: int = CHUNK_BYTES) -> int:
    """Scenarios per chunk: the largest power of two (at most ``n``) whose per-concurrency
    parameter terms fit ``budget`` bytes, checked against ``grid.max_memory_fraction``.

    Parameters
    ----------
    cfg
        A validated config (its selection and concurrency grid).
    n
        Scenarios in all.
    budget
        Bytes of one chunk's model x hardware x scenario x concurrency terms (times
        :data:`TERM_COPIES`).

    Returns
    -------
    int
    """
    g = cfg.grid
    levels = len(range(int(g.concurrency_min), int(g.concurrency_max) + 1, int(g.concurrency_step)))
    per_scenario = len(cfg.select.models) * len(cfg.select.hardware) * levels * 8 * TERM_COPIES
    chunk = max(1, min(n, budget // max(per_scenario, 1)))
    chunk = 1 << (chunk.bit_length() - 1)
    check_memory(chunk * per_scenario, float(g.max_memory_fraction))
    return chunk


def _take(params: Mapping[str, Any], part: slice) -> dict[str, Any]:
    return {k: v.isel({SCENARIO: part}) if isinstance(v, xr.DataArray) and SCENARIO in v.dims else v
            for k, v in params.items()}


def _chunk_progress(progress: Progress | None, index: int, chunks: int) -> Progress | None:
    if progress is None:
        return None

    def report(done: int, total: int) -> None:
        progress(index * total + done, chunks * total)

    return report


def evaluate_scenarios(cfg: DictConfig, params: Mapping[str, Any], isl: Sequence[int] | xr.DataArray, *,
                       concurrency: int | None = None, chunk: int | None = None,
                       block_cells: int = BLOCK_CELLS, progress: Progress | None = None) -> xr.Dataset:
    """The cost model on every scenario: $/Mtok at one concurrency and the SLA-constrained optimum.

    Parameters
    ----------
    cfg
        A validated config (selection, grid, SLA).
    params
        Dotted key -> value, DataArrays along ``scenario`` (:func:`scenario_params`); no
        ``scenario`` dim at all evaluates the point estimate.
    isl
        ISLs, tokens (a list or a DataArray on ``isl``).
    concurrency
        Concurrency of ``cost_per_mtok`` (default ``workload.concurrency``).
    chunk
        Scenarios per call of the cost model (default :func:`scenario_chunk`).
    block_cells
        Cells per block of the reduction over concurrency.
    progress
        Called as blocks of the reduction finish, over all chunks.

    Returns
    -------
    xarray.Dataset
        On (model, hardware, [scenario,] isl): ``cost_per_mtok``, ``optimal_cost_per_mtok``,
        ``optimal_concurrency``, ``optimal_systems``, ``sla_met``, ``max_interactivity``.
    """
    isl = isl if isinstance(isl, xr.DataArray) else xr.DataArray(np.asarray(isl, dtype=np.int64), dims="isl")
    cfg, params = selected_catalog(cfg, params)
    n_point = int(cfg.workload.concurrency if concurrency is None else concurrency)
    at = xr.DataArray([n_point], dims="concurrency", coords={"concurrency": [n_point]})
    sizes = [v.sizes[SCENARIO] for v in params.values() if isinstance(v, xr.DataArray) and SCENARIO in v.dims]
    n = sizes[0] if sizes else 0
    chunk = (scenario_chunk(cfg, n) if chunk is None else int(chunk)) if n else 1
    parts = [slice(i, min(i + chunk, n)) for i in range(0, n, chunk)] if n else [slice(None)]
    # one concurrency level: every scenario in one call
    point = evaluate(cfg, params, isl=isl, concurrency=at, variables=["cost_per_mtok"])
    pieces = []
    for index, part in enumerate(parts):
        best = cheapest_under_sla(cfg, _take(params, part), isl=isl, block_cells=block_cells,
                                  progress=_chunk_progress(progress, index, len(parts)))
        pieces.append(xr.Dataset({
            "optimal_cost_per_mtok": best.cost_per_mtok, "optimal_concurrency": best.concurrency,
            "optimal_systems": best.systems, "sla_met": best.sla_met, "max_interactivity": best.max_interactivity,
        }))
    ds = pieces[0] if len(pieces) == 1 else xr.concat(pieces, dim=SCENARIO)
    ds["cost_per_mtok"] = point.cost_per_mtok.squeeze("concurrency", drop=True)
    ds = ds[["cost_per_mtok", *pieces[0].data_vars]]
    ds = ds.transpose("model", "hardware", ..., "isl")
    for name in ds.data_vars:
        ds[name].attrs.update(units=ATTRS[name][0], long_name=ATTRS[name][1])
    return label_coords(ds)


def hardware_values(cfg: DictConfig, params: Mapping[str, Any], field: str) -> xr.DataArray:
    """A hardware field of the selected hardware: the scenario values where ``params`` has them,
    else the catalog's (NaN where null).

    Parameters
    ----------
    cfg
        A validated config.
    params
        Dotted key -> value.
    field
        A hardware field, e.g. ``price_per_hour``.

    Returns
    -------
    xarray.DataArray
        On ``hardware`` (and ``scenario`` where a value has it).
    """
    hardware = list(cfg.select.hardware)
    values = []
    for h in hardware:
        value = params.get(f"hardware.{h}.{field}", cfg.hardware[h][field])
        values.append(xr.DataArray(np.nan if value is None else value))
    return xr.concat(xr.broadcast(*values), dim="hardware", coords="minimal").assign_coords(hardware=hardware)


def add_derived(cfg: DictConfig, samples: xr.Dataset, params: Mapping[str, Any]) -> xr.Dataset:
    """Add each scenario's replica capex at the optimum and the price to beat.

    Parameters
    ----------
    cfg
        The config the samples were evaluated with.
    samples
        :func:`evaluate_scenarios`' result.
    params
        The parameters it was evaluated with.

    Returns
    -------
    xarray.Dataset
        ``samples`` with ``optimal_replica_capex`` and ``price_to_beat``.
    """
    capex = hardware_values(cfg, params, "capex_per_system")
    price = hardware_values(cfg, params, "price_per_hour")
    out = samples.copy()
    out["optimal_replica_capex"] = samples.optimal_systems * capex
    out["price_to_beat"] = price_to_beat_from_costs(samples.optimal_cost_per_mtok, price)
    for name in ("optimal_replica_capex", "price_to_beat"):
        out[name].attrs.update(units=ATTRS[name][0], long_name=ATTRS[name][1])
    return out


def bands(samples: xr.Dataset, quantiles: Sequence[float]) -> xr.Dataset:
    """Quantiles over ``scenario`` of :data:`BANDED` quantities, where each is defined.

    Costs and capex use linear interpolation between order statistics; the price to beat, which
    may be infinite, the inverted CDF (an order statistic).

    Parameters
    ----------
    samples
        :func:`evaluate_scenarios` plus :func:`add_derived`.
    quantiles
        Levels in (0, 1).

    Returns
    -------
    xarray.Dataset
        Each banded quantity with a ``quantile`` dim, and ``<name>_defined``: the share of
        scenarios where it has a value.
    """
    out = xr.Dataset()
    q = list(map(float, quantiles))
    with warnings.catch_warnings():  # all-NaN cells (no scenario meets the SLA) give NaN, as meant
        warnings.simplefilter("ignore", RuntimeWarning)
        for name in BANDED:
            if name not in samples:
                continue
            da = samples[name]
            method = "inverted_cdf" if name == "price_to_beat" else "linear"
            out[name] = da.quantile(q, dim=SCENARIO, skipna=True, method=method).transpose("model", "hardware",
                                                                                           ..., "quantile")
            out[name].attrs.update(da.attrs)
            out[f"{name}_defined"] = da.notnull().mean(SCENARIO)
            out[f"{name}_defined"].attrs.update(units="1", long_name=f"share of scenarios where {name} has a value")
    out["quantile"].attrs.update(units="1", long_name="quantile over scenarios")
    return out
