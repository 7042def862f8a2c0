"""The calculator's callbacks without a browser: the numbers shown are model.evaluate's at the point,
the equivalent command reproduces them, a refused input keeps the previous state."""
import numpy as np
import pytest
import xarray as xr

import model
from model.app.view.callbacks import one_line
from model.app.view.cli import parse_command
from model.app.view.readouts import READOUTS, format_number
from model.app.view.sources import NO_SOURCE, note
from model.app.view.state import ISL_RANGE, Calculator, CalculatorState, isl_options
from model.price_to_beat import price_to_beat
from model.spend import spend_table
from tests.helpers import at

RTOL = 1e-12


def expected(ds: xr.Dataset, best: xr.Dataset, hardware: str) -> dict[str, float]:
    """The readouts as computed here from a Dataset of model.evaluate at one point and one of
    model.cheapest_under_sla (dims model, hardware, ...)."""
    point = ds.isel(model=0, isl=0, concurrency=0).sel(hardware=hardware)
    b = best.isel(model=0, isl=0).sel(hardware=hardware) if "isl" in best.dims else best.isel(model=0).sel(
        hardware=hardware)
    out = {}
    for r in READOUTS:
        if r.name == "price_to_beat":
            continue  # not a variable of the Dataset: from model.price_to_beat, below
        source = b if r.at_best else point
        if r.variable in source:
            out[r.name] = float(source[r.variable].values) * r.scale
    return out


def assert_same(shown: dict[str, float], want: dict[str, float]) -> None:
    assert set(shown) == set(want)
    for name, value in want.items():
        np.testing.assert_allclose(shown[name], value, rtol=RTOL, equal_nan=True, err_msg=name)


VARIANTS = {
    "defaults": {},
    "point": {"isl": 50000, "concurrency": 300},
    "prices": {"hardware.b200.price_per_hour": 3.5, "hardware.cerebras_wse3.price_per_hour": 30.0,
               "workload.price_sheet.output": 60.0},
    "physical wafer": {"hardware.cerebras_wse3.prefill_mode": "physical", "concurrency": 128},
    "ratio gpu": {"hardware.b200.prefill_mode": "ratio", "hardware.b200.cache_read_ratio": 20.0},
    "hop and speed": {"hardware.cerebras_wse3.hop_latency_s": 2e-06,
                      "hardware.cerebras_wse3.interactivity_multiplier": 1.1},
    "sla": {"sla.min_interactivity": 500.0, "sla.max_ttft_s": 2.0},
    "sla at p99": {"sla.min_interactivity": 100.0, "sla.max_ttft_s": 2.0, "sla.percentile": "p99",
                   "hardware": ("cerebras_wse3", "b200")},
    "other model": {"model": "deepseek_v3", "hardware": ("cerebras_wse3", "h200", "mi355x"), "isl": 200000},
}


def inputs_of(calculator, variant):
    inputs = calculator.defaults()
    for key, value in VARIANTS[variant].items():
        inputs = inputs.set(key, value)
    return inputs


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_readouts_equal_evaluate_at_the_point(calculator, variant):
    inputs = inputs_of(calculator, variant)
    result = calculator.compute(inputs)
    # the same config and parameters, evaluated directly at the one point
    cfg = model.load_config(list(calculator.structural(inputs)))
    params = calculator.params(inputs)
    point = model.evaluate(cfg, params, **at(inputs.isl, inputs.concurrency))
    best = model.cheapest_under_sla(cfg, params, isl=[inputs.isl])
    beat = price_to_beat(cfg, params, isl=[inputs.isl]).price_to_beat.isel(model=0, isl=0, min_interactivity=0)
    assert list(result.values) == list(inputs.hardware)
    for hw in inputs.hardware:
        want = expected(point, best, hw) | {"price_to_beat": float(beat.sel(hardware=hw))}
        assert_same(result.values[hw], want)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_command_reproduces_the_numbers(calculator, variant):
    inputs = inputs_of(calculator, variant)
    result = calculator.compute(inputs)
    app, overrides = parse_command(result.command)
    assert app == "model"
    cfg = model.load_config(overrides)  # what `serving-model <overrides>` composes
    isl, n = int(cfg.workload.isl), int(cfg.workload.concurrency)
    assert (isl, n) == (inputs.isl, inputs.concurrency)
    assert list(cfg.select.models) == [inputs.model] and tuple(cfg.select.hardware) == inputs.hardware
    point = model.evaluate(cfg, **at(isl, n))
    best = model.cheapest_under_sla(cfg, isl=[isl])
    beat = price_to_beat(cfg, isl=[isl]).price_to_beat.isel(model=0, isl=0, min_interactivity=0)
    for hw in inputs.hardware:
        assert_same(result.values[hw], expected(point, best, hw) | {"price_to_beat": float(beat.sel(hardware=hw))})


def test_only_changed_keys_are_in_the_command(calculator):
    inputs = calculator.defaults()
    assert calculator.overrides(inputs) == ("select.models=[gpt_oss_120b]", "select.hardware=[cerebras_wse3,b200]")
    inputs = inputs.set("hardware.b200.price_per_hour", 3.5).set("hardware.h100_sxm.price_per_hour", 9.0)
    inputs = inputs.set("concurrency", 300).set("hardware.cerebras_wse3.hop_latency_s", 2e-06)
    assert calculator.overrides(inputs) == (
        "select.models=[gpt_oss_120b]", "select.hardware=[cerebras_wse3,b200]", "workload.concurrency=300",
        "hardware.cerebras_wse3.hop_latency_s=2e-06", "hardware.b200.price_per_hour=3.5")  # h100 not compared
    # numbers go to evaluate as params; only enums (and nulls) recompose the config
    assert calculator.params(inputs) == {"hardware.cerebras_wse3.hop_latency_s": 2e-06,
                                         "hardware.b200.price_per_hour": 3.5}
    assert calculator.structural(inputs.set("hardware.b200.prefill_mode", "ratio"))[-1] == \
        "hardware.b200.prefill_mode=ratio"


def test_the_grid_covers_every_concurrency_and_is_cached(calculator):
    inputs = calculator.defaults()
    first = calculator.compute(inputs)
    again = calculator.compute(inputs.set("concurrency", 17))
    assert again.grid is first.grid  # a concurrency move evaluates nothing
    assert first.grid.sizes["concurrency"] == 1024 and first.grid.sizes["isl"] == 1
    curve = first.curve("cerebras_wse3")
    np.testing.assert_array_equal(curve["concurrency"], np.arange(1, 1025))
    direct = model.evaluate(model.load_config(list(first.overrides)), isl=[inputs.isl])
    np.testing.assert_allclose(curve["cost_per_mtok"], direct.cost_per_mtok.sel(hardware="cerebras_wse3").squeeze(),
                               rtol=RTOL)


def test_prefetched_isls_give_the_same_numbers(calculator):
    inputs = calculator.defaults().set("hardware.b200.price_per_hour", 2.5)
    calculator.prefetch(inputs)
    assert calculator.prefetched(inputs)
    isl = calculator.isl_options[40]
    result = calculator.compute(inputs.set("isl", isl).set("concurrency", 64))
    direct = model.evaluate(model.load_config(list(calculator.structural(inputs))), calculator.params(inputs),
                            isl=[isl])
    for name in ("cost_per_mtok", "interactivity", "ttft", "systems", "meets_sla", "kv_cache_bytes"):
        np.testing.assert_allclose(result.grid[name].values, direct[name].values, rtol=RTOL, err_msg=name)


def test_a_refused_input_keeps_the_previous_state(calculator):
    state = CalculatorState(calculator)
    good = state.result
    bad = state.inputs.set("hardware.b200.price_per_hour", -1.0)
    assert state.update(bad) is False
    assert state.result is good
    with pytest.raises(model.ConfigError) as cli_error:  # the CLI's own message for the same value
        model.load_config(["hardware.b200.price_per_hour=-1.0"])
    assert state.error == str(cli_error.value) == "hardware.b200.price_per_hour=-1.0: must be a finite number > 0"
    assert "\n" not in state.error
    assert state.update(bad.set("hardware.b200.price_per_hour", 3.0)) is True
    assert state.error is None and state.result is not good


@pytest.mark.parametrize("key, value, message", [
    ("hardware", (), "select.hardware=[]: select at least one hardware"),
    ("isl", 0, "workload.isl=0: must be a whole number >= 1"),
    ("isl", None, "workload.isl=None: must be a whole number >= 1"),
    ("concurrency", 2000, "workload.concurrency=2000: must be on the concurrency grid, 1..1024"),
    ("sla.min_interactivity", -5.0, "sla.min_interactivity=-5.0: must be a finite number >= 0"),
    ("workload.price_sheet.output", None, "workload.price_sheet.output='null': field"),  # the CLI's message
    ("hardware.cerebras_wse3.cache_read_ratio", 0.0, "hardware.cerebras_wse3.cache_read_ratio=0.0: must be"),
])
def test_refused_inputs_give_one_line(calculator, key, value, message):
    state = CalculatorState(calculator)
    good = state.result
    assert state.update(state.inputs.set(key, value)) is False
    assert state.error.startswith(message) and "\n" not in state.error
    assert state.result is good


def test_one_line_of_a_multiline_error():
    assert one_line(ValueError("first\nsecond")) == "ValueError: first"
    assert one_line(model.ConfigError("a.b", 1, "must be > 1")) == "a.b=1: must be > 1"


def test_spend_table_uses_the_edited_price_sheet(calculator):
    inputs = calculator.defaults().set("workload.price_sheet.cache_read", 1.0).set("isl", 32000)
    result = calculator.compute(inputs)
    cfg = model.load_config()
    prices = dict(cfg.workload.price_sheet, cache_read=1.0)
    want = spend_table(dict(cfg.workload.mix), prices, 32000.0)
    xr.testing.assert_allclose(result.spend, want, rtol=RTOL)


def test_feasibility_is_the_clis_diagram(calculator):
    from model.app.config import with_values
    from model.app.plots import feasibility_grid

    inputs = calculator.defaults().set("concurrency", 100)
    grids = calculator.feasibility(inputs)
    assert set(grids) == set(inputs.hardware)
    cfg = with_values(calculator.config(inputs), {"plots.feasibility_hardware": "b200",
                                                  "plots.feasibility_reference_model": inputs.model,
                                                  "workload.concurrency": 100})
    want = feasibility_grid(cfg, 40).systems.transpose("model_size_b", "isl")
    np.testing.assert_array_equal(grids["b200"].systems, want.values.astype(float))
    np.testing.assert_array_equal(grids["b200"].isl, want.isl.values.astype(float))
    assert grids["b200"].max_context == float(cfg.models[inputs.model].max_context)


def test_isl_options():
    values = isl_options((96300,))
    assert values == sorted(set(values)) and 96300 in values
    assert values[0] == ISL_RANGE[0] and values[-1] == ISL_RANGE[1]
    assert 90 <= len(values) <= 110


def test_sources_and_uncertain_marks(calculator):
    cfg = calculator.base
    price = note(cfg, "hardware.cerebras_wse3.price_per_hour")
    assert not price.uncertain and "SemiAnalysis" in price.source
    ratio = note(cfg, "hardware.b200.cache_read_ratio")  # composed: the calibration's source and uncertain list
    assert ratio.uncertain and "calibrate" in ratio.source and ratio.label("x").endswith("⚠")
    assert note(cfg, "workload.price_sheet.output").uncertain
    assert note(cfg, "hardware.b200.hop_latency_s").source == NO_SOURCE
    assert note(cfg, "sla.min_interactivity").source == NO_SOURCE
    assert "uncertain" in note(cfg, "hardware.cerebras_wse3.hop_latency_s").tooltip()


@pytest.mark.parametrize("value, text", [(22.0, "22"), (0.06288193596995643, "0.06288"), (22_000_000.0, "22,000,000"),
                                         (float("nan"), "n/a"), (1701.85, "1,702")])
def test_format_number(value, text):
    assert format_number(value) == text


def test_feasibility_grids_are_shared_and_read_only(calculator):
    calculator = Calculator(calculator.base)  # its own caches
    inputs = calculator.defaults().set("concurrency", 120)
    first = calculator.feasibility(inputs)
    assert calculator.feasibility(calculator.defaults().set("concurrency", 120)) is first  # a later session's
    grid = first[inputs.hardware[0]]
    for array in (grid.systems, grid.isl, grid.params_b):
        assert not array.flags.writeable
    with pytest.raises(ValueError):
        grid.systems[0, 0] = 1.0
    other = calculator.feasibility(inputs.set("concurrency", 240))  # the key holds the concurrency ...
    assert other is not first and other[inputs.hardware[0]].concurrency == 240
    key = f"hardware.{inputs.hardware[0]}.price_per_hour"
    priced = inputs.set(key, inputs.values[key] + 1.0)  # ... and every changed value
    assert calculator.feasibility(priced) is not first


def test_the_sla_percentile_moves_the_cheapest_concurrency(calculator):
    """sla.percentile (docs/model.md §10): at p99 the B200's TTFT and TPOT tails exclude concurrencies
    that meet the SLA at p50, so the cheapest concurrency meeting it falls (or none is left)."""
    base = calculator.defaults().set("sla.min_interactivity", 100.0).set("sla.max_ttft_s", 2.0)
    p50 = calculator.compute(base).values["b200"]
    p99 = calculator.compute(base.set("sla.percentile", "p99")).values["b200"]
    assert "sla.percentile=p99" in calculator.compute(base.set("sla.percentile", "p99")).command
    assert np.isfinite(p50["best_concurrency"])
    assert p99["best_concurrency"] < p50["best_concurrency"]


def test_inputs_set_changes_one_key_and_stays_hashable(calculator, fleet, sens):
    """Every tab's inputs share one ``set``: a field, one entry of a mapping field, or (the
    calculator) a dotted config key into ``values``; lists become tuples; the original is kept."""
    c = calculator.defaults()
    changed = c.set("hardware", ["b200"]).set("hardware.b200.price_per_hour", 5.0).set("isl", 2000)
    assert changed.hardware == ("b200",) and changed.isl == 2000
    assert changed.values["hardware.b200.price_per_hour"] == 5.0
    assert c.values["hardware.b200.price_per_hour"] != 5.0 and c.hardware == ("cerebras_wse3", "b200")
    f = fleet.defaults()
    more = f.set("demand.gpt_oss_120b", 3.0)
    assert more.demand["gpt_oss_120b"] == 3.0 and {k: v for k, v in more.demand.items() if k != "gpt_oss_120b"} \
        == {k: v for k, v in f.demand.items() if k != "gpt_oss_120b"}
    s = sens.defaults().set("bounds.isl", [2000.0, 4000.0]).set("parameters", ["isl"])
    assert s.bounds["isl"] == (2000.0, 4000.0) and s.parameters == ("isl",)
    hash((s.model, s.parameters, s.bounds["isl"]))
    with pytest.raises(KeyError):
        f.set("no_such_input", 1)
