"""The replay (docs/model.md §11): SimPy against a closed form, and the spot rule against spot losses."""
import numpy as np
import pytest

from optimize.milp import Coverage
from optimize.periods import DayProblem, solve_day
from optimize.replay import AGGREGATED, Fleet, Requests, md1_wait, simulate, summarize


def fleet_of(n, busy_s, slots=10_000, tpot_s=1e-3, availability=1.0):
    one = np.ones(n)
    return Fleet(group=np.zeros(n, dtype=np.int64), kind=np.full(n, AGGREGATED), slots=np.full(n, slots),
                 prefill_busy_s=busy_s * one, prefill_latency_s=busy_s * one, tpot_s=tpot_s * one,
                 t_kv_s=0 * one, spot_availability=availability * one, period=np.full(n, -1))


def poisson(rate, seconds, seed, outputs=2):
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1 / rate, int(rate * seconds * 1.2)))
    arrivals = arrivals[arrivals < seconds]
    n = len(arrivals)
    return Requests(arrival_s=arrivals, group=np.zeros(n, dtype=np.int64), output_tokens=np.full(n, outputs),
                    period=np.zeros(n, dtype=np.int64))


def test_replay_matches_md1_on_a_poisson_stream_at_low_load():
    # one engine, deterministic 1 s prefill, Poisson 0.3 req/s: M/D/1 wait rho s / (2 (1 - rho)) = 0.2143 s
    result = simulate(fleet_of(1, 1.0), poisson(0.3, 60_000, seed=1))
    wait = result.prefill_wait_s.to_numpy()
    expected = float(md1_wait(0.3, 1.0))
    assert expected == pytest.approx(0.3 / 1.4)
    batches = np.array([b.mean() for b in np.array_split(wait, 30)])  # batch means: the sampling error
    error = batches.std(ddof=1) / np.sqrt(len(batches))
    assert abs(wait.mean() - expected) < 4 * error
    assert error < 0.1 * expected
    # the engine's busy share is the offered load
    assert result.attrs["busy_s"][0] / 60_000 == pytest.approx(0.3, rel=0.03)


def spot_plan(spare):
    # one row: a reserved replica ($1/h) or a spot one ($0.3/h, up with probability 0.9), 10 req/s each, target
    # utilization 0.8, 20 req/s of demand.  Coefficients: reserved 10 x 0.8 = 8, spot 10 x 0.8 x 0.9 = 7.2.
    p = DayProblem(cost=np.array([1.0, 0.3]), periodic=np.array([False, True]), systems=np.ones(2),
                   hardware=np.zeros(2, dtype=np.int64), power_mw=np.zeros(2),
                   coverage=Coverage.one_row_per_column(np.zeros(2, dtype=np.int64), np.array([8.0, 7.2])),
                   rhs=np.array([[20.0]]), flows=0, hours=np.array([1.0]), inventory=np.array([np.inf]),
                   availability=np.array([1.0, 0.9]), spot_spare=spare)
    return solve_day(p).replicas[:, 0]


def test_spot_rule_worked_by_hand():
    # N+k with k = 2: 7.2 n - 2 x 10 x 0.8 >= 20 needs n = 5 spot ($1.5/h < 3 reserved, $3/h)
    assert spot_plan(2).tolist() == [0, 5]
    # without the spare: the expected capacity only, 7.2 n >= 20: n = 3
    assert spot_plan(0).tolist() == [0, 3]


def attainment_over_seeds(n_spot, seeds):
    requests = poisson(20.0, 300, seed=7)
    met = []
    for seed in seeds:
        result = simulate(fleet_of(n_spot, 0.1, availability=0.9), requests, seed=seed)
        met.append(float(summarize(result, np.array([100.0]), np.array([2.0])).sla_attainment.iloc[0]))
    return np.array(met)


def test_replay_keeps_the_sla_under_spot_loss_at_the_stated_rule():
    target = 0.99  # share of requests with TTFT <= 2 s and TPOT <= 10 ms
    seeds = range(40)
    ruled = attainment_over_seeds(spot_plan(2)[1], seeds)
    assert (ruled >= target).mean() >= 0.95
    # the expected capacity alone is not enough: losing one of three spot replicas overloads the other two
    naive = attainment_over_seeds(spot_plan(0)[1], seeds)
    assert (naive >= target).mean() < 0.95


def test_scaled_stream_keeps_each_periods_requests():
    import pandas as pd

    from optimize.replay import requests_of_trace
    arrivals = np.array([0.0, 5, 50, 100, 130, 170, 179])  # periods of 60 s: 3, 1, 3 requests
    buckets = np.array([0, 1, 0, 1, 0, 1, 1])
    groups = pd.DataFrame({"model": ["m", "m"], "bucket_isl": [10, 20]})
    kwargs = dict(bucket_isl=np.array([10, 20]), groups=groups, outputs={"m": 3}, period_s=60.0, n_periods=3)
    same = requests_of_trace(arrivals, buckets, scale={"m": 1.0}, seed=3, **kwargs)
    assert same.arrival_s.tolist() == arrivals.tolist() and same.group.tolist() == buckets.tolist()
    double = requests_of_trace(arrivals, buckets, scale={"m": 2.0}, seed=3, **kwargs)
    assert np.bincount(double.period).tolist() == [6, 2, 6]          # every period doubled, no request moved out
    assert np.bincount(double.group).tolist() == [6, 8]              # and its ISL mix kept
    assert (np.diff(double.arrival_s) >= 0).all() and (double.output_tokens == 3).all()
