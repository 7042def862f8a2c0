"""The uncertainty tab: run :func:`sensitivity.uncertainty.analyze`, draw the bands and the price to beat.

The analysis runs in a worker thread with a progress bar; the bands of the chosen model are drawn
per hardware across ISL (P5–P95, median, catalog point), for the least SLA-meeting $/Mtok and for
the price to beat (with each hardware's catalog $/hour as a dashed line).
"""
from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd
import panel as pn
from bokeh.models import ColumnDataSource, FixedTicker, HoverTool, NumeralTickFormatter, Span
from bokeh.plotting import figure

from model.app.view import downloads
from model.app.view.callbacks import N_CHOICES
from model.app.view.figures import finite_or_nan, hardware_colors, legend_above, responsive, style, subtitle
from model.app.view.skeleton import AppTab
from model.app.view.tabs import TabSpec
from model.app.view.widgets import TABLE_CSS, declared, section
from sensitivity.uncertainty.view_state import Uncertainty, UncertaintyResult

FIG_WIDTH = 380


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


class UncertaintyTab(AppTab):
    """The uncertainty tab: the :class:`~model.app.view.skeleton.AppTab` of
    :class:`~sensitivity.uncertainty.view_state.Uncertainty`, the bands of the chosen model across
    ISL and their table at the chosen ISL."""

    callbacks_class = Uncertainty
    css = "view-unc"

    def build(self) -> pn.Row:
        """The sidebar (hardware, SLA, scenarios; the model and ISL shown) and the results."""
        unc, i = self.callbacks, self.inputs
        self.colors = hardware_colors(unc.hardware)
        self.hardware = self.follow(pn.widgets.MultiChoice(label="Hardware to compare", options=unc.hardware,
                                                           value=list(i.hardware), width=300,
                                                           css_classes=["view-unc-hardware"]), "hardware")
        self.sla = self.follow(pn.widgets.FloatInput(
            **declared("sla.min_interactivity", "SLA: min"), value=i.min_interactivity, width=145,
            css_classes=["view-unc-sla"]), "min_interactivity")
        self.n = self.follow(pn.widgets.Select(label="scenarios", options=list(N_CHOICES), value=i.n, width=145,
                                               css_classes=["view-unc-n"],
                                               description="uncertainty.n: a power of two"), "n")
        self.model = pn.widgets.Select(label="Model shown", options=[], width=300, css_classes=["view-unc-model"],
                                       disabled=True)
        self.model.param.watch(lambda e: self.draw(), "value")
        self.isl = pn.widgets.Select(label="ISL of the table", options=[], width=145, css_classes=["view-unc-isl"],
                                     disabled=True)
        self.isl.param.watch(lambda e: self.draw(), "value")
        self.bands_pane, self.price_pane = (
            pn.pane.Bokeh(None, sizing_mode="stretch_width", margin=(5, 5), styles={"flex": f"1 1 {FIG_WIDTH + 10}px"},
                          css_classes=[css]) for css in ("view-unc-bands", "view-unc-price"))
        self.table = pn.pane.HTML('<div class="note">Press <b>Run</b> to draw the scenarios.</div>',
                                  stylesheets=[TABLE_CSS], css_classes=["view-unc-table"], margin=(5, 10),
                                  sizing_mode="stretch_width", styles={"overflow-x": "auto"})
        self.downloads = pn.Row(
            self.download("bands.csv", "Bands (CSV)", lambda r: downloads.csv_bytes(r.table())),
            self.download("bands.nc", "Bands (netCDF)", lambda r: downloads.netcdf_bytes(r.bands, r.command)),
            margin=(5, 5), visible=False, css_classes=["view-unc-downloads"])
        note = pn.pane.HTML(
            '<span class="note">Every uncertain catalog value is drawn from its distribution '
            '(conf/uncertainty/default.yaml, each with a source) together with the GPU model\'s calibration '
            'error; each scenario is the cost model at the cheapest SLA-meeting concurrency. The price to beat '
            'is the $/hour per system at which a hardware ties the best other. The command line also plans a '
            'robust fleet.</span>', stylesheets=[TABLE_CSS], margin=(0, 10))
        return self.layout(
            [section("What is drawn"), note, self.hardware, pn.Row(self.sla, self.n),
             pn.Row(self.run_button, margin=(12, 5)), self.progress, self.progress_text,
             section("What is shown"), self.model, self.isl],
            [self.alert.pane, self.command.pane, pn.FlexBox(self.bands_pane, self.price_pane, flex_wrap="wrap"),
             self.table, self.downloads], "Uncertainty")

    # -- run ------------------------------------------------------------------------------
    def analyze(self, inputs: Any, progress: Any) -> Any:
        """:meth:`Uncertainty.analyze` of ``inputs`` (see :class:`~model.app.view.skeleton.AppTab`)."""
        return self.callbacks.analyze(inputs, progress=progress)

    def progress_note(self, done: int, total: int) -> str:
        """The progress line after ``done`` of ``total`` blocks."""
        return f"Evaluating the scenarios: block {done:,} of {total:,}"

    def show(self, result: UncertaintyResult, seconds: float = float("nan")) -> None:
        """Show an analysis that took ``seconds``: the model and ISL choices, the two charts, the table."""
        self.result = result
        isl = [int(v) for v in result.bands.isl.values]
        first = self.model.disabled  # the first result: show the workload's ISL, not the smallest
        chosen_model, chosen_isl = (None, None) if first else (self.model.value, self.isl.value)
        with pn.io.hold():
            self.alert.show(None)
            self.command.show(result.command)
            self.model.options = result.models
            self.model.value = chosen_model if chosen_model in result.models else result.models[0]
            workload_isl = int(self.callbacks.base.workload.isl)
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


TAB = TabSpec(name="uncertainty", title="Uncertainty", order=40, make=UncertaintyTab,
              url_keys={"unc_hardware": ("hardware", "value"), "unc_sla": ("sla", "value"), "unc_n": ("n", "value")})
