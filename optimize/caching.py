"""docs/model.md §12 in the fleet plan: the replica count h(C) is read at, the hit rates of the plan's rows,
and what prefix-aware routing is worth.

With ``workload.cache=trace`` each cell's cached share is h at its replica's cache capacity for
``workload.routing`` over ``workload.replicas`` replicas. The plan decides how many replicas
prefill a model's requests, so the job iterates: plan -> replica count -> h -> plan, until the
count repeats (at most :data:`ROUNDS` plans). One count serves all models (the config holds one
curve): the mean over the planned models of the replicas that prefill each model's requests
(aggregated and prefill rows), rounded. Under prefix-aware routing more replicas, each with its
own cache and a share of the sessions, serve more; under random routing more replicas dilute
every cache; at one replica the two routings are the same.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import xarray as xr
from omegaconf import DictConfig

from model.app import prefix
from model.app.config import with_values
from model.parameters import parameters
from model.prefix_cache import cell_cached_share, curve_for, replica_cache_tokens

ROUNDS = 4
PREFILLING = ("aggregated", "prefill")


def trace_mode(cfg: DictConfig) -> bool:
    """Whether the cached share comes from a trace (``workload.cache=trace``)."""
    cache = cfg.workload.get("cache", "mix")
    return str(getattr(cache, "value", cache)) == "trace"


def routing_of(cfg: DictConfig) -> str:
    """``workload.routing`` as a string."""
    return str(getattr(cfg.workload.routing, "value", cfg.workload.routing))


def prefilling_replicas(plan_table: pd.DataFrame) -> dict[str, int]:
    """Replicas that prefill each model's requests (aggregated and prefill rows)."""
    if plan_table is None or plan_table.empty:
        return {}
    rows = plan_table[plan_table.phase.isin(PREFILLING)]
    return {str(m): int(r) for m, r in rows.groupby("model", observed=True)["replicas"].sum().items()}


def plan_replicas(plan_table: pd.DataFrame, routing: str) -> int | None:
    """The one replica count h is read at (see the module docstring); None without a plan."""
    counts = prefilling_replicas(plan_table)
    if not counts:
        return None
    return max(1, int(round(float(np.mean(list(counts.values()))))))


def with_replicas(cfg: DictConfig, replicas: int, validate: Callable[[DictConfig], DictConfig],
                  routing: str | None = None) -> DictConfig:
    """``cfg`` with h read at ``replicas`` (and ``routing``, if given)."""
    values = {"workload.replicas": int(replicas),
              "workload.cache_curve": curve_for(prefix.trace_curve(cfg), int(replicas))}
    if routing is not None:
        values["workload.routing"] = routing
    return with_values(cfg, values, validate)


def settle(cfg: DictConfig, plan_of: Callable[[DictConfig], object],
           validate: Callable[[DictConfig], DictConfig]) -> tuple[DictConfig, object, list[int]]:
    """Plan, read the replica count off the plan, re-read h there, re-plan, until the count repeats.

    Returns the config with the settled count, its plan and the counts tried in order.
    """
    tried = [int(cfg.workload.replicas)]
    plan = plan_of(cfg)
    for _ in range(ROUNDS - 1):
        count = plan_replicas(plan.plan, routing_of(cfg))
        if count is None or count in tried:
            break
        tried.append(count)
        cfg = with_replicas(cfg, count, validate)
        plan = plan_of(cfg)
    return cfg, plan, tried


def row_hit_rates(cfg: DictConfig, plan_table: pd.DataFrame) -> pd.DataFrame:
    """Per prefilling row of a plan: the replica's cache capacity (tokens) and its cached share."""
    curve = cfg.workload.cache_curve
    routing = routing_of(cfg)
    rows = plan_table[plan_table.phase.isin(PREFILLING)].copy()
    if rows.empty:
        return rows.assign(cache_capacity_tokens=[], cached_share=[])
    isl = rows.bucket_isl.to_numpy(dtype=float)
    p = parameters(cfg, isl=xr.DataArray(isl, dims="row"),
                   concurrency=xr.DataArray(rows.concurrency.to_numpy(dtype=float), dims="row"))
    pick = {"model": xr.DataArray(rows.model.to_numpy(dtype=str), dims="row"),
            "hardware": xr.DataArray(rows.hardware.to_numpy(dtype=str), dims="row")}
    p = p.sel(pick)
    systems = xr.DataArray(rows.systems_per_replica.to_numpy(dtype=float), dims="row")
    capacity = replica_cache_tokens(p, systems)
    share = cell_cached_share(capacity, np.asarray(curve["capacity_tokens"]), np.asarray(curve[routing]))
    rows["cache_capacity_tokens"] = capacity.values
    rows["cached_share"] = share.values
    return rows


def hit_rate_text(cfg: DictConfig, plan_table: pd.DataFrame, tried: list[int]) -> str:
    """The plan's hit rates: per prefilling row, capacity per replica and the cached share."""
    rows = row_hit_rates(cfg, plan_table)
    routing = routing_of(cfg)
    mix = float(cfg.workload.mix.cache_read) / (1 - float(cfg.workload.mix.output))
    head = (f"Prefix-cache hit rates of the plan (workload.cache=trace, {routing.replace('_', '-')} routing, h read "
            f"at {int(cfg.workload.replicas)} replicas; replica counts tried: {' -> '.join(map(str, tried))}; "
            f"the mix's share would be {mix:.1%}):")
    lines = [head, f"{'model':<14} {'phase':<10} {'hardware':<14} {'N':>5} {'S':>4} {'replicas':>8} "
                   f"{'cache Mtok':>10} {'cached':>7}"]
    for _, r in rows.iterrows():
        lines.append(f"{r.model:<14} {r.phase:<10} {r.hardware:<14} {int(r.concurrency):>5} "
                     f"{int(r.systems_per_replica):>4} {int(r.replicas):>8} {r.cache_capacity_tokens / 1e6:>10.2f} "
                     f"{r.cached_share:>7.1%}")
    return "\n".join(lines)


def routing_text(routing: str, plan_cost: float | None, other: str, other_cost: float | None) -> str:
    """What prefix-aware routing is worth: the two plans' $/hour and their difference."""
    if plan_cost is None or other_cost is None:
        return (f"Routing: {routing} plan ${plan_cost}/hour, {other} plan ${other_cost}/hour "
                "(no difference: a plan is missing)")
    aware, rand = (plan_cost, other_cost) if routing == "prefix_aware" else (other_cost, plan_cost)
    return (f"Routing: prefix-aware routing is worth ${rand - aware:,.2f}/hour ({(rand - aware) / rand:.1%} of the "
            f"random-routing plan)\n  prefix-aware ${aware:,.2f}/hour, random ${rand:,.2f}/hour (docs/model.md §12)")
