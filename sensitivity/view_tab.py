"""The sensitivity tab: choose parameters and ranges, run :func:`sensitivity.analyze`, rank by ST.

The analysis runs in a worker thread; its ``progress`` callback drives a progress bar.  The
total-order indices are drawn as horizontal bars per output, largest first.
"""
from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd
import panel as pn
from bokeh.models import ColumnDataSource, FactorRange, HoverTool, Whisker
from bokeh.plotting import figure

from model.app.view import downloads
from model.app.view.callbacks import N_CHOICES
from model.app.view.figures import responsive, style
from model.app.view.skeleton import AppTab
from model.app.view.tabs import TabSpec
from model.app.view.widgets import TABLE_CSS, declared, section
from sensitivity.view_state import (
    OUTPUT_LABELS,
    Sensitivity,
    SensitivityResult,
)

FIG_WIDTH = 270  # least width of each bar chart: three side by side beside the sidebar at 1280 px
class SobolFigures:
    """Total-order indices ST as horizontal bars, one figure per output, largest first.

    Parameters
    ----------
    outputs
        Output name -> title.
    width, height
        Least width of each figure (it takes its container's width) and height, pixels.
    """

    def __init__(self, outputs: dict[str, str], width: int = 400, height: int = 320) -> None:
        self.figs: dict[str, object] = {}
        self.sources: dict[str, ColumnDataSource] = {}
        for name, title in outputs.items():
            src = ColumnDataSource({"parameter": [], "ST": [], "lower": [], "upper": [], "S1": []})
            fig = figure(y_range=FactorRange(factors=[]), width=width, height=height, title=title,
                         x_axis_label="total-order index ST (bars), first-order S1 (dots)",
                         tools="save", toolbar_location=None)
            fig.hbar(y="parameter", right="ST", height=0.7, source=src, color="#4c72b0")
            fig.scatter(x="S1", y="parameter", source=src, size=8, color="#dd8452", line_color="black")
            fig.add_layout(Whisker(source=src, base="parameter", lower="lower", upper="upper", dimension="width",
                                   line_color="#333"))
            fig.add_tools(HoverTool(tooltips=[("parameter", "@parameter"), ("ST", "@ST{0.000}"), ("S1", "@S1{0.000}")]))
            fig.x_range.start = 0
            style(fig)
            responsive(fig, width)
            self.figs[name], self.sources[name] = fig, src

    def update(self, name: str, ranking: pd.DataFrame) -> None:
        """Show one output's ranking (an empty table clears the figure).

        Parameters
        ----------
        name
            The output.
        ranking
            :meth:`sensitivity.view_state.SensitivityResult.ranking`.
        """
        table = ranking.iloc[::-1]  # largest at the top
        params = [str(p) for p in table.parameter]
        st, conf = table.ST.to_numpy(float), table.ST_conf.to_numpy(float)
        self.figs[name].y_range.factors = params
        self.sources[name].data = {"parameter": params, "ST": st, "lower": np.maximum(st - conf, 0),
                                   "upper": st + conf, "S1": table.S1.to_numpy(float)}


def ranking_html(result: SensitivityResult) -> str:
    """ST (± its interval) and S1 of every parameter and output, in the first output's ST order.

    Parameters
    ----------
    result
        The analysis.

    Returns
    -------
    str
    """
    outputs = [str(o) for o in result.indices.output.values]
    rankings = {o: result.ranking(o).set_index("parameter") for o in outputs}
    order = next((list(r.index) for r in rankings.values() if len(r)), [str(p) for p in
                                                                         result.indices.parameter.values])
    head = "".join(f'<th>ST ± interval:<br>{html.escape(OUTPUT_LABELS.get(o, o))}</th>' for o in outputs)
    rows = []
    keys = dict(zip([str(p) for p in result.indices.parameter.values], [str(k) for k in result.indices.key.values]))
    for p in order:
        cells = []
        for o in outputs:
            r = rankings[o]
            if p in r.index:
                st, conf = float(r.loc[p, "ST"]), float(r.loc[p, "ST_conf"])
                cells.append(f'<td data-output="{o}" data-parameter="{p}" data-value="{st!r}">'
                             f'{st:.3f} ± {conf:.3f}</td>')
            else:
                cells.append(f'<td data-output="{o}" data-parameter="{p}">no value</td>')
        rows.append(f'<tr><td class="l">{html.escape(p)}<br><span class="note">{html.escape(keys.get(p, ""))}'
                    f'</span></td>{"".join(cells)}</tr>')
    ds = result.indices
    caption = (f"Sobol indices of {html.escape(str(ds.model.values[0]))} on {html.escape(ds.attrs['hardware'])}: "
               f"N = {ds.attrs['n']:,} ({ds.attrs['model_runs']:,} model runs), {100 * ds.attrs['conf_level']:g}% "
               f"intervals")
    return (f'<table class="vt view-sobol-table"><caption>{caption}</caption><thead><tr>'
            f'<th class="l">parameter (config key)</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>')


def display_scale(bounds: tuple[float, float] | None) -> tuple[float, str]:
    """How bounds are shown: microseconds for tiny ones (hop latency), else as declared.

    Parameters
    ----------
    bounds
        Declared [low, high].

    Returns
    -------
    tuple
        Factor from the declared unit to the shown one, and the shown unit's label.
    """
    if bounds is not None and 0 < max(abs(b) for b in bounds) < 1e-3:
        return 1e6, " (µs)"
    return 1.0, ""


class SensitivityTab(AppTab):
    """The sensitivity tab: the :class:`~model.app.view.skeleton.AppTab` of
    :class:`~sensitivity.view_state.Sensitivity`, its parameters with their bounds, the ST bars
    and table."""

    callbacks_class = Sensitivity
    css = "view-sens"
    run_label = "Run analysis"

    def build(self) -> pn.Row:
        """The sidebar (model, hardware, N, SLA, parameters) and the results (figures, table)."""
        sens, i = self.callbacks, self.inputs
        self.model = self.follow(pn.widgets.Select(label="Model", options=sens.models, value=i.model, width=145,
                                                   css_classes=["view-sens-model"]), "model")
        self.hardware = self.follow(pn.widgets.Select(
            label="Hardware", options=sens.hardware, value=i.hardware, width=145, css_classes=["view-sens-hardware"],
            description="select.hardware: the parameters' hardware keys follow it"), "hardware")
        self.checks: dict[str, pn.widgets.Checkbox] = {}
        self.bounds: dict[str, tuple[pn.widgets.FloatInput, pn.widgets.FloatInput]] = {}
        rows = [self._parameter_row(p) for p in sens.parameters]
        self.n = self.follow(pn.widgets.Select(label="N (base samples)", options=list(N_CHOICES), value=i.n,
                                               width=145, css_classes=["view-sens-n"],
                                               description="sensitivity.n: a power of two; N (2D + 2) model runs"),
                             "n")
        self.sla = self.follow(pn.widgets.FloatInput(**declared("sla.min_interactivity", "SLA: min"),
                                                     value=i.min_interactivity, width=145,
                                                     css_classes=["view-sens-sla"]), "min_interactivity")
        self.figures = SobolFigures({o: f"ST: {label}" for o, label in OUTPUT_LABELS.items()}, width=FIG_WIDTH,
                                    height=330)
        self.figure_panes = [pn.pane.Bokeh(f, margin=(5, 5), sizing_mode="stretch_width",
                                           styles={"flex": f"1 1 {FIG_WIDTH + 10}px"})
                             for f in self.figures.figs.values()]
        self.table = pn.pane.HTML('<div class="note">Press <b>Run analysis</b>.</div>', stylesheets=[TABLE_CSS],
                                  css_classes=["view-sens-table"], margin=(5, 10), sizing_mode="stretch_width",
                                  styles={"overflow-x": "auto"})
        self.notes = pn.pane.HTML("", stylesheets=[TABLE_CSS], margin=(0, 10))
        self.downloads = pn.Row(
            self.download("sobol.csv", "Indices (CSV)", lambda r: downloads.csv_bytes(r.table())),
            self.download("sobol.nc", "Indices (netCDF)", lambda r: downloads.netcdf_bytes(r.indices, r.command)),
            margin=(5, 5), visible=False, css_classes=["view-sens-downloads"])
        return self.layout(
            [section("What is analysed"), pn.Row(self.model, self.hardware), pn.Row(self.n, self.sla),
             section("Parameters", "bounds: uniform / log-uniform [low, high]"), *rows,
             pn.Row(self.run_button, margin=(12, 5)), self.progress, self.progress_text],
            [self.alert.pane, self.command.pane, pn.FlexBox(*self.figure_panes, flex_wrap="wrap"), self.notes,
             self.table, self.downloads], "Sensitivity")

    def _parameter_row(self, p: Any) -> pn.Row:
        scale, unit = display_scale(p.bounds)
        unit = " (x catalog)" if p.relative else unit
        check = pn.widgets.Checkbox(label=f"{p.name}", value=p.name in self.inputs.parameters, width=135,
                                    css_classes=[f"view-sens-use-{p.name}"], margin=(24, 5, 5, 10))
        check.param.watch(lambda e: self._parameters_changed(), "value")
        self.checks[p.name] = check
        if p.bounds is None:
            return pn.Row(check, pn.pane.HTML(f'<span class="note">{html.escape(p.distribution)}</span>'))
        tip = f"{p.key}: {p.distribution}{unit}. Source: {p.source}"
        low = pn.widgets.FloatInput(label=f"low{unit}", value=round(p.bounds[0] * scale, 9), width=78,
                                    description=tip, css_classes=[f"view-sens-low-{p.name}"])
        high = pn.widgets.FloatInput(label="high", value=round(p.bounds[1] * scale, 9), width=78,
                                     css_classes=[f"view-sens-high-{p.name}"])
        for w in (low, high):
            w.param.watch(lambda e, name=p.name, k=scale: self._bounds_changed(name, k), "value")
        self.bounds[p.name] = (low, high)
        return pn.Row(check, low, high, margin=0)

    # -- inputs ---------------------------------------------------------------------------
    def _parameters_changed(self) -> None:
        self.set("parameters", tuple(name for name, c in self.checks.items() if c.value))

    def _bounds_changed(self, name: str, scale: float) -> None:
        low, high = self.bounds[name]
        values = tuple(None if w.value is None else w.value / scale for w in (low, high))
        self.set(f"bounds.{name}", values)

    # -- run ------------------------------------------------------------------------------
    def analyze(self, inputs: Any, progress: Any) -> Any:
        """:meth:`Sensitivity.analyze` of ``inputs`` (see :class:`~model.app.view.skeleton.AppTab`)."""
        return self.callbacks.analyze(inputs, progress=progress)

    def progress_note(self, done: int, total: int) -> str:
        """The progress line after ``done`` of ``total`` blocks."""
        return (f"Evaluating the cost model: block {done:,} of {total:,}"
                + ("; estimating the indices…" if done == total else ""))

    def show(self, result: SensitivityResult, seconds: float = float("nan")) -> None:
        """Show an analysis that took ``seconds``: bars, table, notes."""
        self.result = result
        notes = []
        ds = result.indices
        for o in ds.output.values:
            missing = int(ds.attrs["model_runs"]) - int(ds.sel(output=o).valid_samples.isel(model=0))
            if missing:
                notes.append(f"{OUTPUT_LABELS.get(str(o), o)}: no indices, {missing:,} samples have no value "
                             "(no concurrency meets the SLA there)")
        beyond = float(np.asarray(ds.beyond_context).ravel()[0])
        if beyond > 0:
            notes.append(f"{beyond:.0%} of the samples have an ISL beyond the model's max_context (lifted for the "
                         "analysis)")
        with pn.io.hold():
            self.alert.show(None)
            self.command.show(result.command)
            for name in self.figures.figs:
                self.figures.update(name, result.ranking(name))
            self.table.object = ranking_html(result)
            self.notes.object = "".join(f'<div class="note">{html.escape(n)}</div>' for n in notes)
            self.downloads.visible = True  # offered once there is something to download
            self.progress.value = 100
            self.progress_text.object = (f'<span class="note" data-done="1">Done: {ds.attrs["model_runs"]:,} model '
                                         f'runs in {seconds:.1f} s.</span>')


TAB = TabSpec(name="sensitivity", title="Sensitivity", order=30, make=SensitivityTab,
              url_keys={"sens_model": ("model", "value"), "sens_hardware": ("hardware", "value"),
                        "sens_n": ("n", "value"), "sens_sla": ("sla", "value")})
