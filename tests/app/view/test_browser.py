"""The view in real headless Chromium at 1280 x 800: sliders moved through BokehJS, readouts checked
against the toolkit's own answers, nothing cut off, a screenshot of each tab saved into tmp_path.

Needs Debian's ``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` and selenium (the test extra);
skipped with the reason otherwise.  Network: 127.0.0.1 only.
"""
import time

import numpy as np
import pytest

import model
import optimize
import sensitivity
import sensitivity.uncertainty
from model.app.view.cli import parse_command
from model.app.view.state import isl_options
from tests.app.view.drive import Page, ViewServer, chrome, missing
from tests.helpers import at

pytestmark = [pytest.mark.browser, pytest.mark.cli]

REASON = missing()
HARDWARE = ("cerebras_wse3", "b200")
CELLS = ("cost_per_mtok", "interactivity", "ttft", "systems", "cost_per_output_mtok", "cache_read_throughput")
WIDTH, HEIGHT = 1280, 800  # the screen the view must fit


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    if REASON:
        pytest.skip(REASON)
    profile = tmp_path_factory.mktemp("chromium-profile")
    with ViewServer() as server:
        driver = chrome(WIDTH, HEIGHT, str(profile))
        try:
            yield Page(driver, server.url)
        finally:
            driver.quit()
        assert server.stop() == 130


def evaluate_at(isl, concurrency, overrides=()):
    cfg = model.load_config(["select.models=[gpt_oss_120b]", "select.hardware=[cerebras_wse3,b200]", *overrides])
    return model.evaluate(cfg, **at(isl, concurrency)).isel(model=0, isl=0, concurrency=0)


def assert_readouts(page, ds):
    for hw in HARDWARE:
        for name in CELLS:
            np.testing.assert_allclose(page.readout(name, hw), float(ds[name].sel(hardware=hw)), rtol=1e-12,
                                       err_msg=f"{name} on {hw}")


def test_calculator_sliders_move_the_readouts(page, tmp_path):
    page.select_tab(0)
    page.wait_readout_point(96300, 250)
    assert_readouts(page, evaluate_at(96300, 250))
    page.screenshot(tmp_path / "calculator.png")

    page.set("view-concurrency", 300)  # the slider of the editable slider, as a drag would set it
    page.wait_readout_point(96300, 300)
    assert_readouts(page, evaluate_at(96300, 300))
    assert "workload.concurrency=300" in page.attribute("view-cli-model", "code", "data-command")

    options = isl_options((96300,))
    index = options.index(min(options, key=lambda v: abs(v - 50000)))
    page.set("view-isl", index)  # a discrete slider's model holds the position
    page.wait_readout_point(options[index], 300)
    assert_readouts(page, evaluate_at(options[index], 300))
    page.screenshot(tmp_path / "calculator_moved.png")
    assert (tmp_path / "calculator_moved.png").stat().st_size > 10_000


def test_a_bad_value_shows_one_line_and_keeps_the_readout(page, tmp_path):
    page.select_tab(0)
    before = {(name, hw): page.readout(name, hw) for name in CELLS for hw in HARDWARE}
    page.set("view-price-per-hour-b200", -1.0, prefer="Spinner")
    error = page.wait("const e = __view.inner('view-error', '[data-error]'); return e && e.getAttribute('data-error');")
    with pytest.raises(model.ConfigError) as cli_error:
        model.load_config(["hardware.b200.price_per_hour=-1.0"])
    assert error == str(cli_error.value) and "\n" not in error
    after = {(name, hw): page.readout(name, hw) for name in CELLS for hw in HARDWARE}
    np.testing.assert_equal(after, before)
    page.screenshot(tmp_path / "calculator_error.png")
    page.set("view-price-per-hour-b200", 3.5, prefer="Spinner")
    page.wait("return __view.inner('view-error', '[data-error]') === null;")
    cost = page.wait("return __view.inner('view-readout', 'td[data-var=\"cost_per_mtok\"][data-hw=\"b200\"]')"
                     ".getAttribute('data-value');")
    point = page.js("const t = __view.inner('view-readout', 'table'); return [t.getAttribute('data-isl'),"
                    "t.getAttribute('data-n')];")
    want = evaluate_at(int(point[0]), int(point[1]), ["hardware.b200.price_per_hour=3.5"])
    np.testing.assert_allclose(float(cost), float(want.cost_per_mtok.sel(hardware="b200")), rtol=1e-12)


def test_calculator_fits_and_its_colour_bar_is_in_systems(page, tmp_path):
    page.select_tab(0)
    time.sleep(0.5)
    assert page.cut_off() == []
    bar = page.js("const b = __view.models().find(m => m.type === 'ColorBar');"
                  "return [b.title, b.color_mapper.type, Array.from(b.ticker.ticks), b.color_mapper.low,"
                  "b.color_mapper.high];")
    title, mapper, ticks, low, high = bar
    assert title == "systems per replica" and mapper == "LogColorMapper"
    assert ticks and all(low <= t <= high and np.log2(t) == int(np.log2(t)) for t in ticks)  # systems, not log2
    page.screenshot(tmp_path / "calculator_1280.png")


def test_fleet_tab_plans(page, tmp_path):
    page.select_tab(1)
    button = page.rect("view-plan", "button")
    assert button is not None and 0 <= button["top"] and button["bottom"] <= HEIGHT  # no scrolling to Plan
    assert page.rect("view-plan-download", "button") is None  # no download before there is a plan
    page.set("view-fleet-utilization", 0.7)
    page.wait("return __view.inner('view-cli-optimize', 'code').getAttribute('data-command')"
              ".includes('fleet.target_utilization=0.7');")
    page.click("view-plan")
    cost = page.wait("const e = __view.inner('view-fleet-status', '[data-total=\"cost_per_hour\"]');"
                     "return e && e.getAttribute('data-value');", 180)
    command = page.attribute("view-cli-optimize", "code", "data-command")
    app, overrides = parse_command(command)
    assert app == "optimize" and overrides == ["fleet.target_utilization=0.7"]
    want = optimize.plan_fleet(optimize.load_config(overrides))
    assert float(cost) == want.totals.cost_per_hour
    assert page.rect("view-plan-download", "button") is not None  # offered now that the plan exists
    # TTFT in view: its column lies inside the window, no sideways scroll needed
    ttft = page.wait("const e = __view.inner('view-fleet-plan', 'th[data-col=\"ttft_s\"]');"
                     "if (!e) return null; const r = e.getBoundingClientRect(); return [r.left, r.right];")
    assert 0 < ttft[0] < ttft[1] <= WIDTH
    time.sleep(0.5)
    assert page.cut_off() == []
    # the chart against the aggregated-only plan: $/hour by hardware and phase, as plan_fleet's
    data = page.wait("const s = Bokeh.documents[0].get_model_by_name('view-plan-comparison-source');"
                     "if (!s) return null; const d = {};"
                     "const entries = s.data instanceof Map ? s.data : Object.entries(s.data);"
                     "for (const [k, v] of entries) d[k] = Array.from(v);"
                     "return d;")
    plans = data.pop("plan")
    totals = dict(zip(plans, np.sum([data[k] for k in data], axis=0)))
    aggregated = optimize.plan_fleet(optimize.load_config([*overrides, "fleet.disaggregation=false"]))
    np.testing.assert_allclose(totals["plan"], want.totals.cost_per_hour, rtol=1e-12)
    np.testing.assert_allclose(totals["aggregated only"], aggregated.totals.cost_per_hour, rtol=1e-12)
    page.screenshot(tmp_path / "fleet.png")


def test_sensitivity_tab_runs_and_ranks(page, tmp_path):
    page.select_tab(2)
    assert page.rect("view-sens-downloads", "button") is None  # no download before there are indices
    page.set("view-sens-n", "64", prefer="Select")
    page.check("view-sens-use-hop_latency", False)
    page.wait("return __view.inner('view-cli-sensitivity', 'code').getAttribute('data-command')"
              ".includes('~sensitivity.parameters.hop_latency');")
    page.click("view-sens-run")
    page.wait("return __view.inner('view-sens-progress-text', '[data-done]') !== null;", 300)
    command = page.attribute("view-cli-sensitivity", "code", "data-command")
    app, overrides = parse_command(command)
    assert app == "sensitivity" and "sensitivity.n=64" in overrides
    want = sensitivity.analyze(sensitivity.load_config(overrides))
    st = want.ST.sel(output="optimal_cost_per_mtok").isel(model=0)
    top = str(st.parameter.values[int(np.nanargmax(st.values))])
    shown = page.attribute("view-sens-table", f'td[data-output="optimal_cost_per_mtok"][data-parameter="{top}"]',
                           "data-value")
    assert float(shown) == float(st.sel(parameter=top))
    assert page.js("return __view.byClass('view-sens-progress').value;") == 100
    assert page.rect("view-sens-downloads", "button") is not None
    time.sleep(0.5)
    assert page.cut_off() == []
    page.screenshot(tmp_path / "sensitivity.png")


def test_uncertainty_tab_draws_bands_and_the_price_to_beat(page, tmp_path):
    page.select_tab(3)
    assert page.rect("view-unc-downloads", "button") is None
    page.set("view-unc-n", "64", prefer="Select")
    page.wait("return __view.inner('view-cli-uncertainty', 'code').getAttribute('data-command')"
              ".includes('uncertainty.n=64');")
    page.click("view-unc-run")
    page.wait("return __view.inner('view-unc-progress-text', '[data-done]') !== null;", 300)
    app, overrides = parse_command(page.attribute("view-cli-uncertainty", "code", "data-command"))
    assert app == "uncertainty" and overrides == ["sla.min_interactivity=100.0", "uncertainty.n=64"]
    want = sensitivity.uncertainty.analyze(sensitivity.uncertainty.load_config(overrides))
    shown_model = page.js("return __view.byClass('view-unc-model').value;")
    for variable in ("optimal_cost_per_mtok", "price_to_beat"):
        for hw in HARDWARE:
            raw = page.attribute("view-unc-table", f'td[data-variable="{variable}"][data-hw="{hw}"][data-q="p50"]',
                                 "data-value")
            assert float(raw) == float(want[variable].sel(model=shown_model, hardware=hw, isl=96300, quantile=0.5))
    for name in ("view-unc-bands-fig", "view-unc-price-fig"):
        assert page.js("return Bokeh.documents[0].get_model_by_name(arguments[0]) !== null;", name)
    assert page.rect("view-unc-downloads", "button") is not None
    time.sleep(0.5)
    assert page.cut_off() == []
    page.screenshot(tmp_path / "uncertainty.png")


def test_the_url_keeps_the_state_so_a_link_reopens_the_view(page):
    page.select_tab(0)
    isl = int(page.attribute("view-readout", "table", "data-isl"))  # as the tests before left it
    page.set("view-concurrency", 320)
    page.wait_readout_point(isl, 320)
    page.js("__view.byClass('view-hardware').value = ['cerebras_wse3', 'h200'];")
    page.wait("return window.location.search.includes('n=320') && window.location.search.includes('h200');")
    link = page.driver.current_url
    try:
        shared = Page(page.driver, link)  # a fresh page from the link
        shared.wait_readout_point(isl, 320)
        assert shared.js("return __view.byClass('view-tabs').active;") == 0
        assert shared.js("return Array.from(__view.byClass('view-hardware').value);") == ["cerebras_wse3", "h200"]
        cfg = model.load_config(["select.models=[gpt_oss_120b]", "select.hardware=[cerebras_wse3,h200]"])
        want = model.evaluate(cfg, **at(isl, 320)).isel(model=0, isl=0, concurrency=0)
        for name in ("systems", "cost_per_mtok"):  # systems stay filled where h200 cannot serve (NaN cost)
            np.testing.assert_equal(shared.readout(name, "h200"), float(want[name].sel(hardware="h200")))
        Page(page.driver, shared.url.split("?")[0] + "?tab=1")
        assert page.js("return __view.byClass('view-tabs').active;") == 1
    finally:
        Page(page.driver, page.url)  # the other tests' page, as it was


def test_the_sla_percentile_select_moves_the_cheapest_concurrency(page, tmp_path):
    """The calculator's percentile select beside the SLA inputs (docs/model.md §10): at p99 the
    page shows the toolkit's cheapest concurrency meeting the SLA at p99, below p50's on the B200."""
    page.select_tab(0)
    page.set("view-sla-min", 100.0, prefer="Spinner")
    page.set("view-sla-ttft", 2.0, prefer="Spinner")
    point = page.js("const t = __view.inner('view-readout', 'table'); return [t.getAttribute('data-isl'),"
                    "t.getAttribute('data-n')];")
    isl = int(point[0])
    best = {}
    for percentile in ("p50", "p99"):
        cfg = model.load_config(["select.models=[gpt_oss_120b]", "select.hardware=[cerebras_wse3,b200]",
                                 "sla.min_interactivity=100", "sla.max_ttft_s=2", f"sla.percentile={percentile}"])
        cheapest = model.cheapest_under_sla(cfg, isl=[isl]).isel(model=0, isl=0).sel(hardware="b200")
        best[percentile] = float(cheapest.concurrency)
    assert best["p99"] < best["p50"]
    for percentile in ("p50", "p99"):
        page.set("view-sla-percentile", percentile, prefer="Select")
        page.wait("return __view.inner('view-readout', 'td[data-var=\"best_concurrency\"][data-hw=\"b200\"]')"
                  ".getAttribute('data-value') == arguments[0];", 30.0, repr(best[percentile]))
    page.screenshot(tmp_path / "calculator_p99.png")
    page.set("view-sla-percentile", "p50", prefer="Select")
