"""Fleets over a day (docs/model.md §11): demand profiles, capacity tiers, the MILP over periods, the power cap."""
import itertools

import numpy as np
import pandas as pd
import pytest

import optimize
from model.errors import ConfigError
from model.trace import Trace
from optimize import plan_fleet
from optimize.constants import SolveStatus
from optimize.day import plan_day
from optimize.demand import demand_profile, diurnal_factor, minute_burst, trace_buckets
from optimize.inputs import demand_by_model, isl_buckets
from optimize.milp import Coverage
from optimize.periods import DayProblem, least_power, solve_day

DAY_ONLY = ["period", "period_start_h", "tier", "prefill_time_s", "prefill_busy_s", "osl"]


def one_row_problem(capacity, cost, periodic, demand, hours, power_mw=None, power_cap=None):
    """One demand row served by offers of capacity ``capacity`` (requests/s per replica)."""
    n = len(cost)
    return DayProblem(cost=np.asarray(cost, float), periodic=np.asarray(periodic, bool), systems=np.ones(n),
                      hardware=np.zeros(n, dtype=np.int64),
                      power_mw=np.zeros(n) if power_mw is None else np.asarray(power_mw, float),
                      coverage=Coverage.one_row_per_column(np.zeros(n, dtype=np.int64), capacity),
                      rhs=np.asarray(demand, float)[None, :], flows=0, hours=np.asarray(hours, float),
                      inventory=np.array([np.inf]), power_cap_mw=power_cap)


# -- the MILP over periods -------------------------------------------------------------------------

def test_two_periods_reserved_base_is_the_trough_when_on_demand_is_cheaper_for_the_peak():
    # One configuration, 1 request/s per replica; 12 h at 2 req/s (trough), 12 h at 5 req/s (peak).
    # Reserved $1/h for 24 h = $24 per replica; on-demand $1.5/h, a peak-only replica costs 12 x 1.5 = $18.
    # k reserved: 24 k + 18 (max(0, 2 - k) + max(0, 5 - k)): k = 2 gives 48 + 54 = $102 (k = 3: $108).
    p = one_row_problem(capacity=[1.0, 1.0], cost=[1.0, 1.5], periodic=[False, True], demand=[2, 5], hours=[12, 12])
    s = solve_day(p)
    assert s.solution.status == SolveStatus.optimal
    assert s.replicas[0].tolist() == [2, 2]          # the reserved base = the trough
    assert s.replicas[1].tolist() == [0, 3]          # on-demand covers the peak
    assert s.solution.objective == pytest.approx(102.0)


def test_two_periods_all_reserved_when_the_reserved_discount_pays_for_the_peak_too():
    # On-demand $2.5/h: a peak-only replica costs 12 x 2.5 = $30 > $24 reserved, so reserve the peak: 5 x 24 = $120.
    p = one_row_problem(capacity=[1.0, 1.0], cost=[1.0, 2.5], periodic=[False, True], demand=[2, 5], hours=[12, 12])
    s = solve_day(p)
    assert s.replicas[0].tolist() == [5, 5] and s.replicas[1].tolist() == [0, 0]
    assert s.solution.objective == pytest.approx(120.0)


def brute_force(p: DayProblem, top: int):
    """Least cost by enumeration: every reserved vector, then each period's periodic vector alone."""
    res, per = np.flatnonzero(~p.periodic), np.flatnonzero(p.periodic)
    cap = p.coverage.coefficient
    horizon = p.hours.sum()
    best = np.inf
    periodic_choices = np.array(list(itertools.product(range(top + 1), repeat=len(per))))
    for r in itertools.product(range(top + 1), repeat=len(res)):
        r = np.array(r)
        total = horizon * float(p.cost[res] @ r)
        for t in range(p.periods):
            served = cap[res] @ r + periodic_choices @ cap[per]
            power = p.power_mw[res] @ r + periodic_choices @ p.power_mw[per]
            ok = served >= p.rhs[0, t] - 1e-9
            if p.power_cap_mw is not None:
                ok &= power <= p.power_cap_mw + 1e-9
            if not ok.any():
                total = np.inf
                break
            total += p.hours[t] * float((periodic_choices[ok] @ p.cost[per]).min())
        best = min(best, total)
    return best


@pytest.mark.parametrize("seed", range(10))
def test_random_small_instances_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    n_res, n_per, n_t = rng.integers(1, 3), rng.integers(1, 3), rng.integers(2, 4)
    capacity = rng.uniform(0.5, 3.0, n_res + n_per)
    cost = rng.uniform(1.0, 4.0, n_res + n_per)
    periodic = np.r_[np.zeros(n_res, bool), np.ones(n_per, bool)]
    demand = rng.uniform(0.5, 6.0, n_t)
    hours = rng.uniform(1.0, 12.0, n_t)
    power = rng.uniform(0.1, 1.0, n_res + n_per)
    cap = float(rng.uniform(2.0, 6.0)) if seed % 3 == 0 else None
    top = 6
    p = one_row_problem(capacity, cost, periodic, demand, hours, power, cap)
    expected = brute_force(p, top)
    s = solve_day(p)
    # the enumeration's bound (top replicas per offer) is not binding: every demand <= 6 is met by 6 x 0.5 ... or
    # fewer, so any optimum with more replicas would cost more than one within the bound
    if np.isfinite(expected):
        assert s.solution.status == SolveStatus.optimal
        assert s.solution.objective == pytest.approx(expected, rel=1e-6)
    else:
        assert s.solution.status == SolveStatus.infeasible or s.solution.objective > expected


def _least_power(p: DayProblem):
    one_block = np.zeros(len(p.cost), dtype=np.int64)
    return least_power(p, one_block, np.zeros(0, dtype=np.int64), np.zeros(p.rhs.shape[0], dtype=np.int64))


def test_least_power_is_each_periods_own_need_where_the_reserved_count_is_shared():
    """One row, 1 request/s and 1 MW per replica, demand 2 then 5 requests/s, a 3 MW cap.  With a
    reserved-only offer (the owned wafer) a day plan holds 5 replicas all day, so the joint elastic
    solve puts 2 MW over the cap in both periods; yet the first period alone needs only 2 MW (within
    the cap) and the second 5 MW: "needs at least" is [2, 5] MW, excess [0, 2] MW.  With an
    on-demand offer of the same power beside it, the joint solve agrees: [0, 2]."""
    reserved_only = one_row_problem([1.0], [1.0], [False], [2, 5], [12, 12], power_mw=[1.0], power_cap=3.0)
    assert solve_day(reserved_only).solution.status == SolveStatus.infeasible
    joint = solve_day(reserved_only, elastic=True)
    assert joint.power_excess.tolist() == pytest.approx([2.0, 2.0])
    least = _least_power(reserved_only)
    assert least.power_excess.tolist() == pytest.approx([0.0, 2.0])
    assert (reserved_only.power_mw @ least.replicas).tolist() == pytest.approx([2.0, 5.0])
    both = one_row_problem([1.0, 1.0], [1.0, 1.5], [False, True], [2, 5], [12, 12], power_mw=[1.0, 1.0],
                           power_cap=3.0)
    assert solve_day(both, elastic=True).power_excess.tolist() == pytest.approx([0.0, 2.0])
    assert _least_power(both).power_excess.tolist() == pytest.approx([0.0, 2.0])


@pytest.mark.parametrize("seed", range(6))
def test_least_power_matches_brute_force(seed):
    """Each period's least power, by enumeration of every replica vector (0..12 per offer: a least
    vector never holds more of one offer than covers the demand, <= 6 requests/s, alone, and a
    replica serves >= 0.5): random capacities and powers, the offers bought per period."""
    rng = np.random.default_rng(100 + seed)
    n, n_t = int(rng.integers(2, 4)), int(rng.integers(2, 4))
    capacity, power = rng.uniform(0.5, 3.0, n), rng.uniform(0.1, 1.0, n)
    demand = rng.uniform(0.5, 6.0, n_t)
    p = one_row_problem(capacity, rng.uniform(1.0, 4.0, n), rng.random(n) < 0.5, demand, np.ones(n_t), power, 0.5)
    choices = np.array(list(itertools.product(range(13), repeat=n)))
    expected = [float((choices @ power)[choices @ capacity >= d - 1e-9].min()) for d in demand]
    assert _least_power(p).power_excess.tolist() == pytest.approx([max(e - 0.5, 0.0) for e in expected], rel=1e-6)


# -- demand profiles ------------------------------------------------------------------------------

def test_diurnal_curve_keeps_the_mean_and_has_the_stated_peak_to_trough():
    f = diurnal_factor(np.array([3.0, 1.0]), np.array([14.0, 0.0]))
    assert f.shape == (2, 24)
    assert f.mean(axis=1) == pytest.approx([1.0, 1.0])
    assert f[0, 14] == pytest.approx(1.5) and f[0, 2] == pytest.approx(0.5)   # a = (3 - 1) / (3 + 1)
    assert f[0].max() / f[0].min() == pytest.approx(3.0)
    assert f[1] == pytest.approx(np.ones(24))


def test_minute_burst_worked_by_hand():
    # two whole minutes: 2 then 6 arrivals; mean 8 / 120 s = 4/60 per s; P99 of (2/60, 6/60) = (2 + 0.99 x 4) / 60
    arrivals = np.r_[np.linspace(1, 50, 2), np.linspace(61, 110, 6)]
    assert minute_burst(arrivals, 0.0, 120.0) == pytest.approx((2 + 0.99 * 4) / 4)
    assert minute_burst(np.linspace(0, 119, 120), 0.0, 120.0) == pytest.approx(1.0)  # a steady stream


def test_trace_buckets_are_equal_count_at_their_median():
    bucket, isl = trace_buckets(np.array([10, 40, 20, 30, 1000, 2000]), 3)
    assert bucket.tolist() == [0, 1, 0, 1, 2, 2]
    assert isl.tolist() == [15, 35, 1500]


def test_trace_profile_cuts_periods_and_scales_to_the_demand(ocfg):
    from model.app.config import with_values
    cfg = with_values(ocfg, {"fleet.demand_profile": "trace", "fleet.trace": "unused", "fleet.period_s": 120,
                             "fleet.isl.buckets": 2}, optimize.validate)
    # 120 s periods: 4 requests in the first (ISL 100, 100, 5000, 5000), 2 in the second (ISL 100, 5000)
    trace = Trace(arrival_s=np.array([0.0, 10, 70, 100, 130, 240]), input_tokens=np.array([100, 100, 5000, 5000,
                                                                                           100, 5000]),
                  output_tokens=np.ones(6, dtype=np.int64), source="hand")
    isl, weight = isl_buckets(cfg)
    profile = demand_profile(cfg, demand_by_model(cfg), isl, weight, trace)
    assert profile.sizes["period"] == 2 and profile.bucket_isl.values.tolist() == [100, 5000]
    assert profile.period_hours.values * 3600 == pytest.approx([120, 120])
    # trace mean 6 / 240 s; each model's mean demand 10 req/s: scale 10 / (6 / 240) = 400
    first = profile.demand.sel(model="gpt_oss_120b").isel(period=0).values
    assert first == pytest.approx([400 * 2 / 120, 400 * 2 / 120])
    second = profile.demand.sel(model="gpt_oss_120b").isel(period=1).values
    assert second == pytest.approx([400 * 1 / 120, 400 * 1 / 120])
    # mean over the horizon is the configured demand
    total = (profile.demand.sum("bucket") * profile.period_hours).sum("period") / profile.period_hours.sum()
    assert total.values == pytest.approx(np.full(profile.sizes["model"], 10.0))


# -- the day plan on the catalog --------------------------------------------------------------------

def test_constant_profile_reproduces_todays_plan_exactly(ocfg):
    today = plan_fleet(ocfg)
    day = plan_day(ocfg, baselines=False)
    assert day.status == today.status == SolveStatus.optimal
    assert (day.plan.tier == "reserved").all() and (day.plan.period == 0).all()
    pd.testing.assert_frame_equal(day.plan.drop(columns=DAY_ONLY), today.plan)
    assert day.totals["cost_per_day"] == pytest.approx(24 * today.totals.cost_per_hour, rel=1e-12)


def test_power_cap_below_the_plans_draw_reports_power_cap_binding_with_the_shortfall(ocfg):
    from model.app.config import with_values
    free = plan_day(ocfg, baselines=False)
    draw = free.totals["peak_power_mw"]
    capped = plan_day(with_values(ocfg, {"fleet.power_cap_mw": 0.5 * draw}, optimize.validate), baselines=False)
    # at the default SLA only the wafer decodes fast enough: no cheaper-in-power hardware to switch to
    assert capped.status == SolveStatus.infeasible
    assert set(capped.shortfalls.constraint) == {"power_cap"}
    short = float(capped.shortfalls.shortfall.max())
    assert 0 < short <= draw - 0.5 * draw + 1e-9   # the least extra MW is at most the free plan's excess


def test_a_floor_from_a_solve_stopped_at_its_time_limit_is_flagged(ocfg, monkeypatch):
    """gpt-oss-120b alone draws ~0.06 MW at the wall: under a 0.03 MW cap there is no plan.  Its
    floors come from a proven least-power solve (no note); read off a solve stopped at its time
    limit they are not proven, and the report says so."""
    from dataclasses import replace

    import optimize.day as day_module
    from model.app.config import with_values
    cfg = with_values(ocfg, {"select.models": ["gpt_oss_120b"], "fleet.power_cap_mw": 0.03}, optimize.validate)
    proven = plan_day(cfg, baselines=False)
    assert proven.status == SolveStatus.infeasible and set(proven.shortfalls.constraint) == {"power_cap"}
    assert proven.notes == ()
    real = day_module.least_power

    def stopped(*args, **kwargs):
        solved = real(*args, **kwargs)
        return replace(solved, solution=replace(solved.solution, status=SolveStatus.time_limit))

    monkeypatch.setattr(day_module, "least_power", stopped)
    unproven = plan_day(cfg, baselines=False)
    pd.testing.assert_frame_equal(unproven.shortfalls, proven.shortfalls)
    assert len(unproven.notes) == 1 and "time limit" in unproven.notes[0] and "overstate the need" in unproven.notes[0]


def test_power_cap_changes_the_hardware_when_another_serves_within_it(ocfg):
    from model.app.config import with_values
    # ISL 8k, SLA 30 tok/s: one B200 serves 20 req/s of gpt-oss-120b cheapest (1.3 kW at the wall); an MI355X
    # (0.896 kW at the wall, measured avg_power_w) serves it too at $0.02/h more
    cfg = with_values(ocfg, {"sla.min_interactivity": 30, "workload.isl": 8000, "select.models": ["gpt_oss_120b"],
                             "select.hardware": ["b200", "h100_sxm", "mi355x"], "fleet.demand_default": 20},
                      optimize.validate)
    free = plan_day(cfg, baselines=False)
    draw = free.totals["peak_power_mw"]
    capped = plan_day(with_values(cfg, {"fleet.power_cap_mw": 0.9 * draw}, optimize.validate), baselines=False)
    assert capped.solved
    assert capped.totals["peak_power_mw"] <= 0.9 * draw + 1e-9
    assert capped.totals["cost_per_day"] >= free.totals["cost_per_day"] - 1e-6
    assert set(free.plan.hardware) == {"b200"} and set(capped.plan.hardware) == {"mi355x"}


def test_spot_at_availability_one_is_cheap_on_demand(ocfg):
    from model.app.config import with_values
    base = {"fleet.demand_profile": "diurnal", "fleet.diurnal.peak_to_trough": 3.0}
    spot = plan_day(with_values(ocfg, {**base, "fleet.tiers": ["reserved", "spot"],
                                       "hardware.b200.spot_availability": 1.0,
                                       "hardware.b200.spot_price_per_hour": 1.9}, optimize.validate),
                    baselines=False)
    cheap = plan_day(with_values(ocfg, {**base, "fleet.tiers": ["reserved", "on_demand"],
                                        "hardware.b200.on_demand_price_per_hour": 1.9}, optimize.validate),
                     baselines=False)
    assert spot.totals["cost_per_day"] == pytest.approx(cheap.totals["cost_per_day"], rel=1e-9)
    assert (spot.plan.tier == "spot").any()
    a = spot.plan.assign(tier=spot.plan.tier.replace("spot", "on_demand")).drop(columns=["tier"])
    pd.testing.assert_frame_equal(a, cheap.plan.drop(columns=["tier"]))


def test_diurnal_plan_saves_against_the_peak_at_on_demand(ocfg):
    from model.app.config import with_values
    day = plan_day(with_values(ocfg, {"fleet.demand_profile": "diurnal"}, optimize.validate))
    t = day.totals
    assert day.periods.sizes["period"] == 24
    assert t["saving_vs_peak_on_demand"] > 0 and t["saving_vs_all_on_demand"] >= -1e-6
    # every period's demand x burst is covered and nothing is bought twice: the cost adds up
    assert t["cost_per_day"] == pytest.approx(float(day.periods.cost_per_hour.sum()), rel=1e-9)
    for v in day.periods.data_vars.values():
        assert v.attrs["units"] is not None and v.attrs["long_name"]


@pytest.mark.parametrize("override, key", [
    ("fleet.burst=0.5", "fleet.burst"), ("fleet.pue=0.9", "fleet.pue"),
    ("fleet.diurnal.peak_hour=24", "fleet.diurnal.peak_hour"), ("fleet.demand_profile=trace", "fleet.trace"),
    ("fleet.tiers=[spot,spot]", "fleet.tiers"), ("fleet.period_s=30", "fleet.period_s"),
    ("fleet.diurnal.peak_to_trough=0.5", "fleet.diurnal.peak_to_trough")])
def test_bad_day_inputs_are_one_line_refusals(override, key):
    with pytest.raises(ConfigError) as err:
        optimize.load_config([override])
    assert str(err.value).startswith(key) or key in str(err.value)
    assert "\n" not in str(err.value)


def test_inventory_cap_holds_in_every_period(ocfg):
    from model.app.config import with_values
    cfg = with_values(ocfg, {"fleet.demand_profile": "diurnal", "fleet.inventory.b200": 50}, optimize.validate)
    day = plan_day(cfg, baselines=False)
    if day.solved:  # the uncapped peak buys 70 B200s: the cap moves work elsewhere or makes the plan dearer
        b200 = day.periods.systems.sel(hardware="b200").sum("tier")
        assert float(b200.max()) <= 50
        free = plan_day(with_values(cfg, {"fleet.inventory.b200": None}, optimize.validate), baselines=False)
        assert day.totals["cost_per_day"] >= free.totals["cost_per_day"] - 1e-6
    else:
        assert set(day.shortfalls.constraint) == {"inventory.b200"} and (day.shortfalls.shortfall > 0).all()
