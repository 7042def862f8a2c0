"""Replay a request trace through a planned fleet (SPEC §11): a discrete-event simulation with
SimPy that shows what users would see, per period.

**Replicas.** Each replica of the plan is simulated with the model's times for its cell:

- ``aggregated``: ``N`` slots (a request holds one from admission to its last token) and one
  prefill engine (FIFO): a request waits for a slot, then for the engine, which prefills it in
  ``prefill_time``; its first token follows, then ``O - 1`` more tokens at ``1 / interactivity``
  each (the cell's decode rate at full concurrency, prefill interference included: an upper
  bound of TPOT at lower occupancy);
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
    serving_of = {}
    prefill_of = {}
    for g in np.unique(fleet.group):
        mine = fleet.group == g
        serving_of[g] = np.flatnonzero(mine & (fleet.kind != PREFILL))
        prefill_of[g] = np.flatnonzero(mine & (fleet.kind == PREFILL))

    def alive(candidates: np.ndarray, t: int) -> np.ndarray:
        return candidates[((fleet.period[candidates] == -1) | (fleet.period[candidates] == t))
                          & up[candidates, min(t, up.shape[1] - 1)]]

    def slot_load(i: int) -> float:
        r = slots[i]
        return (r.count + len(r.queue)) / r.capacity

    def engine_load(i: int) -> int:
        r = engines[i]
        return r.count + len(r.queue)

    def serve(i: int, k: int):
        arrival, out = float(requests.arrival_s[k]), int(requests.output_tokens[k])
        t = int(requests.period[k])
        rep = int(i)
        if fleet.kind[rep] == AGGREGATED:
            with slots[rep].request() as slot:
                yield slot
                with engines[rep].request() as engine:
                    queued = env.now
                    yield engine
                    wait[k] = env.now - queued
                    yield env.timeout(fleet.prefill_busy_s[rep])
                    busy[rep] += fleet.prefill_busy_s[rep]
                ttft[k] = env.now - arrival
                yield env.timeout(max(out - 1, 0) * fleet.tpot_s[rep])
                tpot[k] = fleet.tpot_s[rep]
            return
        pre = alive(prefill_of.get(requests.group[k], np.zeros(0, dtype=np.int64)), t)
        if len(pre) == 0:
            return
        p = int(pre[np.argmin([engine_load(j) for j in pre])])
        with engines[p].request() as engine:
            queued = env.now
            yield engine
            wait[k] = env.now - queued
            start = env.now
            yield env.timeout(fleet.prefill_busy_s[p])
            busy[p] += fleet.prefill_busy_s[p]
        ready = start + fleet.prefill_latency_s[p]
        with slots[rep].request() as slot:
            yield slot
            yield env.timeout(max(ready - env.now, 0.0) + fleet.t_kv_s[rep])
            ttft[k] = env.now - arrival
            yield env.timeout(max(out - 1, 0) * fleet.tpot_s[rep])
            tpot[k] = fleet.tpot_s[rep]

    def arrivals():
        for k in range(n):
            delay = requests.arrival_s[k] - env.now
            if delay > 0:
                yield env.timeout(delay)
            t = int(requests.period[k])
            choices = alive(serving_of.get(requests.group[k], np.zeros(0, dtype=np.int64)), t)
            if len(choices) == 0:
                continue
            i = choices[np.argmin([slot_load(j) for j in choices])]
            env.process(serve(i, k))

    env.process(arrivals())
    env.run()
    out = pd.DataFrame({"period": requests.period, "group": requests.group, "ttft_s": ttft, "tpot_s": tpot,
                        "prefill_wait_s": wait})
    out.attrs["busy_s"] = busy
    return out


def md1_wait(rho: np.ndarray, service_s: np.ndarray) -> np.ndarray:
    """Mean wait in queue of M/D/1 (Pollaczek–Khinchine): ``rho s / (2 (1 - rho))``, inf at rho >= 1."""
    rho = np.asarray(rho, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(rho < 1, rho * np.asarray(service_s) / (2.0 * (1.0 - rho)), np.inf)


def summarize(result: pd.DataFrame, min_interactivity: np.ndarray, max_ttft_s: np.ndarray) -> pd.DataFrame:
    """Per period: requests, share meeting the SLA, TTFT and TPOT percentiles, mean prefill wait.

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
        row["prefill_wait_mean_s"] = float(np.nanmean(g.prefill_wait_s)) if g.served.any() else np.nan
        rows.append(row)
    return pd.DataFrame(rows)
