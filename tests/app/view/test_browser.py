"""The view in real headless Chromium: sliders moved through BokehJS, readouts checked against the
toolkit's own answers, a screenshot of each tab saved into tmp_path.

Needs Debian's ``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` and selenium (the test extra);
skipped with the reason otherwise.  Network: 127.0.0.1 only.
"""
import time

import numpy as np
import pytest

import model
import optimize
import sensitivity
from model.app.view.cli import parse_command
from model.app.view.drive import Page, ViewServer, chrome, missing
from model.app.view.state import isl_options
from tests.helpers import at

pytestmark = [pytest.mark.browser, pytest.mark.cli]

REASON = missing()
HARDWARE = ("cerebras_wse3", "b200")
CELLS = ("cost_per_mtok", "interactivity", "ttft", "systems", "cost_per_output_mtok", "cache_read_throughput")


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    if REASON:
        pytest.skip(REASON)
    profile = tmp_path_factory.mktemp("chromium-profile")
    with ViewServer() as server:
        driver = chrome(1400, 900, str(profile))
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


def test_fleet_tab_plans(page, tmp_path):
    page.select_tab(1)
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
    time.sleep(0.5)
    page.screenshot(tmp_path / "fleet.png")


def test_sensitivity_tab_runs_and_ranks(page, tmp_path):
    page.select_tab(2)
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
    time.sleep(0.5)
    page.screenshot(tmp_path / "sensitivity.png")
