"""Does a fleet plan meet demand and the SLA in each scenario, and what does it cost there (issue 14)?

:func:`evaluate_plan` takes a plan's rows (replicas per model, bucket, phase, hardware,
concurrency) to every scenario: a row serves only if its cell is feasible, fits in the replica
size bought, and meets the SLA there (aggregated: interactivity and TTFT; decode: the decode
interactivity; a disaggregated pair: its TTFT within the limit). A (model, bucket) is served
when the plan's coverage matrix (:class:`optimize.coverage.CoverageMatrix`, the rows the MILP
imposed) at the scenario's capacities covers its demand at the target utilization: aggregated
capacity plus the maximum flow from prefill to decode capacity. The plan's $/hour in a scenario
is its systems at that scenario's prices.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from omegaconf import DictConfig

from optimize.columns import at_sla_percentile, cells, disaggregated_cells
from optimize.constants import PHASE_CODE, Phase, SolveStatus
from optimize.inputs import column_options, demand_by_model, demand_rows
from optimize.plan import FleetPlan
from optimize.scenario_grid import SCENARIO, scenario_count, scenario_grid

DEMAND_TOLERANCE = 1e-9      # relative: capacity covering demand up to rounding


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
    spread = at_sla_percentile(flat, options.sla_quantile, options.physical, options.data_parallel)
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
