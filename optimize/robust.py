"""Robust fleet plans (issue 14): plan for a confidence ``q`` over scenarios, then test plans on
every scenario.

**The plan at confidence q.**  The cost model is evaluated on the fleet's grid
(:func:`optimize.inputs.bucket_grid`) once per scenario (the scenarios are ``params`` along a
``scenario`` dim, e.g. from :func:`sensitivity.uncertainty.scenarios.scenario_params`).  Each
cell (model, bucket, hardware, concurrency) is then reduced to its pessimistic order statistic
over the scenarios (:func:`quantile_grid`): what a replica carries or reaches
(``requests_per_second``, ``interactivity``, ``prefill_capacity``, ``admitted_requests``) at the
``1 - q`` quantile, what it takes (``ttft``, ``prefill_time``, ``step_time``, ``systems`` and the
KV bytes it moves) at the ``q`` quantile.  A scenario where the cell cannot be served counts as
the worst value, so a cell infeasible in more than ``1 - q`` of the scenarios is infeasible.
The order statistics are numpy's ``lower`` (``1 - q``) and ``higher`` (``q``) quantiles: at
least a share ``q`` of the scenarios does at least as well.  ``meets_sla`` is recomputed from
the quantiles, and ``cost_per_hour`` is the quantile systems at the catalog $/hour (prices do
not change what a plan can serve, only what it costs; the scenarios' prices enter the
evaluation).  :func:`optimize.plan_fleet` plans on that grid as on any other.

Each column is pessimistic on its own: the plan meets demand in every scenario where every
column it buys does at least as well as its quantile, which may be fewer than a share ``q`` when
columns on different hardware fail in different scenarios (on the defaults: 83% at q = 0.9, the
wafer's decode and the B200's prefill depend on independent inputs).  :func:`compare_plans`
therefore calibrates the plan as a whole: a capacity margin (the plan covers a multiple of the
demand) and, where the rows' SLA is what fails, a more pessimistic order statistic, until the
plan meets demand and the SLA in a share ``q`` of its scenarios; held-out scenarios check it.

**Evaluation.**  :func:`evaluate_plan` takes a plan's rows (replicas per model, bucket, phase,
hardware, concurrency) to every scenario: a row serves only if its cell is feasible, fits in the
replica size bought, and meets the SLA there (aggregated: interactivity and TTFT; decode: the
decode interactivity; a disaggregated pair: its TTFT within the limit).  A (model, bucket) is
served when the plan's coverage matrix (:class:`optimize.coverage.CoverageMatrix`, the rows the
MILP imposed) at the scenario's capacities covers its demand at the target utilization:
aggregated capacity plus the maximum flow from prefill to decode capacity.  The plan's $/hour
in a scenario is its systems at that scenario's prices.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from omegaconf import DictConfig, OmegaConf, open_dict

from model.app.config import with_values
from model.app.validate import validate as validate_model
from model.equations import MTOK_PER_HOUR
from model.evaluate import check_memory, evaluate
from model.parameters import SLA_QUANTILE, grid_concurrency
from model.schema import PrefillMode, SlaPercentile
from optimize.columns import CELL_ORDER, at_sla_percentile, cells, disaggregated_cells
from optimize.concurrency import sla_by_model
from optimize.constants import PHASE_CODE, Phase, ShortfallKind, SolveStatus
from optimize.fleet import plan_fleet
from optimize.inputs import (
    COLUMN_VARIABLES,
    bucket_grid,
    column_options,
    demand_by_model,
    demand_rows,
    grid_hardware,
    isl_buckets,
)
from optimize.plan import FleetPlan

SCENARIO = "scenario"
# what a cell carries or reaches (pessimistic: small) and what it takes (pessimistic: large); any
# other variable with a scenario dim (none that the plan reads) is taken at its median
LOW = ("requests_per_second", "interactivity", "prefill_capacity", "admitted_requests", "base_interactivity")
HIGH = ("ttft", "prefill_time", "step_time", "systems", "kv_bytes_per_request", "prefix_kv_bytes", "osl",
        "kv_cache_bytes", "memory_bytes", "weight_bytes", "prefill_flops", "systems_for_weights")
INTEGER = ("systems", "admitted_requests")
CHUNK_BYTES = 256 * 2 ** 20  # budget of one concurrency chunk of the scenario grid
DEMAND_TOLERANCE = 1e-9      # relative: capacity covering demand up to rounding


def selected_catalog(cfg: DictConfig, params: Mapping[str, Any]) -> tuple[DictConfig, dict[str, Any]]:
    """The config with only the selected hardware and models in its catalog (and the models with
    measured points, which the power-law fit needs), and ``params`` without the others' keys.

    :func:`model.parameters.parameters` derives every term on the whole catalog before it selects;
    a term that gains the scenario dim (the weights streamed per concurrency) is then built for
    every catalog entry.  No term crosses hardware types, and the only term that crosses models
    is the power-law fit over the measured points, which are kept, so the selection's numbers are
    the same (a test checks it).

    Parameters
    ----------
    cfg
        A validated config.
    params
        Dotted key -> value.

    Returns
    -------
    tuple
        The trimmed config (not re-validated: a subset of a valid one) and the kept params.
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
    """:func:`optimize.inputs.bucket_grid` with ``params`` (along ``scenario``) applied.

    Parameters
    ----------
    cfg
        Validated optimizer (or uncertainty) config with ``fleet``.
    params
        Dotted key -> value, DataArrays along ``scenario``.
    concurrency
        Concurrency levels (default: the config's grid).

    Returns
    -------
    xarray.Dataset
        :data:`optimize.inputs.COLUMN_VARIABLES` and the light terms on (model, hardware,
        [scenario,] bucket, concurrency), coordinates ``bucket_isl`` and ``bucket_weight``.
    """
    isl, weight = isl_buckets(cfg)
    bucket = xr.DataArray(isl, dims="bucket", coords={"bucket": np.arange(len(isl))})
    values: dict[str, Any] = {}
    hardware = grid_hardware(cfg)
    if hardware != list(cfg.select.hardware):
        values["select.hardware"] = hardware
    if cfg.sla.max_ttft_s is not None:
        values["sla.max_ttft_s"] = None
    if values:
        cfg = with_values(cfg, values, validate_model)
    cfg, params = selected_catalog(cfg, params)
    grid = evaluate(cfg, {**params, "sla.min_interactivity": sla_by_model(cfg)}, isl=bucket, concurrency=concurrency,
                    variables=COLUMN_VARIABLES)
    return grid.assign_coords(bucket_isl=("bucket", isl), bucket_weight=("bucket", weight))


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
    """
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
    for name in ("ttft", "prefill_time", "step_time", "prefill_capacity"):
        if SCENARIO in grid[name].dims:
            feasible = feasible & out[name].notnull()
    for name in ("requests_per_second", "interactivity", "ttft", "prefill_time", "step_time", "prefill_capacity"):
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
    cfg
        Validated config with ``fleet``.
    params
        Dotted key -> value, DataArrays along ``scenario``.
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
    """The grid :func:`optimize.plan_fleet` plans on at confidence ``q``: every cell at its
    pessimistic order statistic :func:`order_index` ``(n, q)`` (module docstring).

    Parameters
    ----------
    cfg
        Validated config with ``fleet``.
    params
        Dotted key -> value, DataArrays along ``scenario``.
    q
        Confidence in (0, 1).

    Returns
    -------
    xarray.Dataset
        As :func:`optimize.inputs.bucket_grid` returns it.
    """
    if not 0 < q < 1:
        raise ValueError(f"q={q}: must be in (0, 1)")
    return quantile_grids(cfg, params, [order_index(scenario_count(params), q)])[0]


def robust_plan(cfg: DictConfig, params: Mapping[str, Any], q: float) -> FleetPlan:
    """The cheapest fleet whose every column serves at its pessimistic quantile (module docstring).

    Parameters
    ----------
    cfg
        Validated config with ``fleet``.
    params
        Dotted key -> value, DataArrays along ``scenario``.
    q
        Confidence in (0, 1).

    Returns
    -------
    FleetPlan
    """
    return plan_fleet(cfg, grid=quantile_grid(cfg, params, q))


def _scenario_price(cfg: DictConfig, params: Mapping[str, Any], hardware: list[str], n: int) -> np.ndarray:
    """$/hour per (hardware, scenario): the scenario's where ``params`` has it, else the catalog's."""
    out = np.empty((len(hardware), n))
    for i, h in enumerate(hardware):
        value = params.get(f"hardware.{h}.price_per_hour", cfg.hardware[h].price_per_hour)
        out[i] = np.broadcast_to(np.asarray(value.values if isinstance(value, xr.DataArray) else value, float), n)
    return out


def evaluate_plan(cfg: DictConfig, plan: FleetPlan, params: Mapping[str, Any]) -> xr.Dataset:
    """Does a plan meet demand and the SLA in each scenario, and what does it cost there?

    Parameters
    ----------
    cfg
        Validated config with ``fleet`` (the plan's demand, SLA, utilization, TTFT limits).
    plan
        A fleet plan (of this config, on any grid).
    params
        Dotted key -> value, DataArrays along ``scenario``.

    Returns
    -------
    xarray.Dataset
        On ``scenario``: ``meets_demand_and_sla`` (every (model, bucket) covered at the target
        utilization, the constraint the plan was made to, by rows that meet the SLA there),
        ``serves_demand_at_full_load`` (the same at 100% utilization: every request is served, if
        without the plan's headroom), ``meets_sla`` (every row meets the SLA), ``meets_demand``
        (the feasible rows cover demand at the target utilization, SLA aside),
        ``cost_per_hour`` (the plan's systems at the scenario's prices).
    """
    n = scenario_count(params)
    coords = {SCENARIO: (SCENARIO, np.arange(n), {"units": "", "long_name": "scenario number"})}
    table = plan.plan
    if plan.status not in (SolveStatus.optimal, SolveStatus.time_limit) or table.empty:
        false = np.zeros(n, dtype=bool)
        return _plan_dataset(false, false, false, np.full(n, np.nan), coords, false)
    cols, matrix = plan.assignment.columns, plan.assignment.coverage  # in the plan table's row order
    labels = cols.labels()
    levels = np.unique(labels.concurrency.to_numpy().astype(np.int64))
    at = xr.DataArray(levels, dims="concurrency", coords={"concurrency": levels})
    grid = scenario_grid(cfg, params, at)
    if SCENARIO not in grid.dims:
        grid = grid.expand_dims({SCENARIO: n})
    first = grid.isel({SCENARIO: 0}, drop=True)
    options = column_options(cfg, first)
    rows = demand_rows(first, demand_by_model(cfg).sel(model=first.model))
    # every scenario at once: (scenario, concurrency) stacked into one "concurrency" dim of the cell functions
    flat = grid.stack(cell=(SCENARIO, "concurrency")).transpose(..., "cell")
    flat = flat.drop_vars(["cell", SCENARIO, "concurrency"]).rename({"cell": "concurrency"})
    # the plan's columns in this grid, by their labels
    m = first.indexes["model"].get_indexer(labels.model)[:, None]
    b = pd.Index(first.bucket_isl.values).get_indexer(labels.bucket_isl)[:, None]
    h = first.indexes["hardware"].get_indexer(labels.hardware)
    c = np.searchsorted(levels, labels.concurrency.to_numpy().astype(np.int64))[:, None]
    at_cell = (m, b, h[:, None], np.arange(n)[None, :] * len(levels) + c)   # (plan rows, scenarios)
    agg, pre, dec = (matrix.kind[:, None] == PHASE_CODE[p] for p in Phase)
    replicas = table.replicas.to_numpy(dtype=float)
    bought = cols.systems[:, None]
    row = rows.row_of_cell[m[:, 0], b[:, 0]]
    sla, limit = options.min_interactivity[m], options.max_ttft[m]
    d = {k: v[at_cell] for k, v in disaggregated_cells(flat, options).items()}
    cell = {k: cells(flat, k)[at_cell] for k in ("feasible", "systems", "requests_per_second")}
    # docs/model.md §10: an aggregated row is judged at sla.percentile, as the plan chose it
    spread = at_sla_percentile(flat, options.sla_quantile, options.physical)
    cell["interactivity"], cell["ttft"] = (v[at_cell] for v in spread)
    feasible = cell["feasible"] & (cell["systems"] <= bought)
    rate = np.where(agg, cell["requests_per_second"], np.where(pre, d["prefill_rate"], d["decode_rate"]))
    rate = np.where(feasible & np.isfinite(rate), rate, 0.0)
    with np.errstate(invalid="ignore"):
        meets = np.where(agg, (cell["interactivity"] >= sla) & (cell["ttft"] <= limit),
                         np.where(dec, d["decode_interactivity"] >= sla, True)) & feasible & (rate > 0)
    # a disaggregated request under a TTFT limit: the worst prefill's TTFT and the slowest link of its row
    for r in np.unique(row[((pre | dec)[:, 0]) & np.isfinite(limit[:, 0])]):
        here = (pre | dec) & (row == r)[:, None]
        used = here & meets
        worst = (np.max(np.where(used & pre, d["prefill_ttft"], -np.inf), axis=0)
                 + np.max(np.where(used, d["link_time"], 0.0), axis=0))
        meets &= ~(here & ~(worst <= limit[here[:, 0]][0, 0])[None, :])
    need = rows.requests_per_second[:, None] * (1 - DEMAND_TOLERANCE)
    # the plan's coverage matrix (phases and TTFT tiers, as the MILP saw them) on this config's demand rows
    coverage = replace(matrix, row=row, n_rows=len(rows))

    def served(mask: np.ndarray, utilization: float) -> np.ndarray:
        return coverage.served(replicas, np.where(mask, rate * utilization, 0.0))

    u = options.target_utilization
    ok = np.all(served(meets, u) >= need, axis=0)
    ok_full = np.all(served(meets, 1.0) >= need, axis=0)
    meets_sla = np.all(meets, axis=0)
    meets_demand = np.all(served(np.ones_like(meets), u) >= need, axis=0)
    hardware = [str(x) for x in first.hardware.values]
    price = _scenario_price(cfg, params, hardware, n)
    cost = (replicas * bought[:, 0]) @ price[h]
    return _plan_dataset(ok, meets_sla, meets_demand, cost, coords, ok_full)


def _plan_dataset(ok: np.ndarray, sla: np.ndarray, demand: np.ndarray, cost: np.ndarray, coords: dict,
                  ok_full: np.ndarray) -> xr.Dataset:
    return xr.Dataset({
        "meets_demand_and_sla": (SCENARIO, ok, {"units": "1", "long_name": "every (model, bucket) covered at the "
                                                "target utilization by rows that meet the SLA"}),
        "serves_demand_at_full_load": (SCENARIO, ok_full, {"units": "1", "long_name": "every (model, bucket) "
                                                           "covered by rows that meet the SLA at 100% utilization "
                                                           "(demand served, without the plan's headroom)"}),
        "meets_sla": (SCENARIO, sla, {"units": "1", "long_name": "every row of the plan meets the SLA"}),
        "meets_demand": (SCENARIO, demand, {"units": "1", "long_name": "the feasible rows' capacity covers demand "
                                            "at the target utilization, SLA aside"}),
        "cost_per_hour": (SCENARIO, cost, {"units": "$/h", "long_name": "the plan's systems at the scenario's prices"}),
    }, coords=coords)


@dataclass(frozen=True)
class RobustComparison:
    """The robust plan beside the point-estimate plan, both evaluated on every scenario.

    Attributes
    ----------
    q
        Target confidence: the share of scenarios in which the robust plan must meet demand and
        the SLA.
    column_confidence
        The confidence each column was taken at (``q``, or more where the joint calibration
        raised it, :func:`compare_plans`).
    capacity_margin
        The demand multiple the robust plan covers (1, or more where the calibration raised it).
    robust, point
        The plan at ``column_confidence`` and the plan on the catalog values, for the same demand:
        the models a robust plan can serve (``dropped`` lists the others).
    scenarios
        :func:`evaluate_plan` of both, along a ``plan`` dim (``robust``, ``point``).
    holdout
        The same on scenarios the plans were not made on (None if none were given).
    premium
        Robust $/hour over point $/hour at catalog prices, minus 1 (NaN without both plans).
    dropped
        Per model that no column serves at confidence ``q`` (so that no robust plan can serve it):
        the reason, from the robust plan's shortfall report.  Their demand is left out of both
        plans; if that is every model's, there is no robust plan (``robust`` is the infeasible
        one, with its report) and ``point`` is planned for the whole demand.
    """

    q: float
    column_confidence: float
    capacity_margin: float
    robust: FleetPlan
    point: FleetPlan
    scenarios: xr.Dataset
    premium: float
    holdout: xr.Dataset | None = None
    dropped: dict[str, str] = field(default_factory=dict)

    def summary(self, quantiles: Sequence[float] = (0.05, 0.5, 0.95)) -> pd.DataFrame:
        """One row per plan: status, $/hour at catalog prices, shares of scenarios met, $/hour quantiles.

        Parameters
        ----------
        quantiles
            Levels of the $/hour quantiles over scenarios.

        Returns
        -------
        pandas.DataFrame
            Index ``plan`` (robust, point).
        """
        out = []
        for name, plan in (("robust", self.robust), ("point", self.point)):
            s = self.scenarios.sel(plan=name)
            row = {"plan": name, "status": plan.status.value,
                   "q": self.q if name == "robust" else np.nan,
                   "column_confidence": self.column_confidence if name == "robust" else np.nan,
                   "capacity_margin": self.capacity_margin if name == "robust" else np.nan,
                   "cost_per_hour": plan.totals.cost_per_hour if plan.totals.cost_per_hour is not None else np.nan,
                   "systems": sum(plan.totals.systems.values()) if plan.totals.systems else 0,
                   "scenarios": s.sizes[SCENARIO],
                   "share_meets_demand_and_sla": float(s.meets_demand_and_sla.mean()),
                   "share_meets_sla": float(s.meets_sla.mean()), "share_meets_demand": float(s.meets_demand.mean()),
                   "share_serves_demand_at_full_load": float(s.serves_demand_at_full_load.mean())}
            if self.holdout is not None:
                row["holdout_scenarios"] = self.holdout.sizes[SCENARIO]
                row["holdout_share_meets_demand_and_sla"] = float(
                    self.holdout.sel(plan=name).meets_demand_and_sla.mean())
            cost = s.cost_per_hour.values
            for level in quantiles:
                row[f"cost_per_hour_p{100 * level:g}"] = float(np.quantile(cost, level)) if np.isfinite(cost).all() \
                    else np.nan
            row["premium"] = self.premium if name == "robust" else 0.0
            row["dropped_models"] = " ".join(self.dropped)
            out.append(row)
        return pd.DataFrame(out).set_index("plan")


UNSERVABLE = (ShortfallKind.sla_unreachable.value, ShortfallKind.ttft_unreachable.value,
              ShortfallKind.no_buildable_size.value, ShortfallKind.isl_beyond_context.value)
CALIBRATION_STEPS = (1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0)  # multiples of the first order index tried
CAPACITY_MARGINS = (1.0, 1.25, 1.5, 2.0, 3.0)  # demand multiples the plan may be calibrated to cover
MARGIN_BISECTIONS = 4  # then halvings of the bracket, for the least margin that meets q


def _unservable(plan: FleetPlan) -> dict[str, str]:
    """Models a plan's shortfall report says no column serves, with the reason."""
    if plan.status != SolveStatus.infeasible or not len(plan.shortfalls):
        return {}
    rows = plan.shortfalls[plan.shortfalls.kind.isin(UNSERVABLE)]
    def reason(part: pd.DataFrame) -> str:
        if len(part) == 1:
            return f"{part.kind.iloc[0]}: {part.detail.iloc[0]}"
        return "; ".join(f"ISL {int(r.bucket_isl):,}: {r.kind}: {r.detail}" for r in part.itertuples())

    return {str(m): reason(part) for m, part in rows.groupby("model", sort=False)}


def _evaluate_both(cfg: DictConfig, robust: FleetPlan, point: FleetPlan, params: Mapping[str, Any]) -> xr.Dataset:
    return xr.concat([evaluate_plan(cfg, robust, params), evaluate_plan(cfg, point, params)],
                     dim=xr.DataArray(["robust", "point"], dims="plan", name="plan",
                                      attrs={"units": "", "long_name": "fleet plan"}))


def _with_margin(cfg: DictConfig, margin: float, validate: Callable[[DictConfig], DictConfig]) -> DictConfig:
    """The config with every selected model's demand times ``margin``."""
    if margin == 1.0:
        return cfg
    demand = demand_by_model(cfg)
    return with_values(cfg, {f"fleet.demand.{m}": float(demand.sel(model=m)) * margin for m in demand.model.values},
                       validate)


def compare_plans(cfg: DictConfig, params: Mapping[str, Any], q: float, *, joint: bool = True,
                  holdout: Mapping[str, Any] | None = None,
                  validate: Callable[[DictConfig], DictConfig] = validate_model) -> RobustComparison:
    """Plan at confidence ``q`` and on the catalog values; evaluate both on every scenario.

    Columns taken at their own ``q`` quantile fail in different scenarios when they sit on
    different hardware (a B200 prefill column and a wafer decode column depend on independent
    inputs), so the plan as a whole may meet demand in fewer than a share ``q`` of the
    scenarios.  With ``joint`` the plan is calibrated until it meets demand and the SLA in at
    least a share ``q`` of its scenarios: first a capacity margin (the plan covers the demand
    times :data:`CAPACITY_MARGINS`, evaluated against the demand itself), which buys replicas
    without touching the SLA check; where the rows' SLA holds in fewer than a share ``q`` (no
    margin can help), the columns' order statistic is made more pessimistic in the steps
    :data:`CALIBRATION_STEPS` of the order index.  The first margin that meets ``q`` is narrowed
    by :data:`MARGIN_BISECTIONS` halvings of its bracket, and the cheapest plan that meets ``q``
    is kept (``column_confidence`` and ``capacity_margin`` record it); if none does (or the next
    step would drop more models), the plan with the largest share.
    ``holdout`` scenarios, if given, test both plans out of sample.

    A model that no column serves at confidence ``q`` (its SLA, TTFT limit, size or context
    fails in more than ``1 - q`` of the scenarios on every hardware) makes any robust plan
    infeasible; its demand is then left out of both plans and listed in ``dropped``, so that the
    others still get a robust plan and a premium.

    Parameters
    ----------
    cfg
        Validated config with ``fleet``.
    params
        Dotted key -> value, DataArrays along ``scenario``.
    q
        Confidence in (0, 1).
    joint
        Calibrate the plan so that it meets ``q`` as a whole.
    holdout
        Other scenarios (as ``params``) to evaluate both plans on.
    validate
        The app's validation, for the configs with changed demand.

    Returns
    -------
    RobustComparison
    """
    if not 0 < q < 1:
        raise ValueError(f"q={q}: must be in (0, 1)")
    n = scenario_count(params)
    first = order_index(n, q)
    ks = sorted({int(np.floor(first * step)) for step in CALIBRATION_STEPS}, reverse=True) if joint else [first]
    grids = quantile_grids(cfg, params, ks)
    first_plan = plan_fleet(cfg, grid=grids[0])
    dropped = _unservable(first_plan)
    demand = demand_by_model(cfg)
    if not [m for m in demand.model.values if float(demand.sel(model=m)) > 0 and str(m) not in dropped]:
        # no model left to plan for: the robust plan is the report of why, the point plan the full one
        point = plan_fleet(cfg, grid=bucket_grid(cfg))
        return RobustComparison(q=q, column_confidence=column_confidence(n, first), capacity_margin=1.0,
                                robust=first_plan, point=point,
                                scenarios=_evaluate_both(cfg, first_plan, point, params), premium=np.nan,
                                holdout=None if holdout is None else _evaluate_both(cfg, first_plan, point, holdout),
                                dropped=dropped)
    served = with_values(cfg, {f"fleet.demand.{m}": 0.0 for m in dropped}, validate) if dropped else cfg
    point = plan_fleet(served, grid=bucket_grid(served))
    best = None  # (met, -cost, share, k, margin, plan, evaluation): the cheapest plan that meets q, else the best share

    def attempt(k: int, grid: xr.Dataset, margin: float) -> tuple[FleetPlan, xr.Dataset] | None:
        nonlocal best
        robust = plan_fleet(_with_margin(served, margin, validate), grid=grid)
        if best is not None and _unservable(robust):
            return None  # more pessimism would drop more models
        evaluated = _evaluate_both(served, robust, point, params)
        share = float(evaluated.sel(plan="robust").meets_demand_and_sla.mean())
        cost = robust.totals.cost_per_hour if robust.totals.cost_per_hour is not None else np.inf
        key = (share >= q, -cost if share >= q else share, share, k, margin, robust, evaluated)
        if best is None or key[:2] > best[:2]:
            best = key
        return robust, evaluated

    for k, grid in zip(ks, grids):
        low, stop = 1.0, False
        for margin in CAPACITY_MARGINS if joint else (1.0,):
            result = attempt(k, grid, margin)
            if result is None:
                stop = True
                break
            mine = result[1].sel(plan="robust")
            if float(mine.meets_demand_and_sla.mean()) >= q:
                high = margin
                for _ in range(MARGIN_BISECTIONS if margin > 1.0 else 0):  # the least margin that still meets q
                    middle = (low + high) / 2
                    result = attempt(k, grid, middle)
                    met = result is not None and float(result[1].sel(plan="robust").meets_demand_and_sla.mean()) >= q
                    low, high = (low, middle) if met else (middle, high)
                stop = True
                break
            if float(mine.meets_sla.mean()) < q:
                break  # the rows' SLA fails too often: no capacity margin fixes that, more pessimism may
            low = margin
        if stop:
            break
    _, _, _, k, margin, robust, evaluated = best
    costs = (robust.totals.cost_per_hour, point.totals.cost_per_hour)
    premium = costs[0] / costs[1] - 1 if None not in costs and costs[1] else np.nan
    out_of_sample = _evaluate_both(served, robust, point, holdout) if holdout is not None else None
    return RobustComparison(q=q, column_confidence=column_confidence(n, k), capacity_margin=margin, robust=robust,
                            point=point, scenarios=evaluated, premium=float(premium), holdout=out_of_sample,
                            dropped=dropped)
