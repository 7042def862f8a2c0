"""The calculator tab: one model on the compared hardware at a chosen ISL and concurrency.

Widgets -> :class:`model.app.view.state.CalculatorInputs` -> :class:`~model.app.view.state.CalculatorState`
-> readouts (an HTML table), Bokeh figures updated through their sources, the token-spend table,
the equivalent ``serving-model`` command and the downloads.  A refused input shows its one line
and leaves the previous numbers in place.
"""
from __future__ import annotations

import html
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import panel as pn

from model.app.view import downloads, sources
from model.app.view.callbacks import one_line, shared
from model.app.view.figures import CostFigures, FeasibilityFigure, hardware_colors
from model.app.view.state import (
    HARDWARE_FIELDS,
    Calculator,
    CalculatorInputs,
    CalculatorResult,
    CalculatorState,
)
from model.app.view.tables import readout_html, spend_html
from model.app.view.tabs import TabSpec
from model.app.view.widgets import TABLE_CSS, CommandBox, ErrorAlert, declared, section, sourced_float
from model.quantities import QUANTITIES, display_scale
from model.schema import PrefillMode, SlaPercentile

FIELD_LABELS = {"price_per_hour": "$/hour per system", "cache_read_ratio": "cache-read ratio",
                "prefill_mode": "prefill mode", "hop_latency_s": "hop latency",
                "interactivity_multiplier": "interactivity x"}
FIG_WIDTH, FIG_HEIGHT = 380, 305  # least width: the figures take the width the page has
FEASIBILITY_DELAY_MS = 250  # the diagram is redrawn once the sliders rest this long
PREFETCH_DELAY_MS = 300  # the slider's ISLs are evaluated once the other inputs rest this long

class BuiltOnUse(dict):
    """A dict whose value for an allowed key is made on first lookup (``make(key)``); any other
    key is a ``KeyError`` as in a dict."""

    def __init__(self, make: Callable[[str], Any], keys: Sequence[str]) -> None:
        super().__init__()
        self._make, self._keys = make, set(keys)

    def __missing__(self, key: str) -> Any:
        if key not in self._keys:
            raise KeyError(key)
        value = self[key] = self._make(key)
        return value


class CalculatorTab:
    """The calculator tab's widgets, panes and callbacks.

    Parameters
    ----------
    calculator
        The callbacks (default: the server-wide one, :func:`~model.app.view.callbacks.shared`).
    """

    def __init__(self, calculator: Calculator | None = None) -> None:
        self.calc = shared(Calculator) if calculator is None else calculator
        self.state = CalculatorState(self.calc)
        self.colors = hardware_colors(self.calc.hardware)
        base, inputs = self.calc.base, self.state.inputs
        self._feasibility_generation = 0
        self._feasibility_key: tuple | None = None
        self._feasibility: dict | None = None
        self._drawn = None
        self._pending: CalculatorInputs | None = None
        self._flush_scheduled = False
        self._syncing = False
        self._prefetch_generation = 0
        self._prefetching = threading.Lock()

        self.model = pn.widgets.Select(label="Model", options=self.calc.models, value=inputs.model,
                                       css_classes=["view-model"], width=300)
        self.hardware = pn.widgets.MultiChoice(label="Hardware to compare", options=self.calc.hardware,
                                               value=list(inputs.hardware), css_classes=["view-hardware"], width=300)
        isl_note = sources.note(base, "workload.isl")
        n_note = sources.note(base, "workload.concurrency")
        self.isl_values = list(self.calc.isl_options)
        self.isl = pn.widgets.DiscreteSlider(label=isl_note.label("ISL L (tokens per request)"),
                                             options={f"{v:,}": v for v in self.isl_values},
                                             value=self.nearest_isl(inputs.isl), css_classes=["view-isl"], width=200)
        self.isl_exact = pn.widgets.IntInput(label="exact ISL", value=inputs.isl, width=95,
                                             css_classes=["view-isl-exact"], description=isl_note.tooltip())
        levels = self.calc.levels
        self.concurrency = pn.widgets.EditableIntSlider(
            label=n_note.label("Concurrency N (requests / replica)"), start=int(levels[0]), end=int(levels[-1]),
            step=int(levels[1] - levels[0]) if len(levels) > 1 else 1, value=inputs.concurrency,
            css_classes=["view-concurrency"], width=280)
        self.concurrency_source = pn.widgets.TooltipIcon(value=n_note.tooltip(), margin=(18, 0, 0, 0))
        self.min_interactivity = pn.widgets.FloatInput(
            **declared("sla.min_interactivity", "SLA: min", " (conf/sla/default.yaml)"),
            value=inputs.values["sla.min_interactivity"], css_classes=["view-sla-min"], width=110)
        self.max_ttft = pn.widgets.FloatInput(
            **declared("sla.max_ttft_s", "max TTFT", "; empty: no limit"), value=inputs.values["sla.max_ttft_s"],
            placeholder="no limit", css_classes=["view-sla-ttft"], width=100)
        self.percentile = pn.widgets.Select(
            name="at", value=inputs.values["sla.percentile"], options=[p.value for p in SlaPercentile], width=70,
            css_classes=["view-sla-percentile"], description=declared("sla.percentile", "")["description"])
        self.hw_inputs = BuiltOnUse(self._hardware_inputs, self.calc.hardware)  # compared now, others when added
        self.hw_tabs = pn.Tabs(*[(h, self.hw_inputs[h]) for h in inputs.hardware], width=320,
                               css_classes=["view-hw-tabs"], margin=(0, 10))
        self.price_inputs = []
        for key in [k for k in inputs.values if k.startswith("workload.price_sheet.")]:
            kind = key.rsplit(".", 1)[-1]
            self.price_inputs.append(sourced_float(
                kind.replace("_", " "), inputs.values[key], sources.note(base, key), f"view-price-sheet-{kind}",
                lambda v, k=key: self.set(k, v), width=140))

        self.alert = ErrorAlert("view-error")
        self.readout = pn.pane.HTML(readout_html(self.state.result, self.colors), css_classes=["view-readout"],
                                    stylesheets=[TABLE_CSS], margin=(5, 10))
        self.figures = CostFigures(inputs.hardware, self.colors, width=FIG_WIDTH, height=FIG_HEIGHT)
        self.cost_pane = pn.pane.Bokeh(self.figures.cost, margin=(5, 5), sizing_mode="stretch_width")
        self.frontier_pane = pn.pane.Bokeh(self.figures.frontier, margin=(5, 5), sizing_mode="stretch_width")
        self.feasibility_hw = pn.widgets.Select(label="Feasibility diagram: hardware", options=list(inputs.hardware),
                                                value=inputs.hardware[0], width=260,
                                                css_classes=["view-feasibility-hw"])
        self.feasibility_fig = FeasibilityFigure(width=FIG_WIDTH, height=400)
        self.feasibility_pane = pn.pane.Bokeh(self.feasibility_fig.fig, margin=(5, 5), sizing_mode="stretch_width")
        self.feasibility_note = pn.pane.HTML("", stylesheets=[TABLE_CSS], sizing_mode="stretch_width",
                                             margin=(0, 10))
        self.spend = pn.pane.HTML(spend_html(self.state.result), css_classes=["view-spend"],
                                  stylesheets=[TABLE_CSS], margin=(5, 10))
        self.command = CommandBox("view-cli-model")
        self.command.show(self.state.result.command)
        self.downloads = pn.Row(
            pn.widgets.FileDownload(callback=self._grid_csv, filename="grid.csv", label="Grid (CSV)",
                                    color="primary", variant="outline", width=150),
            pn.widgets.FileDownload(callback=self._grid_netcdf, filename="grid.nc", label="Grid (netCDF)",
                                    color="primary", variant="outline", width=150),
            margin=(0, 5))

        self.figures.set_curves(self.state.result)
        self.figures.set_point(self.state.result)
        self._watch()
        self.update_feasibility()
        self.panel = self._layout()
        if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
            pn.state.onload(self.schedule_prefetch)

    # -- widgets --------------------------------------------------------------------------
    def _hardware_inputs(self, hw: str) -> pn.GridBox:
        values, base = self.state.inputs.values, self.calc.base
        widgets: list[Any] = []
        for f in HARDWARE_FIELDS:
            key = f"hardware.{hw}.{f}"
            note = sources.note(base, key)
            css = f"view-{f.replace('_', '-')}-{hw}"
            if f == "prefill_mode":
                w = pn.widgets.Select(label=note.label(FIELD_LABELS[f]), options=[m.value for m in PrefillMode],
                                      value=values[key], description=note.tooltip(), css_classes=[css], width=140)
                w.param.watch(lambda e, k=key: self.set(k, e.new), "value")
            elif f in QUANTITIES and display_scale(QUANTITIES[f]) != 1:  # shown in its display unit
                scale = display_scale(QUANTITIES[f])
                w = sourced_float(f"{FIELD_LABELS[f]} ({QUANTITIES[f].shown_unit})",
                                  round(float(values[key]) * scale, 9), note, css,
                                  lambda v, k=key, s=scale: self.set(k, None if v is None else v / s), width=140)
            else:
                w = sourced_float(FIELD_LABELS[f], values[key], note, css, lambda v, k=key: self.set(k, v),
                                  width=140)
            widgets.append(w)
        return pn.GridBox(*widgets, ncols=2, name=hw, margin=(5, 0))

    def _watch(self) -> None:
        self.model.param.watch(lambda e: self.set("model", e.new), "value")
        self.hardware.param.watch(lambda e: self.set("hardware", tuple(e.new)), "value")
        self.isl.param.watch(self._isl_slid, "value")
        self.isl_exact.param.watch(self._isl_typed, "value")
        self.concurrency.param.watch(lambda e: self.set("concurrency", e.new), "value")
        self.min_interactivity.param.watch(lambda e: self.set("sla.min_interactivity", e.new), "value")
        self.max_ttft.param.watch(lambda e: self.set("sla.max_ttft_s", e.new), "value")
        self.percentile.param.watch(lambda e: self.set("sla.percentile", e.new), "value")
        self.feasibility_hw.param.watch(lambda e: self.draw_feasibility(), "value")

    def nearest_isl(self, isl: Any) -> int:
        """The slider position closest to ``isl`` (in log terms)."""
        try:
            target = np.log(max(float(isl), 1.0))
        except (TypeError, ValueError):
            return self.isl_values[0]
        return min(self.isl_values, key=lambda v: abs(np.log(v) - target))

    def _quietly(self, widget: Any, value: Any) -> None:
        self._syncing = True
        try:
            widget.value = value
        finally:
            self._syncing = False

    def _isl_slid(self, event) -> None:
        if self._syncing:
            return
        self._quietly(self.isl_exact, event.new)
        self.set("isl", event.new)

    def _isl_typed(self, event) -> None:
        if self._syncing:
            return
        if event.new is not None:
            self._quietly(self.isl, self.nearest_isl(event.new))
        self.set("isl", event.new)

    def _layout(self) -> pn.Row:
        legend = pn.pane.HTML('<span class="note">Hover a label\'s <b>?</b> for the value\'s source; '
                              '<b>⚠</b> marks values the catalog lists as uncertain.</span>',
                              stylesheets=[TABLE_CSS], margin=(0, 10))
        sidebar = pn.Column(
            section("Model and point"), legend, self.model, self.hardware, pn.Row(self.isl, self.isl_exact),
            pn.Row(self.concurrency, self.concurrency_source),
            pn.Row(self.min_interactivity, self.max_ttft, self.percentile),
            section("Hardware assumptions", "per compared hardware"), self.hw_tabs,
            section("Price sheet", "$/Mtok by token type"), pn.GridBox(*self.price_inputs, ncols=2),
            width=330, css_classes=["view-sidebar"],
            styles={"background": "#f9fafb", "border-right": "1px solid #e5e7eb"})
        # Flex rows: the figures take the width left beside the tables and wrap below them
        # when there is too little (nothing is cut off, no sideways scroll).
        flex = {"flex": f"1 1 {FIG_WIDTH + 10}px", "min-width": f"{FIG_WIDTH + 10}px"}
        main = pn.Column(
            self.alert.pane, self.command.pane,
            pn.FlexBox(self.readout, pn.Column(self.cost_pane, self.frontier_pane, styles=flex,
                                               sizing_mode="stretch_width"), flex_wrap="wrap"),
            pn.FlexBox(pn.Column(self.feasibility_hw, self.feasibility_pane, self.feasibility_note, styles=flex,
                                 sizing_mode="stretch_width"),
                       pn.Column(self.spend, section("Downloads", "the grid at this ISL, every concurrency"),
                                 self.downloads), flex_wrap="wrap"),
            sizing_mode="stretch_width", styles={"min-width": "0"})
        return pn.Row(sidebar, main, sizing_mode="stretch_width", name="Calculator")

    # -- callbacks ------------------------------------------------------------------------
    def set(self, key: str, value: Any) -> None:
        """Change one input and update the page.

        In a server session the update runs on the next tick of the event loop, with the latest
        inputs: a burst of slider events costs one evaluation, not one per event.

        Parameters
        ----------
        key
            ``model``, ``hardware``, ``isl``, ``concurrency`` or a dotted config key.
        value
            The widget's new value.
        """
        base = self.state.inputs if self._pending is None else self._pending
        self._pending = base.set(key, value)
        doc = pn.state.curdoc
        if doc is None or doc.session_context is None:
            self.flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            pn.state.execute(self.flush, schedule=True)

    def flush(self) -> None:
        """Apply the pending inputs, if any."""
        self._flush_scheduled = False
        inputs, self._pending = self._pending, None
        if inputs is not None:
            self.apply(inputs)

    def apply(self, inputs: CalculatorInputs) -> bool:
        """Compute ``inputs`` and show the result, or the one-line error and the previous result.

        Parameters
        ----------
        inputs
            The new inputs.

        Returns
        -------
        bool
            True if the inputs were accepted.
        """
        old = self.state.result
        if not self.state.update(inputs):
            self.alert.show(self.state.error)
            return False
        new = self.state.result
        with pn.io.hold():
            self.alert.show(None)
            if new.inputs.hardware != old.inputs.hardware:
                self._rebuild(new)
            elif new.grid is not old.grid:
                self.figures.set_curves(new)
            self.figures.set_point(new)
            self.readout.object = readout_html(new, self.colors)
            if (new.inputs.isl, new.spend is None) != (old.inputs.isl, old.spend is None) or \
                    new.inputs.values != old.inputs.values:
                self.spend.object = spend_html(new)
            self.command.show(new.command)
        self.schedule_feasibility()
        self.schedule_prefetch()
        return True

    def _rebuild(self, result: CalculatorResult) -> None:
        hardware = result.inputs.hardware
        self.figures = CostFigures(hardware, self.colors, width=FIG_WIDTH, height=FIG_HEIGHT)
        self.figures.set_curves(result)
        self.cost_pane.object = self.figures.cost
        self.frontier_pane.object = self.figures.frontier
        self.hw_tabs[:] = [(h, self.hw_inputs[h]) for h in hardware]
        current = self.feasibility_hw.value
        self.feasibility_hw.options = list(hardware)
        if current not in hardware:
            self.feasibility_hw.value = hardware[0]

    def schedule_prefetch(self) -> None:
        """In a server session, evaluate every slider ISL in the background once the inputs rest
        (:meth:`Calculator.prefetch`), so that ISL moves cost a selection."""
        doc = pn.state.curdoc
        if doc is None or doc.session_context is None or self.calc.prefetched(self.state.result.inputs):
            return
        self._prefetch_generation += 1
        generation = self._prefetch_generation

        def run() -> None:
            if generation == self._prefetch_generation and self._prefetching.acquire(blocking=False):
                threading.Thread(target=self._prefetch, daemon=True).start()

        doc.add_timeout_callback(run, PREFETCH_DELAY_MS)

    def _prefetch(self) -> None:
        try:
            for _ in range(4):  # the inputs may change while it runs: catch up a few times
                inputs = self.state.result.inputs
                if self.calc.prefetched(inputs):
                    break
                self.calc.prefetch(inputs)
        finally:
            self._prefetching.release()

    def schedule_feasibility(self) -> None:
        """Move the diagram's marker now; recompute its grid once the inputs rest, in a worker
        thread (the page stays live), if they changed.  At once outside a server session."""
        self.mark_feasibility()
        key = self.feasibility_key()
        if key == self._feasibility_key:
            self.draw_feasibility()
            return
        self._feasibility_generation += 1
        generation = self._feasibility_generation
        doc = pn.state.curdoc
        if doc is None or doc.session_context is None:
            self.update_feasibility()
            return

        def done(result: dict, computed_key: tuple) -> None:  # on the event loop
            self._feasibility, self._feasibility_key = result, computed_key
            self.draw_feasibility()

        def work(inputs: CalculatorInputs, computed_key: tuple) -> None:  # in a worker thread
            try:
                result = self.calc.feasibility(inputs)
            except Exception as err:  # noqa: BLE001 - the diagram is an extra: its failure is shown
                line = f"feasibility diagram: {one_line(err)}"
                doc.add_next_tick_callback(lambda: self.alert.show(line))
                return
            doc.add_next_tick_callback(lambda: done(result, computed_key))

        def run() -> None:
            if generation == self._feasibility_generation:
                threading.Thread(target=work, args=(self.state.result.inputs, self.feasibility_key()),
                                 daemon=True).start()

        doc.add_timeout_callback(run, FEASIBILITY_DELAY_MS)

    def feasibility_key(self) -> tuple:
        """What the diagram's grids depend on: model, hardware, concurrency, the composed config."""
        inputs = self.state.result.inputs
        return inputs.model, inputs.hardware, inputs.concurrency, self.calc.structural(inputs)

    def update_feasibility(self) -> None:
        """Recompute the feasibility grids now if their inputs changed, and draw."""
        key = self.feasibility_key()
        if key != self._feasibility_key or self._feasibility is None:
            try:
                self._feasibility = self.calc.feasibility(self.state.result.inputs)
            except Exception as err:  # noqa: BLE001 - the diagram is an extra: its failure is shown, not raised
                self.alert.show(f"feasibility diagram: {one_line(err)}")
                return
            self._feasibility_key = key
        self.draw_feasibility()

    def draw_feasibility(self) -> None:
        """Draw the chosen hardware's grid (if not drawn yet) and the model's marker."""
        grids = self._feasibility or {}
        f = grids.get(self.feasibility_hw.value)
        if f is None:
            return
        with pn.io.hold():
            if self._drawn is not f:
                self.feasibility_fig.update(f)
                self._drawn = f
                self.feasibility_note.object = (
                    f'<span class="note">Weights and KV per token scaled from {html.escape(f.model)} '
                    f'({f.model_params_b:,.0f} B parameters, white dot at the chosen ISL); dotted line: its max '
                    f'context ({f.max_context:,.0f} tokens); contours at 32 / 64 / 128 systems.</span>')
            self.mark_feasibility()

    def mark_feasibility(self) -> None:
        """Move the model's marker on the diagram to the chosen ISL."""
        f, result = self._drawn, self.state.result
        if f is None or f.hardware not in result.inputs.hardware or f.model != result.inputs.model:
            return
        self.feasibility_fig.mark(f.model, f.model_params_b, result.inputs.isl,
                                  result.values[f.hardware].get("systems", np.nan))

    # -- downloads ------------------------------------------------------------------------
    def _grid_csv(self):
        return downloads.as_file(downloads.csv_bytes(downloads.grid_frame(self.state.result.grid)))

    def _grid_netcdf(self):
        result = self.state.result
        return downloads.as_file(downloads.netcdf_bytes(result.grid, result.command))


TAB = TabSpec(name="calculator", title="Calculator", order=10, make=CalculatorTab,
              url_keys={"model": ("model", "value"), "hardware": ("hardware", "value"), "isl": ("isl_exact", "value"),
                        "n": ("concurrency", "value"), "sla": ("min_interactivity", "value"),
                        "ttft": ("max_ttft", "value")})
