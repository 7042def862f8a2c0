"""Disaggregated serving in the fleet MILP (docs/model.md §9): a hand-worked instance, random instances
against brute force over the three column kinds, the price and link limits, TTFT reports."""
import functools
import itertools

import numpy as np
import pytest

import optimize
from model.errors import ConfigError
from optimize.columns import Columns, cells, concat, transfer_bytes
from optimize.constants import PHASE_CODE, Phase, SolveStatus
from optimize.coverage import CoverageMatrix
from optimize.fleet import plan_fleet
from optimize.inputs import bucket_grid, column_options
from optimize.milp import build_model, solve_model
from optimize.pruning import prune_dominated
from optimize.ttft import ttft_filter
from tests.helpers import overridden

# One model, one bucket, the wafer decoding and a B200 (not on offer) prefilling, with round numbers.
HAND_WORKED = [
    "select.models=[gpt_oss_120b]", "select.hardware=[cerebras_wse3]", "fleet.prefill_hardware=[b200]",
    "workload.isl=100000", "workload.osl=450", "workload.kv_tier=device",
    "grid.concurrency_min=4", "grid.concurrency_max=4",
    "models.gpt_oss_120b.attention=explicit", "models.gpt_oss_120b.kv_bytes_per_token=100000",
    "models.gpt_oss_120b.weight_gb=40", "models.gpt_oss_120b.interactivity.cerebras_wse3.tok_s=1000",
    "hardware.cerebras_wse3.hop_latency_s=0", "hardware.cerebras_wse3.memory_bandwidth_tb_s=1e9",
    "hardware.cerebras_wse3.interconnect_gb_s=100", "sla.min_interactivity=500",
    "hardware.b200.prefill_overhead_s=0.2", "hardware.b200.prefill_efficiency=1", "fleet.demand_default=10",
]


@functools.cache
def _hand_worked_base():
    return optimize.load_config(HAND_WORKED)


def configured(base, overrides):
    """``optimize.load_config(<base's overrides> + overrides)``, set on the composed ``base`` in memory
    (:func:`tests.helpers.overridden`; each config of this module was checked equal to composing it)."""
    return overridden(base, overrides, optimize.validate)


def hand_worked_cfg(*extra):
    """The hand-worked config, with the B200's peak FLOP/s set so that one GPU prefills one
    request in exactly 0.1 s (peak = F / 0.1 s, F the request's prefill FLOPs)."""
    flops = float(bucket_grid(_hand_worked_base()).prefill_flops.sel(model="gpt_oss_120b").item())
    return configured(_hand_worked_base(), [f"hardware.b200.peak_dense_tflops={flops / 0.1e12!r}", *extra])


def test_hand_worked_disaggregated_instance():
    """gpt-oss-120b with weights of 40 GB and 100,000 bytes of KV per token (explicit layout):
    ISL L = 100,000 (10 GB of KV per request), OSL O = 450, concurrency N = 4 only, demand
    10 req/s at utilization u = 0.8.

    Wafer (on offer; 44 GB per system; $41.96/h): 4 requests need ceil((40 + 4 x 10) / 44) = 2
    wafers, $83.92/h.  Decode at the measured 1,000 tok/s (KV reads made free: no hop latency,
    bandwidth 1e9 TB/s), step = 1 ms.
    - aggregated (ratio mode, cache_read_ratio 10): t_pf = L / (10 x 1,000) = 10 s,
      T = 10 + 450 x 0.001 = 10.45 s: 4 / 10.45 = 0.3828 req/s, TTFT 10 s;
    - decode: link 100 GB/s per wafer, a_d = 10 GB / (2 x 100 GB/s) = 0.05 s:
      4 / (0.45 + 0.05) = 8 req/s (its link would allow 20).
    B200 (prefill only; $2.07/h): one GPU holds 40 + 4 x 10 GB.  Busy b = 0.1 s (peak set so),
    overhead 0.2 s: t_pf = 0.3 s, compute 10 req/s; its 50 GB/s link moves 10 GB in a_p = 0.2 s:
    capacity min(10, 5) = 5 req/s.  TTFT_p = t_pf + u / (2 (1 - u)) x 1 / 5 = 0.3 + 2 x 0.2 = 0.7 s;
    TTFT = 0.7 + max(a_p, a_d) = 0.9 s, of which 0.2 s moving the KV.

    Per replica at u = 0.8: aggregated carries 0.3062 req/s, decode 6.4, prefill 4.
    Decode: 2 replicas (12.8 >= 10), $167.84; prefill for the 10 req/s they serve:
    ceil(10 / 4) = 3 B200s, $6.21; total $174.05/h.  One decode replica (6.4) would leave 3.6 req/s
    to ceil(3.6 / 0.3062) = 12 aggregated replicas ($1,007).  Aggregated only:
    ceil(10 / 0.3062) = 33 replicas, $2,769.36/h.  (Had prefill to cover the decode replicas'
    whole 12.8 req/s rather than the 10 they serve, it would take 4 B200s: $176.12.)
    A TTFT limit of 0.91 s keeps this plan; 0.85 s leaves no column: ttft_unreachable, 0.9 s on offer.
    """
    cfg = hand_worked_cfg()
    plan = plan_fleet(cfg)
    assert plan.status == SolveStatus.optimal
    assert plan.totals.cost_per_hour == pytest.approx(174.05)
    table = plan.plan.set_index("phase")
    assert table.hardware.to_dict() == {"prefill": "b200", "decode": "cerebras_wse3"}
    assert table.replicas.to_dict() == {"prefill": 3, "decode": 2}
    assert table.capacity_rps.to_dict() == pytest.approx({"prefill": 15.0, "decode": 16.0})
    assert table.utilization.to_dict() == pytest.approx({"prefill": 10 / 15, "decode": 10 / 16})
    assert table.ttft_s.to_dict() == pytest.approx({"prefill": 0.9, "decode": 0.9})
    assert table.t_kv_s.to_dict() == pytest.approx({"prefill": 0.2, "decode": 0.2})
    assert plan.totals.cost_per_hour_by_phase == pytest.approx({"aggregated": 0.0, "prefill": 6.21,
                                                                "decode": 167.84})
    assert plan.totals.systems_by_phase["decode"] == {"cerebras_wse3": 4, "b200": 0}

    aggregated = plan_fleet(hand_worked_cfg("fleet.disaggregation=false"))
    assert aggregated.plan[["phase", "replicas"]].values.tolist() == [["aggregated", 33]]
    assert aggregated.totals.cost_per_hour == pytest.approx(2769.36)

    assert plan_fleet(hand_worked_cfg("fleet.max_ttft_s.gpt_oss_120b=0.91")).totals.cost_per_hour == \
        pytest.approx(174.05)
    short = plan_fleet(hand_worked_cfg("fleet.max_ttft_s.gpt_oss_120b=0.85"))
    assert short.status == SolveStatus.infeasible
    row = short.shortfalls.iloc[0]
    assert row.kind == "ttft_unreachable" and "least TTFT on offer 0.9 s" in row.detail


# --- random instances against brute force -------------------------------------------------------

U = 0.8
TOP = 5  # caps >= 1 req/s and demand <= 4 req/s: no column of an optimal plan needs more than 5 replicas


def columns(kind, row, hardware, capacity, systems, price, ttft=None, t_kv=None):
    n = len(row)
    return Columns.from_arrays(model=np.zeros(n, int), bucket=np.asarray(row), hardware=np.asarray(hardware),
                   concurrency=np.zeros(n, int), row=np.asarray(row), requests_per_second=np.asarray(capacity),
                   systems=np.asarray(systems, float), cost_per_hour=np.asarray(systems) * np.asarray(price),
                   interactivity=np.ones(n), kind=np.full(n, PHASE_CODE[kind], dtype=np.int8),
                   ttft=np.full(n, np.nan) if ttft is None else np.asarray(ttft),
                   t_kv=np.full(n, np.nan) if t_kv is None else np.asarray(t_kv), tier=np.zeros(n, int))


def random_instance(rng, n_rows):
    """One or two (model, bucket) rows of aggregated, prefill and decode columns (6 at most), a TTFT
    limit per row (none a quarter of the time), demand and maybe an inventory cap."""
    # one row: several prefill and decode columns, so that a TTFT limit splits them into tiers
    counts = [(1, 1, 1)] * 2 if n_rows == 2 else [(1, int(rng.integers(2, 4)), 2)]
    price = rng.uniform(1, 5, 3).round(2)  # $/h per system of hardware 0, 1 (serving) and 2 (prefill)
    parts = {Phase.aggregated: [], Phase.prefill: [], Phase.decode: []}
    for r, (n_agg, n_pre, n_dec) in enumerate(counts):
        for kind, n in ((Phase.aggregated, n_agg), (Phase.prefill, n_pre), (Phase.decode, n_dec)):
            hw = np.full(n, 2) if kind == Phase.prefill else rng.integers(0, 2, n)
            timing = {}
            if kind == Phase.prefill:
                timing = {"ttft": rng.uniform(0.1, 0.8, n).round(3), "t_kv": rng.uniform(0.01, 0.15, n).round(3)}
            if kind == Phase.decode:
                timing = {"t_kv": rng.uniform(0.01, 0.6, n).round(3)}
            parts[kind].append(columns(kind, [r] * n, hw, rng.uniform(1, 4, n).round(2), rng.integers(1, 4, n),
                                       price[hw], **timing))
    agg, pre, dec = (concat(*parts[k]) for k in Phase)
    # aggregated columns cost more per req/s than a disaggregated pair usually does
    agg = agg.assign(cost_per_hour=agg.cost_per_hour * rng.uniform(1, 4))
    max_ttft = np.array([np.inf if rng.random() < 0.25 else rng.uniform(0.5, 1.3) for _ in range(n_rows)]).round(3)
    demand = rng.uniform(1, 4, n_rows).round(2)
    inventory = np.array([np.inf if rng.random() < 0.5 else float(rng.integers(2, 12)), np.inf, np.inf])
    return agg, pre, dec, max_ttft, demand, inventory


def brute_force(cols, max_ttft, demand, inventory):
    """Least $/h over every replica vector in {0..TOP}^n, feasibility by max-flow min-cut: a row's
    disaggregated requests/s are at most min over decode subsets S of
    (decode capacity outside S + capacity of the prefill columns that may feed some column of S),
    p feeding d iff TTFT_p + max(a_p, a_d) <= the row's limit."""
    x = np.array(list(itertools.product(range(TOP + 1), repeat=len(cols))), dtype=float)
    carry = x * cols.requests_per_second * U
    ok = np.ones(len(x), dtype=bool)
    for r in range(len(demand)):
        agg = np.flatnonzero((cols.row == r) & (cols.kind == PHASE_CODE[Phase.aggregated]))
        pre = np.flatnonzero((cols.row == r) & (cols.kind == PHASE_CODE[Phase.prefill]))
        dec = np.flatnonzero((cols.row == r) & (cols.kind == PHASE_CODE[Phase.decode]))
        feeds = np.array([[cols.ttft[p] + max(cols.t_kv[p], cols.t_kv[d]) <= max_ttft[r] for d in dec] for p in pre])
        flow = np.full(len(x), np.inf)
        for size in range(len(dec) + 1):
            for subset in itertools.combinations(range(len(dec)), size):
                outside = [dec[k] for k in range(len(dec)) if k not in subset]
                fed = [pre[i] for i in range(len(pre)) if any(feeds[i, k] for k in subset)]
                flow = np.minimum(flow, carry[:, outside].sum(1) + carry[:, fed].sum(1))
        ok &= carry[:, agg].sum(1) + flow >= demand[r] - 1e-9
    for h, cap in enumerate(inventory):
        ok &= x[:, cols.hardware == h] @ cols.systems[cols.hardware == h] <= cap
    return (x[ok] @ cols.cost_per_hour).min() if ok.any() else np.inf


@pytest.mark.parametrize("seed", range(20))
def test_random_instances_match_brute_force(seed):
    """Filter, (prune on even seeds), cover and solve; the optimum equals the brute force over
    the unfiltered columns, and the plan is feasible there."""
    rng = np.random.default_rng(seed)
    agg, pre, dec, max_ttft, demand, inventory = random_instance(rng, 2 if seed % 3 == 0 else 1)
    everything = concat(agg, pre, dec)
    ids = np.arange(len(everything))
    everything = everything.relabel("concurrency", ids, ids)  # column ids
    agg, pre, dec = (everything.take(everything.kind == PHASE_CODE[k]) for k in Phase)
    pre, dec = ttft_filter(pre, dec, max_ttft)
    cols = concat(agg, pre, dec)
    cols = prune_dominated(cols, ~np.isfinite(inventory)) if seed % 2 == 0 else cols
    cover = CoverageMatrix.of(cols, U, max_ttft).milp_rows(demand)
    model = build_model(cols.cost_per_hour, cover.coverage, cover.demand, cols.systems, cols.hardware, inventory,
                        flows=cover.flows)
    result = solve_model(model, mip_rel_gap=0.0)
    expected = brute_force(everything, max_ttft, demand, inventory)
    if np.isinf(expected):
        assert result.status == SolveStatus.infeasible
        return
    assert result.status == SolveStatus.optimal
    assert result.objective == pytest.approx(expected, abs=1e-6)
    replicas = np.zeros(len(everything))
    replicas[cols.concurrency] = result.replicas
    assert replicas.max() <= TOP
    assert float(replicas @ everything.cost_per_hour) == pytest.approx(expected, abs=1e-6)


def test_ttft_tiers_couple_each_decode_column_to_its_prefill():
    """TTFT limit 1 s, utilization 1, demand 8 req/s.  Prefill P1: TTFT_p 0.3 s, $5/h; P2: 0.8 s,
    $1/h; both 2 req/s, a_p = 0.05 s.  Decode D1: a_d = 0.5 s (allowance 0.5 s: P1 only), $10/h;
    D2: a_d = 0.1 s (allowance 0.9 s: P1 or P2), $12/h, at most one (inventory); both 4 req/s.
    D1 + D2 serve 8: D1's 4 req/s need 2 P1 ($10), D2's 2 P2 ($2): $34/h.  One Hall row for
    both decode columns would buy 4 P2 instead ($26/h), which would leave D1 with a TTFT of
    0.8 + 0.5 = 1.3 s."""
    agg = columns(Phase.aggregated, [0], [0], [1.0], [1], [100.0])
    pre = columns(Phase.prefill, [0, 0], [2, 2], [2.0, 2.0], [1, 1], [5.0, 1.0], ttft=[0.3, 0.8], t_kv=[0.05, 0.05])
    dec = columns(Phase.decode, [0, 0], [0, 1], [4.0, 4.0], [1, 1], [10.0, 12.0], t_kv=[0.5, 0.1])
    max_ttft, demand = np.array([1.0]), np.array([8.0])
    pre, dec = ttft_filter(pre, dec, max_ttft)
    assert dec.tier.tolist() == [1, 2] and pre.tier.tolist() == [1, 2]
    cols = concat(agg, pre, dec)
    cover = CoverageMatrix.of(cols, 1.0, max_ttft).milp_rows(demand)
    assert cover.flows == 2 and cover.flow_tier.tolist() == [1, 2]
    model = build_model(cols.cost_per_hour, cover.coverage, cover.demand, cols.systems, cols.hardware,
                        np.array([np.inf, 1.0, np.inf]), flows=cover.flows)
    result = solve_model(model, mip_rel_gap=0.0)
    assert result.status == SolveStatus.optimal and result.objective == pytest.approx(34.0)
    assert result.replicas.tolist() == [0, 2, 2, 1, 1]


# --- price and link limits, TTFT reports --------------------------------------------------------

def phases(plan):
    return set(plan.plan.phase)


def test_prefill_at_ten_times_its_price_is_not_bought(ocfg):
    """The wafer decodes and a B200 pool (not on offer) may prefill.  With the wafer's
    cache_read_ratio at 150 (within the GPUs' derived 62-283) its own prefill is cheap enough that
    offloading is a close call: at catalog prices the plan offloads some prefill, at 10x none."""
    base = ["select.hardware=[cerebras_wse3]", "fleet.prefill_hardware=[b200]",
            "hardware.cerebras_wse3.cache_read_ratio=150"]
    cheap = plan_fleet(configured(ocfg, base))
    assert "prefill" in phases(cheap)
    dear = plan_fleet(configured(ocfg, [*base, "hardware.b200.price_per_hour=20.7"]))
    assert dear.status == SolveStatus.optimal and phases(dear) == {"aggregated"}
    assert dear.totals.cost_per_hour == pytest.approx(
        plan_fleet(configured(ocfg, [*base, "fleet.disaggregation=false"])).totals.cost_per_hour)


def test_decode_link_near_zero_buys_no_disaggregated_columns(ocfg):
    """The default plan decodes on wafers fed by B200 prefill (DeepSeek V4 stays aggregated); with
    the wafer's KV link at 1 MB/s no request can move to it, and the plan is the aggregated-only one."""
    assert phases(plan_fleet(ocfg)) == {"aggregated", "prefill", "decode"}
    slow = plan_fleet(configured(ocfg, ["hardware.cerebras_wse3.interconnect_gb_s=0.001"]))
    assert slow.status == SolveStatus.optimal and phases(slow) == {"aggregated"}
    aggregated = plan_fleet(configured(ocfg, ["fleet.disaggregation=false"]))
    assert slow.totals.cost_per_hour == pytest.approx(aggregated.totals.cost_per_hour)


def test_no_link_makes_no_disaggregated_columns(ocfg):
    plan = plan_fleet(configured(ocfg, ["hardware.b200.interconnect_gb_s=null",
                                        "hardware.cerebras_wse3.interconnect_gb_s=null"]))
    assert plan.columns_by_phase["prefill"] == (0, 0) and plan.columns_by_phase["decode"] == (0, 0)


def test_ttft_sla_below_every_column_is_reported(ocfg):
    plan = plan_fleet(configured(ocfg, ["sla.max_ttft_s=0.05"]))
    assert plan.status == SolveStatus.infeasible and len(plan.plan) == 0
    report = plan.shortfalls.set_index("model")
    assert set(report.kind) == {"ttft_unreachable"} and len(report) == 5
    detail = report.loc["gpt_oss_120b", "detail"]
    assert detail.startswith("TTFT SLA 0.05 s; least TTFT on offer")
    assert "b200 prefill -> cerebras_wse3 decode" in detail and "aggregated cerebras_wse3" in detail
    least = float(detail.split("least TTFT on offer ")[1].split(" s")[0])
    assert least > 0.05


def test_per_model_ttft_limit_applies_to_every_kind(ocfg):
    """A per-model limit between the disaggregated TTFT (under 1 s) and the aggregated wafer's
    (about 5 s) leaves that model only disaggregated columns; the other models keep theirs."""
    base = configured(ocfg, ["fleet.disaggregation=false"])
    limited = plan_fleet(configured(ocfg, ["fleet.max_ttft_s.gpt_oss_120b=1.5", "fleet.disaggregation=false"]))
    assert plan_fleet(base).status == SolveStatus.optimal
    assert limited.status == SolveStatus.infeasible
    assert limited.shortfalls.model.tolist() == ["gpt_oss_120b"]
    plan = plan_fleet(configured(ocfg, ["fleet.max_ttft_s.gpt_oss_120b=1.5"]))
    rows = plan.plan[plan.plan.model == "gpt_oss_120b"]
    assert set(rows.phase) == {"prefill", "decode"} and (rows.ttft_s <= 1.5).all()


def test_prefill_hardware_off_offer_only_prefills(ocfg):
    cfg = configured(ocfg, ["fleet.prefill_hardware=[b200,trainium2]"])
    grid = bucket_grid(cfg)
    assert list(grid.hardware.values) == ["cerebras_wse3", "b200", "trainium2"]
    options = column_options(cfg, grid)
    assert options.offered.tolist() == [True, True, False] and options.prefill.tolist() == [False, True, True]
    plan = plan_fleet(cfg, grid=grid)
    assert plan.status == SolveStatus.optimal
    on_trainium = plan.plan[plan.plan.hardware == "trainium2"]
    assert set(on_trainium.phase) <= {"prefill"}
    assert set(plan.totals.systems) == {"cerebras_wse3", "b200", "trainium2"}


def test_decode_keeping_the_prefix_moves_less(ocfg):
    grid = bucket_grid(ocfg)
    keep = configured(ocfg, ["fleet.decode_keeps_prefix=true"])
    whole, rest = transfer_bytes(grid, column_options(ocfg, grid)), transfer_bytes(grid, column_options(keep, grid))
    assert (rest < whole).all() and rest == pytest.approx(whole - cells(grid, "prefix_kv_bytes"))
    assert plan_fleet(keep).totals.cost_per_hour <= plan_fleet(ocfg).totals.cost_per_hour + 1e-9


@pytest.mark.parametrize("override,key", [
    ("fleet.prefill_hardware=[tpu_v9]", "fleet.prefill_hardware"),
    ("fleet.prefill_hardware=[]", "fleet.prefill_hardware"),
    ("fleet.prefill_hardware=[b200,b200]", "fleet.prefill_hardware"),
    ("fleet.max_ttft_s.gpt_oss_120b=0", "fleet.max_ttft_s.gpt_oss_120b"),
    ("+fleet.max_ttft_s.nope=1", "fleet.max_ttft_s.nope"),
])
def test_disaggregation_bad_input_is_one_line(override, key):
    with pytest.raises(ConfigError) as err:
        optimize.load_config([override])
    assert str(err.value).startswith(key) and "\n" not in str(err.value)
