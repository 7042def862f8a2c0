"""No silent answers: the same requests planned once, and no plan that misses its demand called optimal."""
import numpy as np
import pytest

import optimize
from model.errors import ConfigError
from optimize.constants import SolveStatus
from optimize.inputs import isl_buckets
from optimize.milp import Coverage, build_model, covers_demand

SMALL = ["select.models=[gpt_oss_120b,glm_4_7]", "grid.concurrency_max=256", "plots.enabled=false"]


def test_buckets_at_one_isl_are_one_bucket():
    cfg = optimize.load_config(["fleet.isl.kind=buckets",
                                "fleet.isl.explicit=[{isl:96300,weight:0.25},{isl:32000,weight:0.5},"
                                "{isl:96300,weight:0.25}]"])
    isl, weight = isl_buckets(cfg)
    assert isl.tolist() == [32000, 96300] and weight.tolist() == [0.5, 0.5]


def test_a_degenerate_lognormal_is_one_bucket_at_the_median():
    cfg = optimize.load_config(["fleet.isl.kind=lognormal", "fleet.isl.sigma=1e-300", "fleet.isl.buckets=8"])
    isl, weight = isl_buckets(cfg)
    assert isl.tolist() == [96300] and weight.tolist() == [1.0]


def test_duplicate_buckets_cost_what_one_bucket_costs():
    """Two half-weight buckets at the P50 ISL are the P50 plan (they were planned as two fleets,
    $5,688.88/h against $2,861.00/h, when the probe found it)."""
    p50 = optimize.plan_fleet(optimize.load_config(SMALL))
    twice = optimize.plan_fleet(optimize.load_config([
        *SMALL, "fleet.isl.kind=buckets", "fleet.isl.explicit=[{isl:96300,weight:0.5},{isl:96300,weight:0.5}]"]))
    assert p50.status == twice.status == SolveStatus.optimal
    assert twice.totals.cost_per_hour == pytest.approx(p50.totals.cost_per_hour, rel=1e-12)


def test_a_lognormal_beyond_the_token_range_is_refused_by_its_sigma():
    with pytest.raises(ConfigError, match=r"^fleet\.isl\.sigma=1e\+308: "):
        optimize.load_config(["fleet.isl.kind=lognormal", "fleet.isl.sigma=1e308"])


@pytest.mark.parametrize("override", ["fleet.demand.gpt_oss_120b=1e308", "fleet.demand_default=1e200",
                                      "fleet.demand_default=1000001"])
def test_demand_beyond_what_the_solver_resolves_is_refused(override):
    with pytest.raises(ConfigError, match=r"must be a finite number in \[0, 1e6\]"):
        optimize.load_config([override])


def test_a_rounded_plan_that_misses_demand_is_caught():
    """One row of demand 1 request/s, one column of 0.5 requests/s per replica: one replica
    covers 0.5 (short), two cover 1.0 (met)."""
    m = build_model(cost=np.array([1.0]), coverage=Coverage.one_row_per_column(np.array([0]), np.array([0.5])),
                    demand=np.array([1.0]), systems=np.array([1.0]), hardware=np.array([0]),
                    inventory=np.array([np.inf]))
    m.replicas[0].set_value(1)
    assert not covers_demand(m)
    m.replicas[0].set_value(2)
    assert covers_demand(m)
