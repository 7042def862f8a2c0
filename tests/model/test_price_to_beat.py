"""The price to beat (model.price_to_beat): exact, linear in the price, consistent with the model."""
import ast

import numpy as np
import pytest
import xarray as xr

import optimize
from model.cheapest import cheapest_under_sla
from model.evaluate import evaluate
from model.price_to_beat import (
    NONE,
    cheapest_hardware,
    price_to_beat,
    price_to_beat_from_costs,
    sla_switch_points,
    step_function,
)
from tests.helpers import ROOT

ISL = [32000, 96300]
SLAS = [50.0, 100.0, 1000.0]


@pytest.fixture(scope="module")
def cfg():
    """Wafer and B200, the five models, a 256-level concurrency grid (enough for every optimum here)."""
    return optimize.load_config(["grid.concurrency_max=256"])


@pytest.fixture(scope="module")
def ptb(cfg):
    return price_to_beat(cfg, isl=ISL, min_interactivity=SLAS)


def test_cost_per_mtok_is_linear_in_the_price_with_no_other_term(cfg):
    """The premise of the exact formula: doubling $/hour doubles every cell's $/Mtok, and
    halving it halves it (no fixed term), while the SLA check does not move."""
    base = evaluate(cfg, isl=ISL, variables=["cost_per_mtok", "meets_sla"])
    for factor in (2.0, 0.5):
        price = {f"hardware.{h}.price_per_hour": factor * float(cfg.hardware[h].price_per_hour)
                 for h in cfg.select.hardware}
        moved = evaluate(cfg, price, isl=ISL, variables=["cost_per_mtok", "meets_sla"])
        np.testing.assert_allclose(moved.cost_per_mtok, factor * base.cost_per_mtok, rtol=1e-12)
        assert (moved.meets_sla == base.meets_sla).all()


def test_price_to_beat_put_back_makes_the_two_cheapest_equal(cfg, ptb):
    """Each finite price to beat, set as the hardware's $/hour, makes its least SLA-meeting $/Mtok
    equal the best other hardware's (rtol 1e-9), for every (model, ISL, SLA) where both qualify."""
    checked = 0
    for hw in cfg.select.hardware:
        beat = ptb.price_to_beat.sel(hardware=hw)
        for model in ptb.model.values:
            for isl in ISL:
                for sla in SLAS:
                    p = float(beat.sel(model=model, isl=isl, min_interactivity=sla))
                    if not np.isfinite(p):
                        continue
                    at = cheapest_under_sla(cfg, {f"hardware.{hw}.price_per_hour": p, "sla.min_interactivity": sla},
                                            isl=[isl]).cost_per_mtok.sel(model=model, isl=isl)
                    others = at.drop_sel(hardware=hw).min()
                    np.testing.assert_allclose(float(at.sel(hardware=hw)), float(others), rtol=1e-9)
                    checked += 1
    assert checked >= 10  # both hardware qualify at the low SLAs for most models


def test_no_alternative_means_any_price_and_no_sla_means_none(ptb):
    """At 1,000 tok/s only the wafer meets the SLA: its price to beat is inf (any price), the
    B200's NaN; the cheapest hardware is the wafer or, past every rate, none."""
    at = ptb.sel(min_interactivity=1000.0)
    wafer, b200 = at.price_to_beat.sel(hardware="cerebras_wse3"), at.price_to_beat.sel(hardware="b200")
    met = at.cheapest_cost_per_mtok.sel(hardware="cerebras_wse3").notnull()
    assert np.isinf(wafer.where(met, np.inf)).all() and b200.isnull().all()
    assert set(np.unique(at.cheapest_hardware.values)) <= {"cerebras_wse3", NONE}


def test_own_price_does_not_move_its_price_to_beat(cfg):
    """p*_h = p_h a_h / c_h with c_h proportional to p_h: the wafer's price to beat is the same at any
    wafer price, while the B200's scales with it (the wafer is B200's alternative)."""
    price = xr.DataArray([20.0, 41.96, 80.0], dims="scenario")
    swept = price_to_beat(cfg, {"hardware.cerebras_wse3.price_per_hour": price}, isl=[96300], min_interactivity=[100])
    wafer = swept.price_to_beat.sel(hardware="cerebras_wse3")
    np.testing.assert_allclose(wafer, wafer.isel(scenario=1).broadcast_like(wafer), rtol=1e-12)
    b200 = swept.price_to_beat.sel(hardware="b200", isl=96300, min_interactivity=100.0)  # (model, scenario)
    b200 = b200.where(b200.notnull().all("scenario")).dropna("model", how="all")
    assert b200.sizes["model"] >= 3
    ratio = (b200 / b200.isel(scenario=1)).transpose("model", "scenario")
    np.testing.assert_allclose(ratio, np.broadcast_to(price.values / 41.96, ratio.shape), rtol=1e-12)


def test_price_to_beat_from_costs_by_hand():
    cost = xr.DataArray([[1.0, 2.0, 4.0], [np.nan, 3.0, np.nan], [np.nan, np.nan, np.nan]], dims=("case", "hardware"),
                        coords={"hardware": ["a", "b", "c"]})
    price = xr.DataArray([10.0, 1.0, 2.0], dims="hardware", coords={"hardware": ["a", "b", "c"]})
    beat = price_to_beat_from_costs(cost, price)
    np.testing.assert_allclose(beat.isel(case=0), [10 * 2 / 1, 1 * 1 / 2, 2 * 1 / 4])
    assert np.isnan(beat.isel(case=1).sel(hardware=["a", "c"])).all() and np.isinf(beat.isel(case=1).sel(hardware="b"))
    assert beat.isel(case=2).isnull().all()
    assert list(cheapest_hardware(cost).values) == ["a", "b", NONE]


def test_step_function_is_the_least_cost_meeting_each_sla():
    rate, cost = np.array([300.0, 100.0, np.nan, 200.0]), np.array([5.0, 1.0, 0.1, 3.0])
    r, least = step_function(rate, cost)
    for s in (0.0, 100.0, 100.5, 200.0, 250.0, 300.0, 301.0):
        ok = np.nan_to_num(rate, nan=-1) >= s
        expected = cost[ok].min() if ok.any() else np.inf
        assert least[np.searchsorted(r, s, side="left")] == expected


def test_switch_points_are_exact_on_the_grid(cfg):
    """At each switch point s the cheapest hardware is ``cheapest_up_to``, and at the next float
    above s it is ``cheapest_above``, both as cheapest_under_sla finds them."""
    switches = sla_switch_points(cfg, isl=[96300])
    assert switches.sizes["switch"] >= len(cfg.select.models)  # b200 -> wafer -> none for each model
    for i in range(switches.sizes["switch"]):
        s = float(switches.min_interactivity[i])
        model = str(switches.model[i].values)
        at = price_to_beat(cfg, isl=[96300], min_interactivity=[s, np.nextafter(s, np.inf)])
        winners = list(at.cheapest_hardware.sel(model=model, isl=96300).values)
        assert winners == [str(switches.cheapest_up_to[i].values), str(switches.cheapest_above[i].values)]


def test_every_variable_and_coordinate_has_units_and_long_name(ptb):
    for name in list(ptb.data_vars) + list(ptb.coords):
        assert "units" in ptb[name].attrs and ptb[name].attrs.get("long_name"), name


def test_core_module_imports_no_app_layer():
    tree = ast.parse((ROOT / "model" / "price_to_beat.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            assert not node.module.startswith(("model.app", "optimize", "sensitivity")), node.module
        if isinstance(node, ast.Import):
            assert not any(a.name.startswith(("model.app", "optimize", "sensitivity")) for a in node.names)
