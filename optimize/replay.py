"""Replay a request trace through a planned fleet (docs/model.md §11): a discrete-event simulation with
SimPy that shows what users would see, per period.

**Replicas.** Each replica of the plan is simulated with the model's times for its cell:

- ``aggregated``: ``N`` slots (a request holds one from admission to its last token) and one
  prefill engine (FIFO): a request waits for a slot, then for the engine, which it holds for its
  busy time ``1 / prefill_capacity`` (a replica that prefills N at once is one engine N times as
  fast, as in the plan's M/D/1); its first token comes ``prefill_time`` after it starts, then
  ``O - 1`` more tokens at ``1 / interactivity`` each (the cell's decode rate at full
  concurrency, prefill interference included: an upper bound of TPOT at lower occupancy);
- ``prefill`` (disaggregated): one engine (FIFO) that takes ``1 / capacity`` per request (its busy
  time); the request's first token comes ``prefill_time + t_kv`` after it starts;
- ``decode``: ``N`` slots; a request holds one for ``t_kv`` and ``O`` steps of ``step_time``.

**Router.** Least loaded: a request goes to the serving replica of its (model, ISL bucket) with
the fewest requests in flight or waiting per slot (aggregated and decode replicas compete), and a
disaggregated request to the prefill replica with the fewest requests at its engine.

**Spot.** In each period each spot replica is up with probability ``spot_availability``, drawn
once per period and seed; a replica that is down takes no requests that period.

**SLA.** A request meets it when its TPOT (time per output token after the first) is at most
``1 / min_interactivity`` and, where a TTFT limit is given, its TTFT is at most that limit.

**The plan's formulas, checked.** Per period the replay's mean prefill-queue wait is set beside
the Pollaczek–Khinchine wait of an M/D/1 queue at the utilization the replay measured,
``W = rho s / (2 (1 - rho))``, and the engines' measured busy share beside the plan's utilization.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import simpy

AGGREGATED, PREFILL, DECODE = 0, 1, 2
KINDS = {"aggregated": AGGREGATED, "prefill": PREFILL, "decode": DECODE}
PERCENTILES = (50, 90, 99)


@dataclass(frozen=True)
class Fleet:
    """Replicas to simulate, one entry each.

    Attributes
    ----------
    group
        Demand group (model, ISL bucket) the replica serves.
    kind
        :data:`AGGREGATED`, :data:`PREFILL` or :data:`DECODE`.
    slots
        Requests in flight at most (aggregated, decode); 0 for prefill.
    prefill_busy_s
        Seconds the engine is busy per request (aggregated: ``prefill_time``; prefill:
        ``1 / capacity``).
    prefill_latency_s
        Seconds from engine start to the first token (aggregated: ``prefill_time``; prefill:
        ``prefill_time + t_kv``).
    tpot_s
        Seconds per output token (aggregated: ``1 / interactivity``; decode: ``step_time``).
    t_kv_s
        Decode: seconds a slot waits for the KV (0 otherwise).
    spot_availability
        Probability the replica is up in a period (1 unless spot).
    period
        Period the replica is bought for (-1: every period, reserved).
    """

    group: np.ndarray
    kind: np.ndarray
    slots: np.ndarray
    prefill_busy_s: np.ndarray
    prefill_latency_s: np.ndarray
    tpot_s: np.ndarray
    t_kv_s: np.ndarray
    spot_availability: np.ndarray
    period: np.ndarray

    def __len__(self) -> int:
        return len(self.group)


@dataclass(frozen=True)
class Requests:
    """Requests in arrival order: arrival (s), group, output tokens, period."""

    arrival_s: np.ndarray
    group: np.ndarray
    output_tokens: np.ndarray
    period: np.ndarray


def simulate(fleet: Fleet, requests: Requests, seed: int = 0) -> pd.DataFrame:
    """Replay ``requests`` through ``fleet`` (module docstring); one row per request.

    Parameters
    ----------
    fleet
        The replicas, each with its period (-1: all periods).
    requests
        The requests, sorted by arrival.
    seed
        Seed of the spot draws.

    Returns
    -------
    pandas.DataFrame
        ``period``, ``group``, ``ttft_s``, ``tpot_s``, ``prefill_wait_s`` (NaN where a request
        found no replica up) and per replica its busy seconds in ``DataFrame.attrs["busy_s"]``.
    """
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    n_periods = int(requests.period.max()) + 1 if len(requests.period) else 0
    up = np.ones((len(fleet), max(n_periods, 1)), dtype=bool)
    spot = fleet.spot_availability < 1
    if spot.any():
        up[spot] = rng.random((int(spot.sum()), up.shape[1])) < fleet.spot_availability[spot, None]
    slots = [simpy.Resource(env, capacity=int(s)) if s > 0 else None for s in fleet.slots]
    engines = [simpy.Resource(env, capacity=1) if k != DECODE else None for k in fleet.kind]
    busy = np.zeros(len(fleet))
    n = len(requests.arrival_s)
    ttft, tpot, wait = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    service = np.full(n, np.nan)
    serving_of = {}
    prefill_of = {}
    for g in np.unique(fleet.group):
        mine = fleet.group == g
        serving_of[g] = np.flatnonzero(mine & (fleet.kind != PREFILL))
        prefill_of[g] = np.flatnonzero(mine & (fleet.kind == PREFILL))

    def alive(candidates: np.ndarray, t: int) -> np.ndarray:
        return candidates[((fleet.period[candidates] == -1) | (fleet.period[candidates] == t))
                          & up[candidates, min(t, up.shape[1] - 1)]]

    # requests routed to each replica and not finished (a burst of simultaneous arrivals spreads)
    in_flight = np.zeros(len(fleet))
    at_engine = np.zeros(len(fleet))
    per_slot = 1.0 / np.maximum(fleet.slots, 1)

    def prefill(p: int, k: int):
        """Request k waits for replica p's prefill engine and holds it for its busy time; the
        engine's start time is the generator's value."""
        with engines[p].request() as engine:
            queued = env.now
            yield engine
            wait[k] = env.now - queued
            start = env.now
            yield env.timeout(fleet.prefill_busy_s[p])
            busy[p] += fleet.prefill_busy_s[p]
            service[k] = fleet.prefill_busy_s[p]
        return start

    def serve(i: int, k: int):
        arrival, out = float(requests.arrival_s[k]), int(requests.output_tokens[k])
        t = int(requests.period[k])
        rep = int(i)
        if fleet.kind[rep] == AGGREGATED:
            with slots[rep].request() as slot:
                yield slot
                start = yield from prefill(rep, k)
                yield env.timeout(max(start + fleet.prefill_latency_s[rep] - env.now, 0.0))
                ttft[k] = env.now - arrival
                yield env.timeout(max(out - 1, 0) * fleet.tpot_s[rep])
                tpot[k] = fleet.tpot_s[rep]
            return
        pre = alive(prefill_of.get(requests.group[k], np.zeros(0, dtype=np.int64)), t)
        if len(pre) == 0:
            return
        p = int(pre[np.argmin(at_engine[pre])])
        at_engine[p] += 1
        start = yield from prefill(p, k)
        at_engine[p] -= 1
        ready = start + fleet.prefill_latency_s[p]
        with slots[rep].request() as slot:
            yield slot
            yield env.timeout(max(ready - env.now, 0.0) + fleet.t_kv_s[rep])
            ttft[k] = env.now - arrival
            yield env.timeout(max(out - 1, 0) * fleet.tpot_s[rep])
            tpot[k] = fleet.tpot_s[rep]

    def finish(i: int, process):
        yield env.process(process)
        in_flight[i] -= 1

    def arrivals():
        for k in range(n):
            delay = requests.arrival_s[k] - env.now
            if delay > 0:
                yield env.timeout(delay)
            t = int(requests.period[k])
            choices = alive(serving_of.get(requests.group[k], np.zeros(0, dtype=np.int64)), t)
            if len(choices) == 0:
                continue
            i = choices[np.argmin(in_flight[choices] * per_slot[choices])]
            in_flight[i] += 1
            env.process(finish(i, serve(i, k)))

    env.process(arrivals())
    env.run()
    out = pd.DataFrame({"period": requests.period, "group": requests.group, "ttft_s": ttft, "tpot_s": tpot,
                        "prefill_wait_s": wait, "prefill_busy_s": service})
    out.attrs["busy_s"] = busy
    return out


def md1_wait(rho: np.ndarray, service_s: np.ndarray) -> np.ndarray:
    """Mean wait in queue of M/D/1 (Pollaczek–Khinchine): ``rho s / (2 (1 - rho))``, inf at rho >= 1."""
    rho = np.asarray(rho, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(rho < 1, rho * np.asarray(service_s) / (2.0 * (1.0 - rho)), np.inf)


def summarize(result: pd.DataFrame, min_interactivity: np.ndarray, max_ttft_s: np.ndarray) -> pd.DataFrame:
    """Per period: requests, served requests, share meeting the SLA, TTFT and TPOT percentiles.

    Parameters
    ----------
    result
        :func:`simulate`'s table.
    min_interactivity, max_ttft_s
        Per group: the SLA's tok/s and TTFT limit (inf: none).
    """
    tpot_limit = 1.0 / np.asarray(min_interactivity, dtype=float)[result.group.to_numpy()]
    ttft_limit = np.asarray(max_ttft_s, dtype=float)[result.group.to_numpy()]
    served = result.ttft_s.notna().to_numpy()
    meets = served & (result.tpot_s.to_numpy() <= tpot_limit * (1 + 1e-12)) & (result.ttft_s.to_numpy() <= ttft_limit)
    frame = result.assign(meets=meets, served=served)
    rows = []
    for t, g in frame.groupby("period"):
        row = {"period": int(t), "requests": len(g), "served": int(g.served.sum()),
               "sla_attainment": float(g.meets.mean())}
        for q in PERCENTILES:
            row[f"ttft_p{q}_s"] = float(np.nanpercentile(g.ttft_s, q)) if g.served.any() else np.nan
            row[f"tpot_p{q}_s"] = float(np.nanpercentile(g.tpot_s, q)) if g.served.any() else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def fleet_of_plan(plan: pd.DataFrame, availability: dict[str, float]) -> tuple[Fleet, pd.DataFrame]:
    """The replicas of a day plan (:func:`optimize.day.plan_day`'s table) and the groups they serve.

    Reserved rows are taken once (period -1: every period); on-demand and spot rows in their
    period.  A prefill replica's engine takes ``1 / rate`` per request, its rate its row's
    ``capacity_rps / replicas`` (spot: over its availability, the true rate).

    Parameters
    ----------
    plan
        The day plan table.
    availability
        ``spot_availability`` per hardware (spot rows).

    Returns
    -------
    tuple
        The :class:`Fleet` and a table of groups (``model``, ``bucket_isl``) in group order.
    """
    first = plan.period == plan.period.min()
    rows = plan[(plan.tier != "reserved") | first].reset_index(drop=True)
    groups = rows[["model", "bucket_isl"]].drop_duplicates().sort_values(["model", "bucket_isl"])
    groups = groups.reset_index(drop=True)
    key = {(m, b): i for i, (m, b) in enumerate(zip(groups.model, groups.bucket_isl))}
    count = rows.replicas.to_numpy().astype(np.int64)
    take = np.repeat(np.arange(len(rows)), count)
    r = rows.iloc[take].reset_index(drop=True)
    kind = r.phase.map(KINDS).to_numpy()
    spot = (r.tier == "spot").to_numpy()
    avail = np.where(spot, r.hardware.map(lambda h: availability.get(h, 1.0)).to_numpy(dtype=float), 1.0)
    rate = r.capacity_rps.to_numpy() / r.replicas.to_numpy() / avail
    t_kv = np.nan_to_num(r.t_kv_s.to_numpy(dtype=float))
    prefill_time = r.prefill_time_s.to_numpy(dtype=float)
    busy = np.where(kind == PREFILL, 1.0 / rate, r.prefill_busy_s.to_numpy(dtype=float))
    latency = np.where(kind == PREFILL, prefill_time + t_kv, prefill_time)
    with np.errstate(divide="ignore"):
        tpot = np.where(kind == PREFILL, np.nan, 1.0 / r.interactivity.to_numpy(dtype=float))
    fleet = Fleet(group=np.array([key[(m, b)] for m, b in zip(r.model, r.bucket_isl)], dtype=np.int64),
                  kind=kind, slots=np.where(kind == PREFILL, 0, r.concurrency.to_numpy()).astype(np.int64),
                  prefill_busy_s=busy, prefill_latency_s=latency, tpot_s=tpot,
                  t_kv_s=np.where(kind == DECODE, t_kv, 0.0), spot_availability=avail,
                  period=np.where(r.tier == "reserved", -1, r.period).astype(np.int64))
    return fleet, groups


def requests_of_trace(arrival_s: np.ndarray, bucket_of_request: np.ndarray, bucket_isl: np.ndarray,
                      scale: dict[str, float], groups: pd.DataFrame, outputs: dict[str, int], period_s: float,
                      n_periods: int, seed: int = 0) -> Requests:
    """Each model's request stream from one trace: the trace's arrivals and ISL buckets, scaled to
    the model's rate by superposing ``ceil(s)`` copies of the trace, each shifted by a uniform
    random offset (circularly over the trace) and thinned to ``s / ceil(s)``; output tokens the
    cell's OSL (the plan's own workload).

    Parameters
    ----------
    arrival_s, bucket_of_request
        The trace's arrivals (s) and each request's ISL bucket.
    bucket_isl
        ISL of each bucket.
    scale
        Per model: its rate over the trace's.
    groups
        The fleet's groups (:func:`fleet_of_plan`); requests of a group no replica serves are dropped.
    outputs
        Per model: output tokens per request.
    period_s
        Seconds per period.
    n_periods
        Periods of the plan.
    seed
        Seed of the offsets and the thinning.
    """
    rng = np.random.default_rng(seed)
    span = float(arrival_s[-1]) + 1e-9 if len(arrival_s) else 1.0
    start = np.minimum(arrival_s // period_s, n_periods - 1) * period_s  # each arrival's period start
    length = np.minimum(start + period_s, span) - start
    key = {(m, int(b)): i for i, (m, b) in enumerate(zip(groups.model, groups.bucket_isl))}
    parts = []
    for model, s in scale.items():
        copies = int(np.ceil(s))
        for c in range(copies):
            # shifted within its own period (circularly), so each period keeps its requests and ISL mix
            shift = rng.uniform(0, period_s) if c else 0.0
            shifted = start + (arrival_s - start + shift) % length
            keep = rng.random(len(arrival_s)) < s / copies
            g = np.array([key.get((model, int(bucket_isl[b])), -1) for b in bucket_of_request[keep]])
            parts.append(pd.DataFrame({"arrival_s": shifted[keep], "group": g, "output": outputs[model]}))
    frame = pd.concat(parts, ignore_index=True)
    frame = frame[frame.group >= 0].sort_values("arrival_s", kind="stable")
    period = np.minimum((frame.arrival_s.to_numpy() // period_s).astype(np.int64), n_periods - 1)
    return Requests(arrival_s=frame.arrival_s.to_numpy(), group=frame.group.to_numpy(dtype=np.int64),
                    output_tokens=frame.output.to_numpy(dtype=np.int64), period=period)


def compare(result: pd.DataFrame, fleet: Fleet, plan: pd.DataFrame, period_s: np.ndarray) -> pd.DataFrame:
    """Per period, the plan's queueing numbers beside the replay's: the engines' utilization
    (measured busy share against the plan's: each row's load x busy time per request over its
    engines), the mean prefill wait (measured
    against M/D/1 at the measured utilization) and the mean TTFT (measured against the plan's
    ``ttft_s``, weighted by each row's load)."""
    rows = []
    for t, g in result.groupby("period"):
        served = g[g.ttft_s.notna()]
        alive = ((fleet.period == -1) | (fleet.period == t)) & (fleet.kind != DECODE)
        engines = max(int(alive.sum()), 1)
        busy = float(served.prefill_busy_s.sum())
        rho = busy / (engines * float(period_s[int(t)]))
        service = float(served.prefill_busy_s.mean()) if len(served) else np.nan
        # the plan's engine busy share: each row's load times its busy time per request, over its engines
        p = plan[(plan.period == t) & (plan.phase != "decode")]
        per_request = np.where(p.phase == "prefill", p.replicas / p.capacity_rps, p.prefill_busy_s)
        planned_rho = float((p.load_rps * per_request).sum() / p.replicas.sum()) if p.replicas.sum() else np.nan
        serving = plan[(plan.period == t) & (plan.phase != "prefill")]
        weight = serving.load_rps.to_numpy()
        planned_ttft = float(np.average(serving.ttft_s, weights=weight)) if weight.sum() > 0 else np.nan
        rows.append({"period": int(t), "engine_utilization": rho, "plan_utilization": planned_rho,
                     "prefill_wait_mean_s": float(served.prefill_wait_s.mean()) if len(served) else np.nan,
                     "md1_wait_s": float(md1_wait(rho, service)), "ttft_mean_s": float(served.ttft_s.mean()),
                     "plan_ttft_s": planned_ttft})
    return pd.DataFrame(rows)
