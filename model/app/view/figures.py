"""Bokeh figures of the view, updated in place through their ``ColumnDataSource``s (no Panel here).

A slider move changes a few markers and, when the grid changes, the curves' sources: Bokeh sends
only the changed arrays to the browser, which keeps the page's latency well under a matplotlib
re-render.
"""
from __future__ import annotations

from collections.abc import Sequence

import contourpy
import numpy as np
from bokeh.models import (
    ColorBar,
    ColumnDataSource,
    FixedTicker,
    HoverTool,
    Label,
    LogColorMapper,
    Span,
    Title,
)
from bokeh.palettes import Category10, Viridis256
from bokeh.plotting import figure

from model.app.view.feasibility import Feasibility
from model.app.view.state import CalculatorResult

FONT = "13px"
CONTOURS = ((32, "#ffffff"), (64, "#ffa500"), (128, "#ff3b30"))
SYSTEM_TICKS = tuple(2 ** k for k in range(21))  # the feasibility colour bar's ticks: 1, 2, 4, ... systems


def hardware_colors(names: Sequence[str]) -> dict[str, str]:
    """A fixed color per catalog hardware type (its position in the catalog).

    Parameters
    ----------
    names
        Every catalog hardware type, in catalog order.

    Returns
    -------
    dict
    """
    palette = Category10[10]
    return {name: palette[i % len(palette)] for i, name in enumerate(names)}


def style(fig) -> None:
    """The view's common figure style: readable fonts, light grid, no toolbar logo."""
    fig.title.text_font_size = "14px"
    for axis in (fig.xaxis, fig.yaxis):
        axis.axis_label_text_font_size = FONT
        axis.axis_label_text_font_style = "normal"
        axis.major_label_text_font_size = "12px"
    fig.grid.grid_line_alpha = 0.3
    fig.toolbar.logo = None
    fig.toolbar.autohide = True
    fig.background_fill_color = "#fbfbfd"


def responsive(fig, min_width: int) -> None:
    """Let ``fig`` take its container's width, never less than ``min_width`` pixels."""
    fig.sizing_mode = "stretch_width"
    fig.min_width = min_width


def legend_above(fig) -> None:
    """Move the figure's legend above the plot area, in one row, so that it covers no data."""
    legend = fig.legend[0]
    fig.center = [r for r in fig.center if r is not legend]
    legend.update(orientation="horizontal", location="top_left", click_policy="hide", label_text_font_size="12px",
                  border_line_alpha=0, background_fill_alpha=0, margin=0, padding=2, spacing=12)
    fig.add_layout(legend, "above")


def subtitle(fig, text: str) -> Title:
    """A second, smaller title line under the figure's title."""
    title = Title(text=text, text_font_size="11.5px", text_font_style="normal", text_color="#555")
    fig.add_layout(title, "above")
    return title


def finite_or_nan(values: np.ndarray) -> np.ndarray:
    """Float values with non-positive entries as NaN (gaps on a log axis)."""
    out = np.asarray(values, dtype=float).copy()
    out[~(out > 0)] = np.nan
    return out


class CostFigures:
    """$/Mtok against concurrency and against interactivity (the frontier) for the compared hardware.

    Parameters
    ----------
    hardware
        The compared hardware types, in order.
    colors
        Color per hardware type.
    width, height
        Least width (the figures take their container's width) and height, pixels.
    """

    def __init__(self, hardware: Sequence[str], colors: dict[str, str], width: int = 560,
                 height: int = 340) -> None:
        self.hardware = tuple(hardware)
        tools = "pan,wheel_zoom,box_zoom,reset,save"
        self.cost = figure(x_axis_type="log", y_axis_type="log", width=width, height=height, tools=tools,
                           title="$/Mtok vs concurrency",
                           x_axis_label="concurrency N (requests / replica)",
                           y_axis_label="$/Mtok, all tokens")
        self.frontier = figure(x_axis_type="log", y_axis_type="log", width=width, height=height, tools=tools,
                               title="Frontier: $/Mtok vs interactivity",
                               x_axis_label="interactivity (output tok/s per request)",
                               y_axis_label="$/Mtok, all tokens")
        self.curves: dict[str, ColumnDataSource] = {}
        self.points: dict[str, ColumnDataSource] = {}
        self.bests: dict[str, ColumnDataSource] = {}
        self.edges: dict[str, ColumnDataSource] = {}
        for hw in self.hardware:
            color = colors[hw]
            empty = {"n": [], "cost": [], "cost_sla": [], "rate": []}
            src = self.curves[hw] = ColumnDataSource(empty, name=f"view-curve-{hw}")
            self.points[hw] = ColumnDataSource({"n": [], "cost": [], "rate": []}, name=f"view-point-{hw}")
            self.bests[hw] = ColumnDataSource({"n": [], "cost": [], "rate": []})
            self.edges[hw] = ColumnDataSource({"n": [], "cost": []})
            for fig, x in ((self.cost, "n"), (self.frontier, "rate")):
                fig.line(x, "cost", source=src, color=color, alpha=0.5, line_width=1.5)
                bold = fig.line(x, "cost_sla", source=src, color=color, line_width=3, legend_label=hw)
                fig.add_tools(HoverTool(renderers=[bold], tooltips=[(hw, ""), ("N", "@n"), ("$/Mtok", "@cost{0.0000}"),
                                                                    ("tok/s", "@rate{0,0}")], mode="mouse"))
                fig.scatter(x, "cost", source=self.points[hw], size=11, color=color, line_color="black",
                            line_width=1.5)
                fig.scatter(x, "cost", source=self.bests[hw], marker="star", size=17, color=color,
                            line_color="black")
            self.cost.scatter("n", "cost", source=self.edges[hw], marker="dash", angle=np.pi / 2, size=22,
                              color=color, line_width=3)
        self.span_n = Span(location=1, dimension="height", line_dash="dashed", line_color="#555", line_width=1)
        self.span_sla = Span(location=1, dimension="height", line_dash="dashed", line_color="#c0392b", line_width=1.5)
        self.sla_label = Label(x=1, y=5, x_units="data", y_units="screen", text="SLA", text_color="#c0392b",
                               text_font_size="12px", x_offset=-4, text_align="right")
        self.cost.add_layout(self.span_n)
        self.frontier.add_layout(self.span_sla)
        self.frontier.add_layout(self.sla_label)
        for fig in (self.cost, self.frontier):
            style(fig)
            responsive(fig, width)
        for fig in (self.cost, self.frontier):
            legend_above(fig)
        subtitle(self.cost, "bold: meets the SLA; | SLA edge; ★ cheapest; ● chosen N")
        subtitle(self.frontier, "each curve runs over concurrency; ● chosen N")

    def set_curves(self, result: CalculatorResult) -> None:
        """Replace the curves with the result's grid (after an ISL, parameter or model change)."""
        for hw in self.hardware:
            c = result.curve(hw)
            cost = finite_or_nan(c["cost_per_mtok"])
            self.curves[hw].data = {"n": c["concurrency"], "cost": cost,
                                    "cost_sla": np.where(c["meets_sla"], cost, np.nan),
                                    "rate": finite_or_nan(c["interactivity"])}
            ok = c["meets_sla"]
            if ok.any():
                edge = int(np.flatnonzero(ok).max())
                self.edges[hw].data = {"n": [c["concurrency"][edge]], "cost": [cost[edge]]}
            else:
                self.edges[hw].data = {"n": [], "cost": []}
            b = result.values[hw]
            if np.isfinite(b.get("best_concurrency", np.nan)):
                self.bests[hw].data = {"n": [b["best_concurrency"]], "cost": [b["best_cost_per_mtok"]],
                                       "rate": [b["best_interactivity"]]}
            else:
                self.bests[hw].data = {"n": [], "cost": [], "rate": []}
        sla = float(result.inputs.values.get("sla.min_interactivity", result.grid.attrs["sla_min_interactivity"]))
        self.span_sla.location = max(sla, 1e-9)
        self.sla_label.x = max(sla, 1e-9)
        self.sla_label.text = f"SLA {sla:,.0f} tok/s"

    def set_point(self, result: CalculatorResult) -> None:
        """Move the markers of the chosen concurrency."""
        n = float(result.inputs.concurrency)
        for hw in self.hardware:
            v = result.values[hw]
            cost, rate = v["cost_per_mtok"], v["interactivity"]
            if np.isfinite(cost) and np.isfinite(rate):
                self.points[hw].data = {"n": [n], "cost": [cost], "rate": [rate]}
            else:
                self.points[hw].data = {"n": [], "cost": [], "rate": []}
        self.span_n.location = n


class FeasibilityFigure:
    """Systems per replica over ISL x total parameters (log axes), contours at 32/64/128 systems.

    Parameters
    ----------
    width, height
        Least width (the figure takes its container's width) and height, pixels.

    The colour is systems per replica on a log scale; the colour bar's ticks are systems
    (powers of two), not their logarithm.
    """

    def __init__(self, width: int = 560, height: int = 380) -> None:
        self.fig = figure(x_axis_type="log", y_axis_type="log", width=width, height=height,
                          tools="pan,wheel_zoom,box_zoom,reset,save", title="Feasibility",
                          x_axis_label="ISL (tokens of context per request)", y_axis_label="total parameters (B)")
        self.mapper = LogColorMapper(palette=Viridis256, low=1, high=1024)
        self.cells = ColumnDataSource({"left": [], "right": [], "bottom": [], "top": [], "systems": []})
        quads = self.fig.quad(left="left", right="right", bottom="bottom", top="top", source=self.cells,
                              fill_color={"field": "systems", "transform": self.mapper}, line_color=None)
        self.fig.add_tools(HoverTool(renderers=[quads], tooltips=[("systems", "@systems{0,0}")]))
        self.contours = ColumnDataSource({"xs": [], "ys": [], "color": [], "label": []})
        self.fig.multi_line("xs", "ys", source=self.contours, line_color="color", line_width=2)
        self.contour_labels = ColumnDataSource({"x": [], "y": [], "text": [], "color": []})
        self.fig.text("x", "y", text="text", source=self.contour_labels, text_color="color", text_font_size="11px",
                      text_baseline="bottom", x_offset=3)
        self.marker = ColumnDataSource({"x": [], "y": [], "text": []})
        self.fig.scatter("x", "y", source=self.marker, size=11, color="white", line_color="black", line_width=1.5)
        self.fig.text("x", "y", text="text", source=self.marker, text_color="white", text_font_size="12px",
                      x_offset=8, y_offset=-4, text_baseline="middle")
        self.context = Span(location=1, dimension="height", line_dash="dotted", line_color="white", line_width=1.5)
        self.fig.add_layout(self.context)
        self.ticker = FixedTicker(ticks=list(SYSTEM_TICKS))
        self.colorbar = ColorBar(color_mapper=self.mapper, title="systems per replica", title_text_font_size="11px",
                                 title_text_font_style="normal", width=12, ticker=self.ticker,
                                 major_label_text_font_size="11px")
        self.fig.add_layout(self.colorbar, "right")
        style(self.fig)
        responsive(self.fig, width)

    def update(self, f: Feasibility) -> None:
        """Draw a :class:`Feasibility` grid (cells, contours, the model's context line, the title).

        Parameters
        ----------
        f
            The grid.
        """
        x_edges, y_edges = geometric_edges(f.isl), geometric_edges(f.params_b)
        left, bottom = np.meshgrid(x_edges[:-1], y_edges[:-1])
        right, top = np.meshgrid(x_edges[1:], y_edges[1:])
        z = np.where(f.systems > 0, f.systems, np.nan)
        low, high = float(np.nanmin(z)), float(np.nanmax(z))
        self.mapper.low, self.mapper.high = low, max(high, low * 2)
        self.ticker.ticks = [t for t in SYSTEM_TICKS if low <= t <= max(high, low * 2)] or [low]
        self.cells.data = {"left": left.ravel(), "right": right.ravel(), "bottom": bottom.ravel(),
                           "top": top.ravel(), "systems": z.ravel()}
        xs, ys, colors, labels = [], [], [], {"x": [], "y": [], "text": [], "color": []}
        gen = contourpy.contour_generator(f.isl, f.params_b, np.nan_to_num(z, nan=np.nanmax(z)))
        for level, color in CONTOURS:
            for line in gen.lines(level):
                xs.append(line[:, 0])
                ys.append(line[:, 1])
                colors.append(color)
                mid = line[len(line) // 2]
                labels["x"].append(mid[0])
                labels["y"].append(mid[1])
                labels["text"].append(f"{level} systems")
                labels["color"].append(color)
        self.contours.data = {"xs": xs, "ys": ys, "color": colors, "label": [""] * len(xs)}
        self.contour_labels.data = labels
        self.context.location = f.max_context
        self.fig.title.text = f"Systems per replica: {f.hardware}, N = {f.concurrency}"

    def mark(self, model: str, params_b: float, isl: float, systems: float) -> None:
        """Put the model's marker at (``isl``, ``params_b``), labelled with its ``systems``.

        Parameters
        ----------
        model
            The model's name.
        params_b
            Its total parameters, B.
        isl
            The chosen ISL, tokens.
        systems
            Systems per replica there (NaN: not labelled).
        """
        label = f"{model}: {systems:,.0f} systems" if np.isfinite(systems) else model
        self.marker.data = {"x": [float(isl)], "y": [float(params_b)], "text": [label]}


def geometric_edges(centers: np.ndarray) -> np.ndarray:
    """Cell edges of log-spaced centers: geometric midpoints, the ends extended by half a step.

    Parameters
    ----------
    centers
        Increasing positive values.

    Returns
    -------
    numpy.ndarray
        ``len(centers) + 1`` edges.
    """
    c = np.asarray(centers, dtype=float)
    mids = np.sqrt(c[1:] * c[:-1])
    first = c[0] ** 2 / mids[0]
    last = c[-1] ** 2 / mids[-1]
    return np.concatenate([[first], mids, [last]])
