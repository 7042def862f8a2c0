"""The fleet tab: demand, ISL distribution, hardware on offer, inventory -> :func:`optimize.plan_fleet`.

The plan runs in a worker thread when "Plan" is pressed (the page stays live); its table, totals
and, when the demand cannot be met, the shortfall report replace the previous ones.  A refused
input shows its one line and keeps the previous plan.
"""
from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd
import panel as pn
from bokeh.models import ColumnDataSource, FactorRange, HoverTool
from bokeh.plotting import figure

from model.app.view import downloads
from model.app.view.callbacks import INPUT_ERRORS, one_line
from model.app.view.figures import hardware_colors, legend_above, responsive, style
from model.app.view.skeleton import AppTab
from model.app.view.tabs import TabSpec
from model.app.view.widgets import TABLE_CSS, declared, section
from optimize.schema import IslDistribution
from optimize.view_state import ISL_KINDS, Fleet, FleetInputs, FleetResult, format_buckets, parse_buckets

# What the page shows of the plan, most-read first, so that the table fits beside the sidebar at
# 1280 px with TTFT in view; plan.csv (the download) has every column.
PLAN_COLUMNS = {"model": "model", "bucket_isl": "ISL", "phase": "phase", "hardware": "hardware",
                "concurrency": "N", "replicas": "replicas", "systems": "systems", "cost_per_hour": "$/hour",
                "interactivity": "tok/s", "ttft_s": "TTFT s", "utilization_percent": "util. %",
                "capacity_rps": "capacity req/s"}
PLAN_CSS = "table.view-plan-table th {white-space: normal; vertical-align: bottom;}"
WRAPPED = ("detail",)


PHASE_ALPHA = {"aggregated": 1.0, "decode": 0.85, "prefill": 0.45}  # one hue per hardware, lighter for prefill


def plan_comparison_figure(costs: pd.DataFrame, colors: dict[str, str], width: int = 380, height: int = 190):
    """$/hour of the plan against the aggregated-only plan, stacked by hardware and phase.

    Parameters
    ----------
    costs
        :meth:`optimize.view_state.FleetResult.cost_by_hardware_phase`: one row per plan,
        one column per ``"<hardware> <phase>"``, $/h.
    colors
        Color per hardware type.
    width, height
        Least width (the figure takes its container's width) and height, pixels.

    Returns
    -------
    bokeh.plotting.figure
        Horizontal stacked bars named ``view-plan-comparison``; the total $/hour labels each bar.
    """
    plans = [str(p) for p in costs.index][::-1]  # the plan on top
    fig = figure(y_range=FactorRange(factors=plans), height=height, width=width, toolbar_location=None,
                 tools="", name="view-plan-comparison", title="$/hour by hardware and phase",
                 x_axis_label="$/hour (fleet, at the target utilization)")
    stackers = [str(c) for c in costs.columns]
    data = {"plan": plans, **{c: costs.loc[plans, c].to_numpy(float) for c in stackers}}
    source = ColumnDataSource(data, name="view-plan-comparison-source")
    fill = [colors.get(c.split(" ")[0], "#777") for c in stackers]
    alpha = [PHASE_ALPHA.get(c.split(" ")[-1], 1.0) for c in stackers]
    renderers = fig.hbar_stack(stackers, y="plan", height=0.6, source=source, color=fill, fill_alpha=alpha,
                               line_color="white", legend_label=stackers)
    for r, name in zip(renderers, stackers):
        fig.add_tools(HoverTool(renderers=[r], tooltips=[("", name), ("$/hour", f"@{{{name}}}{{0,0.00}}")]))
    totals = costs.loc[plans].sum(axis=1).to_numpy(float)
    fig.text(x=totals, y=plans, text=[f" ${t:,.2f}/h" for t in totals], text_font_size="12px",
             text_baseline="middle")
    fig.x_range.start = 0
    fig.x_range.end = float(totals.max()) * 1.3 if len(totals) and totals.max() > 0 else 1.0
    style(fig)
    responsive(fig, width)
    legend_above(fig)
    return fig


def cell(value: Any) -> str:
    """A table cell's text: numbers with separators and 4 significant digits, ``-`` for NaN."""
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return "-"
        return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:,.4g}"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    return html.escape(str(value))


def table_html(table: pd.DataFrame, columns: dict[str, str], caption: str, css_class: str = "") -> str:
    """A DataFrame as the view's HTML table.

    Parameters
    ----------
    table
        The rows.
    columns
        Column -> header, in order (columns the table lacks are skipped).
    caption
        Caption text.
    css_class
        Extra class of the table.

    Returns
    -------
    str
    """
    cols = [c for c in columns if c in table.columns]
    head = "".join(f'<th class="{"l" if table[c].dtype == object or c in WRAPPED else ""}" data-col="{c}">'
                   f'{html.escape(columns[c])}</th>' for c in cols)
    rows = []
    for _, row in table.iterrows():
        rows.append("<tr>" + "".join(
            f'<td class="{"wrap" if c in WRAPPED else "l" if table[c].dtype == object else ""}" data-col="{c}">'
            f'{cell(row[c])}</td>' for c in cols) + "</tr>")
    return (f'<table class="vt {css_class}"><caption>{html.escape(caption)}</caption><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def totals_html(result: FleetResult) -> str:
    """Status and totals of a fleet result (a plan, or no plan), as one HTML block."""
    s, t = result.summary, result.totals
    parts = [f'<div data-status="{result.status}"><b>Status: {html.escape(result.status)}</b>; '
             f'{s["columns"]:,} candidate columns, {s["pruned_columns"]:,} pruned; '
             f'build {s["build_seconds"]:.2f} s, solve {s["solve_seconds"]:.2f} s'
             + (f', MIP gap {s["mip_gap"]:.1e}' if s.get("mip_gap") is not None else "") + "</div>"]
    if t.get("cost_per_hour") is not None:
        systems = ", ".join(f"{h} {n:,}" for h, n in t["systems"].items())
        phases = ", ".join(f"{p} ${c:,.2f}" for p, c in t.get("cost_per_hour_by_phase", {}).items() if c)
        mtok = "-" if t.get("cost_per_mtok") is None else f'${t["cost_per_mtok"]:.4f}'
        parts.append(f'<div style="font-size:16px;margin:6px 0">Fleet: <b data-total="cost_per_hour" '
                     f'data-value="{t["cost_per_hour"]!r}">${t["cost_per_hour"]:,.2f}/hour</b>; '
                     f'<b data-total="cost_per_mtok">{mtok}/Mtok</b> of demand served; systems: {systems}</div>'
                     f'<div class="note">$/hour by phase: {phases or "-"}; target utilization '
                     f'{t.get("target_utilization", float("nan")):.0%}; '
                     f'{t["tokens_per_second"]:,.0f} tok/s of demand</div>')
    other = result.aggregated_only_totals.get("cost_per_hour")
    if t.get("cost_per_hour") is not None and other is not None and result.inputs.disaggregation:
        saving = other - t["cost_per_hour"]
        parts.append(f'<div data-total="aggregated_only_cost_per_hour" data-value="{other!r}">Best aggregated-only '
                     f'plan: ${other:,.2f}/hour; saving from disaggregation ${saving:,.2f}/hour '
                     f'({saving / other:.1%})</div>')
    for note in s.get("notes", []):
        parts.append(f'<div class="note">{html.escape(note)}</div>')
    return f'<div style="font-family:system-ui,sans-serif;font-size:13.5px">{"".join(parts)}</div>'


class FleetTab(AppTab):
    """The fleet tab: the :class:`~model.app.view.skeleton.AppTab` of
    :class:`~optimize.view_state.Fleet`, the plan's totals, its comparison with the best
    aggregated-only plan, the plan table and, when the demand cannot be met, the shortfalls."""

    callbacks_class = Fleet
    css = "view-fleet"
    run_label, busy_label, run_css = "Plan", "Planning…", "view-plan"
    with_progress = False

    def build(self) -> pn.Row:
        """The sidebar (demand, ISL distribution, hardware, inventory, serving) and the results."""
        fleet, i = self.callbacks, self.inputs
        self.models = pn.widgets.MultiChoice(label="Models with demand", options=fleet.models,
                                             value=list(i.models), width=300, css_classes=["view-fleet-models"])
        self.demand = {m: self._number(f"demand.{m}", f"{m} (req/s)", i.demand[m], f"view-fleet-demand-{m}",
                                       "fleet.demand: requests/s of this model")
                       for m in fleet.models}
        self.demand_box = pn.GridBox(*[self.demand[m] for m in i.models], ncols=2)
        self.isl_kind = self.follow(pn.widgets.Select(
            label="ISL distribution", options=list(ISL_KINDS), value=i.isl_kind, width=140,
            css_classes=["view-fleet-isl-kind"], description="fleet.isl.kind: p50 = one bucket at workload.isl; "
                                                             "lognormal = equal-probability buckets; buckets = listed"),
            "isl_kind")
        median = declared("fleet.isl.median", "median ISL", schema=IslDistribution)
        self.isl_median = self._number("isl_median", median["label"], i.isl_median, "view-fleet-isl-median",
                                       median["description"], placeholder="workload.isl")
        self.isl_sigma = self._number("isl_sigma", "sigma of ln ISL", i.isl_sigma, "view-fleet-isl-sigma",
                                      "fleet.isl.sigma")
        self.isl_buckets = self.follow(pn.widgets.IntInput(
            label="buckets", value=i.isl_buckets, width=140, css_classes=["view-fleet-isl-buckets"],
            description="fleet.isl.buckets: equal-probability buckets"), "isl_buckets")
        self.isl_explicit = pn.widgets.TextInput(label="buckets isl:weight, ...", value=format_buckets(i.isl_explicit),
                                                 placeholder="32000:0.5, 200000:0.5", width=290,
                                                 css_classes=["view-fleet-isl-explicit"])
        self.isl_explicit.param.watch(self._explicit_changed, "value")
        self.hardware = pn.widgets.MultiChoice(label="Hardware on offer", options=fleet.hardware,
                                               value=list(i.hardware), width=300, css_classes=["view-fleet-hardware"])
        self.inventory = {h: self._integer(f"inventory.{h}", f"{h} (systems)", i.inventory[h],
                                           f"view-fleet-inventory-{h}")
                          for h in fleet.hardware}
        self.inventory_box = pn.GridBox(*[self.inventory[h] for h in i.hardware], ncols=2)
        self.utilization = self.follow(pn.widgets.FloatSlider(
            label="Target utilization", start=0.05, end=1.0, step=0.05, value=i.target_utilization, width=280,
            css_classes=["view-fleet-utilization"]), "target_utilization")
        self.disaggregation = self.follow(pn.widgets.Checkbox(
            label="Disaggregated serving (prefill and decode replicas)", value=i.disaggregation,
            css_classes=["view-fleet-disaggregation"]), "disaggregation")
        sla = declared("sla.min_interactivity", "SLA: min")
        self.sla = self._number("min_interactivity", sla["label"], i.min_interactivity, "view-fleet-sla",
                                sla["description"])
        self.models.param.watch(self._models_changed, "value")
        self.hardware.param.watch(self._hardware_changed, "value")
        self.status = pn.pane.HTML('<div class="note">Press <b>Plan</b> to solve the fleet problem.</div>',
                                   css_classes=["view-fleet-status"], stylesheets=[TABLE_CSS],
                                   sizing_mode="stretch_width", margin=(5, 10))
        self.plan_table = pn.pane.HTML("", css_classes=["view-fleet-plan"], stylesheets=[TABLE_CSS, PLAN_CSS],
                                       margin=(5, 10), sizing_mode="stretch_width", styles={"overflow-x": "auto"})
        self.shortfalls = pn.pane.HTML("", css_classes=["view-fleet-shortfalls"], stylesheets=[TABLE_CSS],
                                       margin=(5, 10), visible=False, sizing_mode="stretch_width")
        self.download_plan = self.download("plan.csv", "Plan (CSV)", lambda r: downloads.csv_bytes(
            r.plan if len(r.plan) else r.shortfalls))
        self.download_plan.param.update(visible=False, css_classes=["view-plan-download"])
        self.colors = hardware_colors(fleet.hardware)
        self.comparison = pn.pane.Bokeh(None, css_classes=["view-plan-comparison"], visible=False,
                                        sizing_mode="stretch_width", margin=(5, 10))
        self.inputs_changed("isl_kind")
        return self.layout(
            [section("Demand"), self.models, self.demand_box,
             section("ISL distribution"), self.isl_kind, pn.Row(self.isl_median, self.isl_sigma),
             self.isl_buckets, self.isl_explicit,
             section("Hardware"), self.hardware, section("Inventory", "empty: no cap"), self.inventory_box,
             section("Serving"), self.utilization, self.disaggregation, self.sla],
            # the Plan button and the download sit at the top of the results, visible without scrolling
            [pn.Row(self.run_button, self.download_plan, margin=(8, 5)), self.alert.pane, self.command.pane,
             self.status, self.comparison, self.shortfalls, self.plan_table], "Fleet")

    def _number(self, key: str, label: str, value: Any, css: str, description: str, **params: Any):
        return self.follow(pn.widgets.FloatInput(label=label, value=value, width=140, css_classes=[css],
                                                 description=description, **params), key)

    def _integer(self, key: str, label: str, value: Any, css: str):
        return self.follow(pn.widgets.IntInput(label=label, value=value, width=140, css_classes=[css],
                                               placeholder="no cap",
                                               description=f"fleet.{key}: most systems available (empty: no cap)"),
                           key)

    # -- inputs ---------------------------------------------------------------------------
    def inputs_changed(self, key: str) -> None:
        """Show the ISL inputs of the chosen distribution (median, sigma, buckets; or the list)."""
        if key == "isl_kind":
            kind = self.inputs.isl_kind
            self.isl_median.visible = self.isl_sigma.visible = self.isl_buckets.visible = kind == "lognormal"
            self.isl_explicit.visible = kind == "buckets"

    def _explicit_changed(self, event) -> None:
        try:
            pairs = parse_buckets(event.new)
        except INPUT_ERRORS as err:
            self.alert.show(one_line(err))
            return
        self.alert.show(None)
        self.set("isl_explicit", pairs)

    def _models_changed(self, event) -> None:
        self.demand_box[:] = [self.demand[m] for m in event.new]
        self.set("models", tuple(event.new))

    def _hardware_changed(self, event) -> None:
        self.inventory_box[:] = [self.inventory[h] for h in event.new]
        self.set("hardware", tuple(event.new))

    # -- plan -----------------------------------------------------------------------------
    def analyze(self, inputs: FleetInputs, progress: Any) -> FleetResult:
        """:meth:`Fleet.plan` of ``inputs`` (see :class:`~model.app.view.skeleton.AppTab`; no progress)."""
        return self.callbacks.plan(inputs)

    def show(self, result: FleetResult, seconds: float = float("nan")) -> None:
        """Show a plan (or its shortfall report)."""
        self.result = result
        with pn.io.hold():
            self.alert.show(None)
            self.command.show(result.command)
            self.status.object = totals_html(result)
            if len(result.plan):
                shown = result.plan.assign(utilization_percent=(100 * result.plan["utilization"]).round(1))
                self.plan_table.object = table_html(shown, PLAN_COLUMNS,
                                                    "Plan: replicas per (model, ISL bucket, phase, hardware, N)",
                                                    "view-plan-table")
            else:
                self.plan_table.object = ""
            costs = result.cost_by_hardware_phase()
            self.comparison.visible = bool(len(costs))  # before the object: a Bokeh pane keeps it then
            if len(costs):
                self.comparison.object = plan_comparison_figure(costs, self.colors)
            self.download_plan.visible = True  # offered once there is a plan or a shortfall report
            if len(result.shortfalls):
                cols = {c: c.replace("_", " ") for c in result.shortfalls.columns}
                self.shortfalls.object = table_html(result.shortfalls, cols,
                                                    "Infeasible: the demand that cannot be served, and why",
                                                    "view-shortfall-table")
                self.shortfalls.visible = True
            else:
                self.shortfalls.object, self.shortfalls.visible = "", False


TAB = TabSpec(name="fleet", title="Fleet plan", order=20, make=FleetTab,
              url_keys={"fleet_utilization": ("utilization", "value"),
                        "fleet_disaggregation": ("disaggregation", "value"), "fleet_sla": ("sla", "value")})
