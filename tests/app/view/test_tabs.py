"""The Panel tabs without a browser: widgets in, panes and figure sources out, downloads as files."""
import importlib.metadata
import io
import re

import numpy as np
import pandas as pd
import panel as pn
import pytest
import xarray as xr

import model
import optimize
import sensitivity.uncertainty
from model.app.view import create_app, url_keys
from model.app.view.calculator import CalculatorTab
from model.app.view.cli import parse_command
from model.app.view.tabs import ENTRY_POINT_GROUP, TabSpec, installed_tabs, url_tabs
from optimize.view_tab import PLAN_COLUMNS, FleetTab
from sensitivity.uncertainty.view_tab import UncertaintyTab
from sensitivity.view_tab import SensitivityTab
from tests.helpers import at


def cell_values(html: str) -> dict[tuple[str, str], float]:
    """(variable, hardware) -> data-value of the readout table."""
    found = re.findall(r'data-var="(\w+)" data-hw="(\w+)" data-value="([^"]*)"', html)
    return {(v, h): float(x) if x else np.nan for v, h, x in found}


@pytest.fixture
def tab(calculator):
    return CalculatorTab(calculator)


def test_moving_the_concurrency_shows_evaluate_at_that_point(tab):
    tab.concurrency.value = 300
    tab.isl_exact.value = 50000
    shown = cell_values(tab.readout.object)
    cfg = model.load_config(["select.models=[gpt_oss_120b]", "select.hardware=[cerebras_wse3,b200]"])
    ds = model.evaluate(cfg, **at(50000, 300)).isel(model=0, isl=0, concurrency=0)
    for hw in ("cerebras_wse3", "b200"):
        for name in ("cost_per_mtok", "interactivity", "ttft", "systems", "cache_read_throughput",
                     "cost_per_output_mtok", "margin_per_mtok", "layers_per_system"):
            np.testing.assert_allclose(shown[(name, hw)], float(ds[name].sel(hardware=hw)), rtol=1e-12)
        np.testing.assert_allclose(shown[("kv_gb", hw)], float(ds.kv_cache_bytes) * 1e-9, rtol=1e-12)
    assert 'data-isl="50000" data-n="300"' in tab.readout.object
    assert tab.isl.value == tab.nearest_isl(50000)  # the slider follows the typed ISL
    point = tab.figures.points["cerebras_wse3"].data
    assert list(point["n"]) == [300.0] and point["cost"][0] == shown[("cost_per_mtok", "cerebras_wse3")]
    assert "workload.isl=50000 workload.concurrency=300" in tab.command.pane.object


def test_a_bad_value_shows_one_line_and_keeps_the_readout(tab):
    before = tab.readout.object
    price = tab.hw_inputs["b200"].objects[0]
    assert price.label.startswith("$/hour")
    price.value = -1.0
    assert tab.alert.pane.visible
    assert "hardware.b200.price_per_hour=-1.0: must be a finite number &gt; 0" in tab.alert.pane.object
    assert tab.readout.object == before
    tab.concurrency.value = 200  # still refused: the bad value stays in its input
    assert tab.readout.object == before and tab.alert.pane.visible
    price.value = 3.0
    assert not tab.alert.pane.visible and 'data-n="200"' in tab.readout.object


def test_changing_the_hardware_rebuilds_the_figures(tab):
    tab.hardware.value = ["cerebras_wse3", "gb200_nvl72", "mi355x"]
    assert tab.figures.hardware == ("cerebras_wse3", "gb200_nvl72", "mi355x")
    assert [t for t in tab.hw_tabs._names] == ["cerebras_wse3", "gb200_nvl72", "mi355x"]
    assert set(h for _, h in cell_values(tab.readout.object)) == {"cerebras_wse3", "gb200_nvl72", "mi355x"}
    tab.feasibility_hw.value = "mi355x"
    assert tab._drawn.hardware == "mi355x"


def test_catalog_inputs_show_source_and_uncertain_mark(tab):
    ratio = tab.hw_inputs["cerebras_wse3"].objects[1]
    assert ratio.label.endswith("⚠")
    description = ratio.description.object if hasattr(ratio.description, "object") else str(ratio.description)
    assert "Seed calculator" in description
    assert "⚠" not in tab.hw_inputs["cerebras_wse3"].objects[0].label


def test_declared_inputs_show_the_fields_unit_and_meaning(tab):
    """The SLA inputs say the field's declared unit and meaning (model.schema.SlaSpec); the hop latency
    is shown in its declared display unit (model.quantities: µs) and set back in seconds."""
    from model.fields import field_docs
    from model.schema import SlaSpec

    sla = field_docs(SlaSpec)
    assert tab.min_interactivity.label == f"SLA: min ({sla['min_interactivity'].unit})" == "SLA: min (tok/s)"
    assert sla["min_interactivity"].doc in str(tab.min_interactivity.description)
    assert tab.max_ttft.label == "max TTFT (s)" and sla["max_ttft_s"].doc in str(tab.max_ttft.description)
    assert tab.percentile.options == ["p50", "p90", "p99"]
    hop = next(w for w in tab.hw_inputs["cerebras_wse3"].objects if "hop latency" in w.label)
    assert hop.label.startswith("hop latency (µs)")
    catalog = float(tab.state.inputs.values["hardware.cerebras_wse3.hop_latency_s"])
    assert hop.value == pytest.approx(catalog * 1e6, rel=1e-12)
    hop.value = 2.0
    assert tab.state.inputs.values["hardware.cerebras_wse3.hop_latency_s"] == pytest.approx(2e-6, rel=1e-12)


def test_grid_downloads(tab):
    csv = pd.read_csv(tab._grid_csv())
    assert len(csv) == 2 * 1024 and "cost_per_mtok [$/Mtok]" in csv.columns
    ds = xr.open_dataset(io.BytesIO(tab._grid_netcdf().getvalue()), engine="h5netcdf").load()
    np.testing.assert_array_equal(ds.cost_per_mtok.values, tab.state.result.grid.cost_per_mtok.values)
    assert ds.attrs["command"].startswith("serving-model ")
    assert ds.cost_per_mtok.attrs["units"] == "$/Mtok"


def test_the_feasibility_colour_bar_is_in_systems(tab):
    f = tab.feasibility_fig
    assert type(f.mapper).__name__ == "LogColorMapper" and f.colorbar.title == "systems per replica"
    systems = np.asarray(f.cells.data["systems"], dtype=float)
    low, high = np.nanmin(systems), np.nanmax(systems)
    assert (f.mapper.low, f.mapper.high) == (low, high)  # the colour scale spans the systems drawn
    ticks = list(f.ticker.ticks)
    assert ticks and all(low <= t <= high and np.log2(t) == int(np.log2(t)) for t in ticks)  # powers of two
    quads = [r for r in f.fig.renderers if type(r.glyph).__name__ == "Quad"]
    assert quads[0].glyph.fill_color["field"] == "systems"


def test_fleet_tab_plans_in_a_worker(fleet):
    tab = FleetTab(fleet)
    assert not tab.download_plan.visible and not tab.comparison.visible  # nothing to download before a plan
    tab.utilization.value = 0.7
    assert "fleet.target_utilization=0.7" in tab.command.pane.object
    tab.start(wait=True)
    want = optimize.plan_fleet(optimize.load_config(["fleet.target_utilization=0.7"]))
    assert f'data-value="{want.totals.cost_per_hour!r}"' in tab.status.object
    assert "view-plan-table" in tab.plan_table.object and not tab.shortfalls.visible
    assert tab.download_plan.visible and tab.comparison.visible
    # the chart: this plan against the best aggregated-only plan, $/hour by hardware and phase
    aggregated = optimize.plan_fleet(optimize.load_config(["fleet.target_utilization=0.7",
                                                           "fleet.disaggregation=false"]))
    data = tab.comparison.object.select_one({"name": "view-plan-comparison-source"}).data
    stacks = {k: np.asarray(v, dtype=float) for k, v in data.items() if k != "plan"}
    totals = dict(zip(data["plan"], np.sum(list(stacks.values()), axis=0)))
    np.testing.assert_allclose(totals["plan"], want.totals.cost_per_hour, rtol=1e-12)
    np.testing.assert_allclose(totals["aggregated only"], aggregated.totals.cost_per_hour, rtol=1e-12)
    by_phase = want.plan.groupby(["hardware", "phase"]).cost_per_hour.sum()
    row = data["plan"].index("plan")
    for (hw, phase), cost in by_phase.items():
        np.testing.assert_allclose(stacks[f"{hw} {phase}"][row], cost, rtol=1e-12)
    assert 'data-total="aggregated_only_cost_per_hour"' in tab.status.object
    plan = pd.read_csv(tab.download_plan.callback())
    assert len(plan) == len(want.plan)
    tab.inventory["cerebras_wse3"].value = 40
    tab.start(wait=True)
    assert 'data-status="infeasible"' in tab.status.object and tab.shortfalls.visible
    tab.demand["gpt_oss_120b"].value = -2.0
    tab.start(wait=True)
    assert "fleet.demand.gpt_oss_120b=-2.0" in tab.alert.pane.object and tab.shortfalls.visible


def test_plan_table_shows_ttft_before_the_capacity_columns():
    order = list(PLAN_COLUMNS)
    assert order.index("ttft_s") < order.index("capacity_rps") and order.index("ttft_s") < 10


def test_sensitivity_tab_runs_with_progress(sens):
    tab = SensitivityTab(sens)
    assert not tab.downloads.visible  # nothing to download before a run
    tab.n.value = 64
    tab.checks["hop_latency"].value = False
    tab.start(wait=True)
    assert tab.progress.value == 100 and "data-done" in tab.progress_text.object
    assert "~sensitivity.parameters.hop_latency" in tab.command.pane.object
    ranking = tab.result.ranking("optimal_cost_per_mtok")
    bars = tab.figures.sources["optimal_cost_per_mtok"].data
    assert list(bars["parameter"])[::-1] == list(ranking.parameter)
    assert "hop_latency" not in list(bars["parameter"])
    table = pd.read_csv(tab.downloads.objects[0].callback())
    assert set(table.output) == {"cost_per_mtok", "optimal_cost_per_mtok", "optimal_concurrency"}
    ds = xr.open_dataset(io.BytesIO(tab.downloads.objects[1].callback().getvalue()), engine="h5netcdf").load()
    np.testing.assert_array_equal(ds.ST.values, tab.result.indices.ST.values)
    assert tab.downloads.visible
    tab.bounds["isl"][0].value = 900000.0
    tab.start(wait=True)
    assert "lower bound must be" in tab.alert.pane.object


def test_uncertainty_tab_draws_the_bands_of_the_command(unc):
    tab = UncertaintyTab(unc)
    assert not tab.downloads.visible and tab.model.disabled
    tab.n.value = 64
    tab.start(wait=True)
    assert tab.progress.value == 100 and "data-done" in tab.progress_text.object and tab.downloads.visible
    app, overrides = parse_command(tab.command.pane.object.split("data-command=\"", 1)[1].split("\"", 1)[0])
    assert app == "uncertainty" and overrides == ["sla.min_interactivity=100.0", "uncertainty.n=64"]
    want = sensitivity.uncertainty.analyze(sensitivity.uncertainty.load_config(overrides))
    model_name, isl = tab.model.value, int(tab.isl.value)
    assert isl == 96300
    for variable in ("optimal_cost_per_mtok", "price_to_beat"):
        for hw in ("cerebras_wse3", "b200"):
            for q, level in (("p5", 0.05), ("p50", 0.5), ("p95", 0.95)):
                shown = re.search(f'data-variable="{variable}" data-hw="{hw}" data-q="{q}" data-value="([^"]*)"',
                                  tab.table.object).group(1)
                assert float(shown) == float(want[variable].sel(model=model_name, hardware=hw, isl=isl,
                                                                quantile=level))
    # the bands chart draws the same numbers across ISL
    src = tab.bands_pane.object.select_one({"name": "view-unc-bands-fig-b200"}).data
    band = want.optimal_cost_per_mtok.sel(model=model_name, hardware="b200")
    np.testing.assert_array_equal(src["p50"], band.sel(quantile=0.5).values)
    np.testing.assert_array_equal(src["isl"], band.isl.values.astype(float))
    table = pd.read_csv(tab.downloads.objects[0].callback())
    assert set(table.variable) == {"optimal_cost_per_mtok", "price_to_beat"} and len(table) == 2 * 5 * 2 * 5
    tab.sla.value = -1.0
    tab.start(wait=True)
    assert "sla.min_interactivity=-1.0" in tab.alert.pane.object


def test_create_app_has_four_tabs_and_keeps_its_inputs_in_the_url():
    app = create_app()
    assert isinstance(app, pn.Column)
    tabs = app.objects[1]
    assert tabs._names == ["Calculator", "Fleet plan", "Sensitivity", "Uncertainty"]
    assert set(app.tabs) == {"calculator", "fleet", "sensitivity", "uncertainty"}
    keys = url_keys(app)
    assert keys["tab"] == (tabs, "active") and keys["n"] == (app.tabs["calculator"].concurrency, "value")
    for widget, parameter in keys.values():
        assert parameter in widget.param


def test_each_app_registers_its_tab_by_entry_point():
    """The page's tabs come from the apps' entry points (llm_serving_economics.view_tabs), each
    built by its own package, in the page's order; a link's query keys are those the page had
    when it named its tabs itself."""
    specs = installed_tabs()
    assert [(s.name, s.title, s.make.__module__) for s in specs] == [
        ("calculator", "Calculator", "model.app.view.calculator"), ("fleet", "Fleet plan", "optimize.view_tab"),
        ("sensitivity", "Sensitivity", "sensitivity.view_tab"),
        ("uncertainty", "Uncertainty", "sensitivity.uncertainty.view_tab")]
    assert url_tabs() == {
        "model": "calculator", "hardware": "calculator", "isl": "calculator", "n": "calculator", "sla": "calculator",
        "ttft": "calculator", "fleet_utilization": "fleet", "fleet_disaggregation": "fleet", "fleet_sla": "fleet",
        "sens_model": "sensitivity", "sens_hardware": "sensitivity", "sens_n": "sensitivity",
        "sens_sla": "sensitivity", "unc_hardware": "uncertainty", "unc_sla": "uncertainty", "unc_n": "uncertainty"}


class FakeEntryPoint:
    def __init__(self, name, target):
        self.name, self.value, self.target = name, f"tests:{name}", target

    def load(self):
        return self.target


@pytest.mark.parametrize("found, error", [
    ([FakeEntryPoint("fleet", object())], "must name a TabSpec called 'fleet'"),
    ([FakeEntryPoint("fleet", TabSpec("other", "Other", 1, object))], "must name a TabSpec called 'fleet'"),
    ([FakeEntryPoint("a", TabSpec("a", "A", 1, object, {"n": ("x", "value")})),
      FakeEntryPoint("b", TabSpec("b", "B", 2, object, {"n": ("y", "value")}))],
     "'n' is claimed by the tabs 'a' and 'b'"),
])
def test_a_broken_tab_registration_is_refused(monkeypatch, found, error):
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: found if group == ENTRY_POINT_GROUP else [])
    installed_tabs.cache_clear()
    try:
        with pytest.raises((TypeError, ValueError), match=re.escape(error)):
            installed_tabs()
    finally:
        installed_tabs.cache_clear()


class FakeLocation:
    """``pn.state.location`` as keep_in_url uses it: the link's query, the search it writes."""

    def __init__(self, query):
        self.query_params, self.search = dict(query), ""


class FakeDoc:
    """A session's document that keeps the timeout callbacks, run by the test."""

    def __init__(self):
        self.callbacks = []

    def add_timeout_callback(self, callback, ms):
        self.callbacks.append(callback)

    def run(self):
        callbacks, self.callbacks = self.callbacks, []
        for callback in callbacks:
            callback()


def test_a_page_builds_the_calculator_and_the_other_tabs_when_opened():
    app = create_app()
    assert app.tabs.built() == ["calculator"]
    holders = app.tab_widget.objects
    assert holders[0].objects == [app.tabs["calculator"].panel]
    assert [len(h.objects) for h in holders[1:]] == [0, 0, 0]
    app.tab_widget.active = 2  # a user opens the Sensitivity tab
    assert app.tabs.built() == ["calculator", "sensitivity"]
    assert holders[2].objects == [app.tabs["sensitivity"].panel]
    assert isinstance(app.tabs["sensitivity"], SensitivityTab)
    assert isinstance(app.tabs["fleet"], FleetTab) and holders[1].objects == [app.tabs["fleet"].panel]
    with pytest.raises(KeyError):
        app.tabs["nope"]
    tab = app.tabs["calculator"]  # the compared hardware's inputs are built, another's when it is added
    assert set(tab.hw_inputs) == set(tab.hardware.value)
    tab.hardware.value = [*tab.hardware.value, "mi355x"]
    assert "mi355x" in tab.hw_inputs and tab.hw_tabs._names[-1] == "mi355x"


def test_a_link_builds_the_tab_it_names_and_unbuilt_tabs_add_nothing_to_the_url():
    from model.app.view import keep_in_url

    app = create_app()
    location, doc = FakeLocation({"fleet_utilization": 0.7, "n": 400}), FakeDoc()
    keep_in_url(app, location, doc)
    assert app.tabs.built() == ["calculator", "fleet"]
    assert app.tabs["fleet"].utilization.value == 0.7 and app.tabs["calculator"].concurrency.value == 400
    doc.run()
    assert location.search == "?n=400&fleet_utilization=0.7"
    app.tab_widget.active = 3  # opening the uncertainty tab adds only the tab to the URL
    doc.run()
    assert app.tabs.built() == ["calculator", "fleet", "uncertainty"]
    assert location.search == "?tab=3&n=400&fleet_utilization=0.7"
    app.tabs["uncertainty"].n.value = 128  # its inputs follow once it is built
    doc.run()
    assert location.search == "?tab=3&n=400&fleet_utilization=0.7&unc_n=128"
