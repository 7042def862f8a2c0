"""The fleet tab's callback without a browser: overrides as serving-optimize's, the plan as plan_fleet's."""
import pytest

import model
import optimize
from model.app.view.cli import parse_command
from optimize.view_state import format_buckets, parse_buckets


def test_defaults_are_the_config(fleet):
    inputs = fleet.defaults()
    assert fleet.overrides(inputs) == ()
    assert inputs.models == tuple(fleet.base.select.models) and inputs.hardware == ("cerebras_wse3", "b200")
    assert inputs.demand["gpt_oss_120b"] == 10.0 and inputs.inventory["b200"] is None


def test_changed_inputs_become_overrides_that_compose(fleet):
    inputs = (fleet.defaults().set("demand.gpt_oss_120b", 40.0).set("inventory.b200", 500)
              .set("inventory.h200", 3)  # not on offer: left out
              .set("isl_kind", "lognormal").set("isl_median", 48000.0).set("isl_sigma", 0.6)
              .set("target_utilization", 0.7).set("disaggregation", False).set("min_interactivity", 500.0))
    overrides = fleet.overrides(inputs)
    assert overrides == ("fleet.demand.gpt_oss_120b=40.0", "fleet.isl.kind=lognormal", "fleet.isl.median=48000.0",
                         "fleet.isl.sigma=0.6", "fleet.inventory.b200=500", "fleet.target_utilization=0.7",
                         "fleet.disaggregation=false", "sla.min_interactivity=500.0")
    cfg = optimize.load_config(list(overrides))
    assert cfg.fleet.demand.gpt_oss_120b == 40.0 and cfg.fleet.inventory.b200 == 500
    assert cfg.fleet.isl.kind.value == "lognormal" and cfg.fleet.disaggregation is False
    explicit = fleet.defaults().set("isl_kind", "buckets").set("isl_explicit", ((32000, 0.5), (200000, 0.5)))
    cfg = optimize.load_config(list(fleet.overrides(explicit)))
    assert [(b.isl, b.weight) for b in cfg.fleet.isl.explicit] == [(32000, 0.5), (200000, 0.5)]


def test_plan_is_plan_fleet_of_the_command(fleet):
    inputs = fleet.defaults().set("models", ("gpt_oss_120b", "glm_4_7")).set("target_utilization", 0.7)
    result = fleet.plan(inputs)
    app, overrides = parse_command(result.command)
    assert app == "optimize"
    want = optimize.plan_fleet(optimize.load_config(overrides))
    assert result.status == want.status.value == "optimal"
    assert result.totals == want.totals.as_dict()
    assert result.plan.equals(want.plan)


def test_an_inventory_shortfall_is_reported(fleet):
    result = fleet.plan(fleet.defaults().set("inventory.cerebras_wse3", 40))
    assert result.status == "infeasible"
    assert len(result.plan) == 0 and len(result.shortfalls) > 0
    assert set(result.shortfalls.kind) == {"inventory"}
    assert result.totals["cost_per_hour"] is None


@pytest.mark.parametrize("key, value, message", [
    ("demand.gpt_oss_120b", -1.0, "fleet.demand.gpt_oss_120b=-1.0: requests/s must be a finite number in [0, 1e6]"),
    ("target_utilization", 1.5, "fleet.target_utilization=1.5:"),
    ("hardware", (), "select.hardware=[]: select at least one hardware"),
])
def test_refused_inputs_raise_one_line(fleet, key, value, message):
    with pytest.raises(model.ConfigError) as err:
        fleet.plan(fleet.defaults().set(key, value))
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_buckets_text_round_trips():
    pairs = ((32000, 0.5), (200000, 0.5))
    assert parse_buckets(format_buckets(pairs)) == pairs
    assert parse_buckets(" 1000:1 ,") == ((1000, 1.0),)
    with pytest.raises(model.ConfigError, match="isl:weight"):
        parse_buckets("32000-0.5")
