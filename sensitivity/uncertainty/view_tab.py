"""The uncertainty tab: run :func:`sensitivity.uncertainty.analyze`, draw the bands and the price to beat.

The analysis runs in a worker thread with a progress bar; the bands of the chosen model are drawn
per hardware across ISL (P5–P95, median, catalog point), for the least SLA-meeting $/Mtok and for
the price to beat (with each hardware's catalog $/hour as a dashed line).
"""
from __future__ import annotations

import html
import threading
from typing import Any

import numpy as np
import pandas as pd
import panel as pn
from bokeh.models import ColumnDataSource, FixedTicker, HoverTool, NumeralTickFormatter, Span
from bokeh.plotting import figure

from model.app.view import downloads
from model.app.view.cli import command
from model.app.view.figures import finite_or_nan, hardware_colors, legend_above, responsive, style, subtitle
from model.app.view.tabs import TabSpec
from model.app.view.widgets import TABLE_CSS, BackgroundRun, CommandBox, ErrorAlert, section
from sensitivity.uncertainty.view_state import N_CHOICES, Uncertainty, UncertaintyInputs, UncertaintyResult

FIG_WIDTH = 380
_shared: Uncertainty | None = None
_shared_lock = threading.Lock()


def shared_uncertainty() -> Uncertainty:
    """One :class:`Uncertainty` for every session of the server.

    Returns
    -------
    Uncertainty
    """
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Uncertainty()
        return _shared


def band_figure(table: pd.DataFrame, colors: dict[str, str], title: str, y_label: str, note: str = "",
                reference: dict[str, float] | None = None, width: int = 380, height: int = 330, name: str = ""):
    """P5–P95 bands, the median and the catalog point across ISL, one colour per hardware.

    Parameters
    ----------
    table
        Rows of one model and one variable of
        :meth:`sensitivity.uncertainty.view_state.UncertaintyResult.table` (columns hardware, isl,
        p5, p50, p95, point).
    colors
        Color per hardware type.
    title, y_label
        Texts (the y label with its unit).
    note
        A second title line (what the band, line and marker are).
    reference
        A horizontal dashed line per hardware (the catalog $/hour beside a price to beat).
    width, height
        Least width (the figure takes its container's width) and height, pixels.
    name
        The figure's Bokeh name (the browser tests find it by it).

    Returns
    -------
    bokeh.plotting.figure
        Non-finite values (an infinite price to beat, an SLA never met) are left out.
    """
    fig = figure(x_axis_type="log", y_axis_type="log", width=width, height=height, title=title, name=name,
                 x_axis_label="ISL (tokens per request)", y_axis_label=y_label,
                 tools="pan,wheel_zoom,box_zoom,reset,save")
    for hw, rows in table.groupby("hardware", sort=False):
        rows = rows.sort_values("isl")
        data = {k: finite_or_nan(rows[k].replace([np.inf, -np.inf], np.nan)) for k in ("p5", "p50", "p95", "point")}
        src = ColumnDataSource({"isl": rows["isl"].to_numpy(float), **data}, name=f"{name}-{hw}")
        color = colors.get(str(hw), "#777")
        fig.varea(x="isl", y1="p5", y2="p95", source=src, fill_color=color, fill_alpha=0.18)
        line = fig.line("isl", "p50", source=src, color=color, line_width=2.5, legend_label=str(hw))
        fig.scatter("isl", "point", source=src, color=color, marker="diamond", size=10, line_color="black")
        fig.add_tools(HoverTool(renderers=[line], tooltips=[("", str(hw)), ("ISL", "@isl{0,0}"),
                                                            ("P5", "@p5{0.0000}"), ("P50", "@p50{0.0000}"),
                                                            ("P95", "@p95{0.0000}"), ("catalog", "@point{0.0000}")]))
        if reference and hw in reference:
            fig.add_layout(Span(location=float(reference[hw]), dimension="width", line_color=color,
                                line_dash="dashed", line_width=1.5))
    fig.xaxis.ticker = FixedTicker(ticks=sorted({float(v) for v in table["isl"]}))
    fig.xaxis.formatter = NumeralTickFormatter(format="0a")
    style(fig)
    responsive(fig, width)
    legend_above(fig)
    if note:
        subtitle(fig, note)
    return fig


def number(value: float, unit: str) -> str:
    """A band cell: ``any`` for an infinite price to beat, ``-`` where there is no value."""
    if np.isposinf(value):
        return "any"
    if not np.isfinite(value):
        return "-"
    return f"{value:,.2f}" if unit == "$/h" else f"{value:.4g}"


def bands_html(table: pd.DataFrame, model: str, isl: int) -> str:
    """The bands of one model at one ISL as a table: one row per (variable, hardware).

    Each number cell carries ``data-variable``, ``data-hw``, ``data-q`` and ``data-value`` (the
    exact number, ``repr``), so that tests read what :func:`sensitivity.uncertainty.analyze` gave.

    Parameters
    ----------
    table
        :meth:`UncertaintyResult.table`.
    model
        The model shown.
    isl
        The ISL shown.

    Returns
    -------
    str
    """
    rows = table[(table.model == model) & (table.isl == isl)]
    quantiles = [c for c in rows.columns if c.startswith("p") and c[1:].isdigit()]
    labels = {"optimal_cost_per_mtok": "least $/Mtok meeting the SLA", "price_to_beat": "price to beat"}
    body = []
    for _, r in rows.iterrows():
        cells = "".join(f'<td data-variable="{r.variable}" data-hw="{html.escape(str(r.hardware))}" data-q="{q}" '
                        f'data-value="{float(r[q])!r}">{number(float(r[q]), r.unit)}</td>'
                        for q in [*quantiles, "point"])
        body.append(f'<tr><td class="l">{html.escape(labels.get(r.variable, r.variable))}</td>'
                    f'<td class="l">{html.escape(str(r.hardware))}</td><td class="u">{html.escape(r.unit)}</td>'
                    f'{cells}<td>{float(r.defined):.0%}</td></tr>')
    head = "".join(f"<th>{q.upper()}</th>" for q in quantiles)
    return (f'<table class="vt view-unc-table"><caption>{html.escape(model)} at ISL {isl:,}: over the scenarios '
            f'and at the catalog values (price to beat: any = no other hardware meets the SLA)</caption><thead><tr>'
            f'<th class="l"></th><th class="l">hardware</th><th class="l">unit</th>{head}<th>catalog</th>'
            f'<th>SLA met</th></tr></thead><tbody>{"".join(body)}</tbody></table>')


class UncertaintyTab(BackgroundRun):
    """The uncertainty tab's widgets, panes and callbacks.

    Parameters
    ----------
    unc
        The callbacks (default: the server-wide :func:`shared_uncertainty`).
    """

    def __init__(self, unc: Uncertainty | None = None) -> None:
        self.unc = shared_uncertainty() if unc is None else unc
        self.inputs: UncertaintyInputs = self.unc.defaults()
        self.result: UncertaintyResult | None = None
        self.running = threading.Lock()
        self.colors = hardware_colors(self.unc.hardware)
        i = self.inputs

        self.hardware = pn.widgets.MultiChoice(label="Hardware to compare", options=self.unc.hardware,
                                               value=list(i.hardware), width=300, css_classes=["view-unc-hardware"])
        self.hardware.param.watch(lambda e: self.set("hardware", e.new), "value")
        self.sla = pn.widgets.FloatInput(label="SLA: min tok/s", value=i.min_interactivity, width=145,
                                         css_classes=["view-unc-sla"],
                                         description="sla.min_interactivity: least output tok/s per request")
        self.sla.param.watch(lambda e: self.set("min_interactivity", e.new), "value")
        self.n = pn.widgets.Select(label="scenarios", options=list(N_CHOICES), value=i.n, width=145,
                                   css_classes=["view-unc-n"], description="uncertainty.n: a power of two")
        self.n.param.watch(lambda e: self.set("n", e.new), "value")
        self.run_button = pn.widgets.Button(label="Run", color="primary", width=140, css_classes=["view-unc-run"])
        self.run_button.on_click(lambda event: self.start())
        self.progress = pn.indicators.Progress(label="progress", value=0, max=100, width=290, bar_color="primary",
                                               css_classes=["view-unc-progress"])
        self.progress_text = pn.pane.HTML('<span class="note">Not run yet.</span>', stylesheets=[TABLE_CSS],
                                          css_classes=["view-unc-progress-text"], margin=(0, 10))
        self.model = pn.widgets.Select(label="Model shown", options=[], width=300, css_classes=["view-unc-model"],
                                       disabled=True)
        self.model.param.watch(lambda e: self.draw(), "value")
        self.isl = pn.widgets.Select(label="ISL of the table", options=[], width=145, css_classes=["view-unc-isl"],
                                     disabled=True)
        self.isl.param.watch(lambda e: self.draw(), "value")

        self.alert = ErrorAlert("view-unc-error")
        self.command = CommandBox("view-cli-uncertainty")
        self.bands_pane = pn.pane.Bokeh(None, sizing_mode="stretch_width", margin=(5, 5),
                                        styles={"flex": f"1 1 {FIG_WIDTH + 10}px"}, css_classes=["view-unc-bands"])
        self.price_pane = pn.pane.Bokeh(None, sizing_mode="stretch_width", margin=(5, 5),
                                        styles={"flex": f"1 1 {FIG_WIDTH + 10}px"}, css_classes=["view-unc-price"])
        self.table = pn.pane.HTML('<div class="note">Press <b>Run</b> to draw the scenarios.</div>',
                                  stylesheets=[TABLE_CSS], css_classes=["view-unc-table"], margin=(5, 10),
                                  sizing_mode="stretch_width", styles={"overflow-x": "auto"})
        self.downloads = pn.Row(
            pn.widgets.FileDownload(callback=self._csv, filename="bands.csv", label="Bands (CSV)",
                                    color="primary", variant="outline", width=150),
            pn.widgets.FileDownload(callback=self._netcdf, filename="bands.nc", label="Bands (netCDF)",
                                    color="primary", variant="outline", width=150),
            margin=(5, 5), visible=False, css_classes=["view-unc-downloads"])
        self.command.show(command("uncertainty", self.unc.overrides(self.inputs)))
        note = pn.pane.HTML(
            '<span class="note">Every uncertain catalog value is drawn from its distribution '
            '(conf/uncertainty/default.yaml, each with a source) together with the GPU model\'s calibration '
            'error; each scenario is the cost model at the cheapest SLA-meeting concurrency. The price to beat '
            'is the $/hour per system at which a hardware ties the best other. The command line also plans a '
            'robust fleet.</span>', stylesheets=[TABLE_CSS], margin=(0, 10))
        self.panel = pn.Row(
            pn.Column(section("What is drawn"), note, self.hardware, pn.Row(self.sla, self.n),
                      pn.Row(self.run_button, margin=(12, 5)), self.progress, self.progress_text,
                      section("What is shown"), self.model, self.isl,
                      width=340, styles={"background": "#f9fafb", "border-right": "1px solid #e5e7eb"}),
            pn.Column(self.alert.pane, self.command.pane,
                      pn.FlexBox(self.bands_pane, self.price_pane, flex_wrap="wrap"), self.table, self.downloads,
                      sizing_mode="stretch_width", styles={"min-width": "0"}),
            sizing_mode="stretch_width", name="Uncertainty")

    # -- inputs ---------------------------------------------------------------------------
    def set(self, key: str, value: Any) -> None:
        """Change one input and show the new equivalent command.

        Parameters
        ----------
        key
            A :class:`UncertaintyInputs` attribute.
        value
            The widget's new value.
        """
        self.inputs = self.inputs.set(key, value)
        self.command.show(command("uncertainty", self.unc.overrides(self.inputs)))

    # -- run ------------------------------------------------------------------------------
    def analyze(self, inputs: Any, progress: Any) -> Any:
        """The analysis of ``inputs`` (see :class:`BackgroundRun`)."""
        return self.unc.analyze(inputs, progress=progress)

    def progress_note(self, done: int, total: int) -> str:
        """The progress line after ``done`` of ``total`` blocks."""
        return f"Evaluating the scenarios: block {done:,} of {total:,}"

    def show(self, result: UncertaintyResult, seconds: float = float("nan")) -> None:
        """Show an analysis: the model and ISL choices, the two charts, the table.

        Parameters
        ----------
        result
            The analysis.
        seconds
            Its wall time.
        """
        self.result = result
        self.run_button.loading = False
        isl = [int(v) for v in result.bands.isl.values]
        first = self.model.disabled  # the first result: show the workload's ISL, not the smallest
        chosen_model, chosen_isl = (None, None) if first else (self.model.value, self.isl.value)
        with pn.io.hold():
            self.alert.show(None)
            self.command.show(result.command)
            self.model.options = result.models
            self.model.value = chosen_model if chosen_model in result.models else result.models[0]
            workload_isl = int(self.unc.base.workload.isl)
            self.isl.options = isl
            self.isl.value = chosen_isl if chosen_isl in isl else (workload_isl if workload_isl in isl else isl[0])
            self.model.disabled = self.isl.disabled = False
            self.downloads.visible = True  # offered once there is something to download
            self.progress.value = 100
            self.progress_text.object = (f'<span class="note" data-done="1">Done: {result.bands.attrs["scenarios"]:,} '
                                         f'scenarios in {seconds:.1f} s.</span>')
            self.draw()

    def draw(self) -> None:
        """Draw the chosen model's charts and the table at the chosen ISL."""
        result = self.result
        if result is None or self.model.value not in result.models:
            return
        table = result.table(self.model.value)
        sla = float(result.bands.attrs["sla_min_interactivity"])
        scenarios = int(result.bands.attrs["scenarios"])
        cost = table[table.variable == "optimal_cost_per_mtok"]
        price = table[table.variable == "price_to_beat"]
        head = f"{self.model.value}, SLA {sla:,.0f} tok/s"
        self.bands_pane.object = band_figure(
            cost, self.colors, f"{head}: least $/Mtok", "$/Mtok (all tokens) meeting the SLA",
            note=f"band P5–P95 of {scenarios:,} scenarios, line P50, ◆ catalog", width=FIG_WIDTH,
            name="view-unc-bands-fig")
        self.price_pane.object = band_figure(
            price, self.colors, f"{head}: price to beat", "$/hour per system",
            note="band P5–P95, line P50, ◆ catalog; dashed: catalog $/h", reference=result.prices,
            width=FIG_WIDTH, name="view-unc-price-fig")
        if self.isl.value is not None:
            self.table.object = bands_html(table, self.model.value, int(self.isl.value))

    # -- downloads ------------------------------------------------------------------------
    def _csv(self):
        if self.result is None:
            return downloads.as_file(b"")
        return downloads.as_file(downloads.csv_bytes(self.result.table()))

    def _netcdf(self):
        if self.result is None:
            return downloads.as_file(b"")
        return downloads.as_file(downloads.netcdf_bytes(self.result.bands, self.result.command))


TAB = TabSpec(name="uncertainty", title="Uncertainty", order=40, make=UncertaintyTab,
              url_keys={"unc_hardware": ("hardware", "value"), "unc_sla": ("sla", "value"), "unc_n": ("n", "value")})
