"""The fleet plan of docs/model.md §5 and §9: integer replicas per (model, ISL bucket, hardware,
concurrency) of three kinds: aggregated, prefill and decode.

:func:`plan_fleet` runs the steps in order: inputs (:mod:`optimize.inputs`), candidate columns
and pruning (:mod:`optimize.columns`), their coverage matrix (:mod:`optimize.coverage`), build
and solve (:mod:`optimize.milp`), the plan table (:mod:`optimize.plan`), or the report of why
there is none (:mod:`optimize.shortfalls`).  An
infeasible problem is a result: the plan carries a report naming each (model, bucket) that
cannot be served and by how much.
"""
from __future__ import annotations

import time

import numpy as np
import xarray as xr
from omegaconf import DictConfig

from optimize.columns import candidate_columns
from optimize.constants import Phase, SolveStatus
from optimize.coverage import CoverageMatrix
from optimize.inputs import bucket_grid, column_options, demand_by_model, demand_rows, inventory_by_hardware
from optimize.milp import build_model, solve_model
from optimize.plan import FleetPlan, assign_solution
from optimize.pruning import prune_dominated
from optimize.shortfalls import inventory_shortfalls, no_column_shortfalls


def plan_fleet(cfg: DictConfig, prune: bool | None = None, grid: xr.Dataset | None = None) -> FleetPlan:
    """Cost-minimizing integer fleet for the config's demand (docs/model.md §5).

    Parameters
    ----------
    cfg
        Validated optimizer config.
    prune
        Override ``fleet.prune``.
    grid
        A precomputed :func:`optimize.inputs.bucket_grid` (else evaluated here).

    Returns
    -------
    FleetPlan
        Solved (``optimal`` or ``time_limit``), ``infeasible`` with its shortfall report, or
        ``no_solution`` when the solver stopped before finding a plan.

    Notes
    -----
    With ``fleet.disaggregation`` the plan may split a request: prefill on one replica, decode
    on another, the KV moved between them (:mod:`optimize.columns` has the capacities, the TTFT
    and the coupling rows).  Only the hardware on offer serves aggregated and decode columns;
    ``fleet.prefill_hardware`` may add hardware that only prefills.
    """
    fleet = cfg.fleet
    prune = fleet.prune if prune is None else prune
    grid = bucket_grid(cfg) if grid is None else grid
    demand = demand_by_model(cfg)
    rows = demand_rows(grid, demand)
    options = column_options(cfg, grid)
    candidates = candidate_columns(grid, rows, options)
    hardware = [str(h) for h in grid.hardware.values]
    inventory = inventory_by_hardware(cfg, hardware)
    cols = prune_dominated(candidates, ~np.isfinite(inventory)) if prune else candidates
    counts = {"columns": len(candidates), "pruned_columns": len(candidates) - len(cols)}
    kinds = {p.value: (int(candidates.phase(p).sum()), int(cols.phase(p).sum())) for p in Phase}

    # pairs no column serves make the problem infeasible before any solve
    missing = no_column_shortfalls(grid, demand, candidates, cfg, options)
    if len(missing):
        return FleetPlan.infeasible(shortfalls=missing, **counts, columns_by_phase=kinds)

    utilization = float(fleet.target_utilization)
    matrix = CoverageMatrix.of(cols, utilization, options.max_ttft[rows.model])
    cover = matrix.milp_rows(rows.requests_per_second)
    problem = {"cost": cols.cost_per_hour, "coverage": cover.coverage, "demand": cover.demand,
               "systems": cols.systems, "hardware": cols.hardware, "inventory": inventory, "flows": cover.flows}
    solver_options = {"time_limit": float(fleet.solver.time_limit_s), "mip_rel_gap": float(fleet.solver.mip_rel_gap),
                      "threads": fleet.solver.threads}

    start = time.perf_counter()
    milp = build_model(**problem)
    build_seconds = time.perf_counter() - start
    solution = solve_model(milp, **solver_options)
    timings = {"build_seconds": build_seconds, "solve_seconds": solution.solve_seconds}

    if solution.status == SolveStatus.infeasible:
        # only the inventory caps can make it infeasible now: the elastic solve measures the shortfall
        elastic = solve_model(build_model(**problem, elastic=True), **solver_options)
        shortfalls = inventory_shortfalls(elastic, cols, rows, grid, hardware, inventory, utilization)
        return FleetPlan.infeasible(shortfalls=shortfalls, **counts, **timings, columns_by_phase=kinds)
    if solution.status in (SolveStatus.no_solution, SolveStatus.unverified):
        return FleetPlan.no_solution(**counts, **timings, columns_by_phase=kinds, status=solution.status)
    assignment = assign_solution(solution.replicas, cols, matrix, rows, grid)
    return FleetPlan.solved(status=solution.status, assignment=assignment, mip_gap=solution.mip_gap,
                            **counts, **timings, columns_by_phase=kinds)
