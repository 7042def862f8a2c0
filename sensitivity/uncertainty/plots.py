"""Plots of the uncertainty app: bands across ISL, the price to beat across the SLA.

Functions draw on ``ax`` (a new figure's when None) and return it; the figure builders return a
Figure.  No backend is chosen here: the app layer does.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from model.app.figures import legend_below, panels


def hardware_colours(hardware: list[str]) -> dict[str, str]:
    """One matplotlib colour per hardware name, in order (``C0``, ``C1``, ...).

    Parameters
    ----------
    hardware
        Hardware names.

    Returns
    -------
    dict
    """
    return {str(h): f"C{i}" for i, h in enumerate(hardware)}


def _thousands(ax: Axes, ticks: np.ndarray) -> None:
    """Log x ticks at ``ticks``, labelled 16k, 32k, ... (no minor labels); a tick closer than a
    2/3 of an octave to the one labelled before it stays unlabelled, so labels never collide."""
    ticks = np.sort(np.asarray(ticks, dtype=float))
    labelled, last = [], None
    for t in ticks:
        if last is None or np.log2(t / last) >= 2 / 3:
            labelled.append(t)
            last = t
    ax.set_xticks(ticks, minor=True)
    ax.set_xticks(labelled)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1000:g}k"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def bands_panel(ds: xr.Dataset, model: str, variable: str = "optimal_cost_per_mtok", ax: Axes | None = None,
                legend: bool = True) -> Axes:
    """One model's bands across ISL: the lower-upper quantile range filled, the middle quantile
    as a line, the catalog values dashed, one colour per hardware.

    Parameters
    ----------
    ds
        :func:`sensitivity.uncertainty.analyze`'s result.
    model
        A model name of ``ds``.
    variable
        ``optimal_cost_per_mtok`` or ``cost_per_mtok``.
    ax
        Axes to draw on (default: a new figure's).
    legend
        Draw a legend on the axes (``loc="best"``); :func:`bands_figure` puts one below the panels instead.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``.  Its title names the model and the SLA, and the share of scenarios in which each
        hardware meets the SLA ("never" for hardware drawn without a band).
    """
    if ax is None:
        _, ax = plt.subplots()
    colours = hardware_colours(list(ds.hardware.values))
    levels = [float(v) for v in ds["quantile"].values]
    shares = []
    isl = ds.isl.values
    drawn = False
    for hw, colour in colours.items():
        band = ds[variable].sel(model=model, hardware=hw)
        low, mid, high = (band.sel(quantile=v).values for v in levels)
        if not np.isfinite(mid).any():
            shares.append(f"{hw} never")
            continue
        drawn = True
        share = ds[f"{variable}_defined"].sel(model=model, hardware=hw).values
        lo_share, hi_share = f"{np.nanmin(share):.0%}", f"{np.nanmax(share):.0%}"
        shares.append(f"{hw} {lo_share if lo_share == hi_share else f'{lo_share}-{hi_share}'}")
        ax.fill_between(isl, low, high, color=colour, alpha=0.25, lw=0, label=f"{hw} P{100 * levels[0]:g}-"
                                                                               f"P{100 * levels[2]:g}")
        ax.plot(isl, mid, color=colour, lw=1.8, marker="o", ms=3, label=f"{hw} P{100 * levels[1]:g}")
        ax.plot(isl, ds[f"{variable}_point"].sel(model=model, hardware=hw).values, color=colour, lw=1, ls="--",
                label=f"{hw} catalog values")
    ax.set_xscale("log")
    _thousands(ax, isl)
    if drawn:
        ax.set_yscale("log")
        if legend:
            ax.legend(fontsize=6, loc="best")
    else:
        ax.text(0.5, 0.5, "no hardware meets the SLA", transform=ax.transAxes, ha="center", va="center")
    # the share of scenarios meeting the SLA, hardware without a band included: in the title, over no data
    ax.set_title(f"{model}, SLA {ds.attrs.get('sla_min_interactivity', float('nan')):g} tok/s\nSLA met: "
                 + ", ".join(shares), fontsize=8)
    ax.set_xlabel("ISL (tokens)")
    ax.set_ylabel(f"{variable} (\\$/Mtok)", fontsize=8)
    ax.grid(alpha=0.3, which="both")
    return ax


def bands_figure(ds: xr.Dataset, variable: str = "optimal_cost_per_mtok") -> Figure:
    """:func:`bands_panel` for every model, with a title naming the band.

    Parameters
    ----------
    ds
        :func:`sensitivity.uncertainty.analyze`'s result.
    variable
        ``optimal_cost_per_mtok`` or ``cost_per_mtok``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    models = [str(m) for m in ds.model.values]
    fig, axes = panels(len(models), layout="constrained")
    for model, ax in zip(models, axes):
        bands_panel(ds, model, variable, ax=ax, legend=False)
    handles, seen = [], set()
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in seen:
                seen.add(label)
                handles.append(handle)
    legend_below(fig, handles)
    levels = [float(v) for v in ds["quantile"].values]
    fig.suptitle(f"{variable} across ISL: P{100 * levels[0]:g}-P{100 * levels[2]:g} band (filled), "
                 f"P{100 * levels[1]:g} (line), catalog values (dashed); {ds.attrs.get('scenarios', '?')} scenarios, "
                 f"SLA {ds.attrs.get('sla_min_interactivity', float('nan')):g} tok/s", fontsize=10)
    return fig


def price_to_beat_panel(ds: xr.Dataset, model: str, hardware: list[str], isl: int,
                        switches: xr.Dataset | None = None, ax: Axes | None = None) -> Axes:
    """One model's price to beat across the SLA for ``hardware`` at ``isl``, from ``ds``
    (:func:`model.price_to_beat.price_to_beat`'s result), with their catalog prices and, if given,
    ``switches`` (:func:`model.price_to_beat.sla_switch_points`) as vertical lines; drawn on ``ax``
    (default: a new figure's), which it returns."""
    if ax is None:
        _, ax = plt.subplots()
    colours = hardware_colours(list(ds.hardware.values))
    sla = ds.min_interactivity.values
    for hw in hardware:
        beat = ds.price_to_beat.sel(model=model, hardware=hw, isl=isl).values
        ax.plot(sla, np.where(np.isfinite(beat), beat, np.nan), color=colours[hw], lw=1.8, marker="o", ms=3,
                label=f"{hw} price to beat")
        unbeaten = np.isinf(beat)
        if unbeaten.any():  # only this hardware meets the SLA: any price wins, drawn along the top edge
            ax.plot(sla[unbeaten], np.full(unbeaten.sum(), 0.98), transform=ax.get_xaxis_transform(),
                    color=colours[hw], lw=4, alpha=0.5, solid_capstyle="butt",
                    label=f"{hw}: the only one meeting the SLA (any price)")
        price = float(ds.price_per_hour.sel(hardware=hw))
        ax.axhline(price, color=colours[hw], ls="--", lw=1, label=f"{hw} catalog ${price:,.2f}/h")
    if switches is not None and switches.sizes.get("switch", 0):
        here = (switches.model == model) & (switches.isl == isl)
        for value in switches.min_interactivity.values[here.values]:
            ax.axvline(float(value), color="0.4", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    dollars = FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 10 else f"{v:g}")  # plain $, not 6x10^1
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(dollars)
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_title(f"{model}, ISL {isl:,}", fontsize=9)
    ax.set_xlabel("SLA: least output tok/s per request")
    ax.set_ylabel("$/hour per system", fontsize=8)
    ax.grid(alpha=0.3, which="both")
    return ax


def price_to_beat_figure(ds: xr.Dataset, hardware: list[str], isl: int, switches: xr.Dataset | None = None) -> Figure:
    """:func:`price_to_beat_panel` for every model.

    Parameters
    ----------
    ds
        :func:`model.price_to_beat.price_to_beat`'s result.
    hardware
        Hardware drawn.
    isl
        The ISL drawn.
    switches
        :func:`model.price_to_beat.sla_switch_points` (optional).

    Returns
    -------
    matplotlib.figure.Figure
    """
    models = [str(m) for m in ds.model.values]
    fig, axes = panels(len(models), layout="constrained")
    for model, ax in zip(models, axes):
        price_to_beat_panel(ds, model, hardware, isl, switches, ax=ax)
    handles, labels, seen = [], [], set()
    for ax in axes:  # every panel's entries once, in a legend below the panels (it covers no data)
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in seen:
                seen.add(label)
                handles.append(handle)
                labels.append(label)
    if switches is not None and switches.sizes.get("switch", 0):
        handles.append(Line2D([], [], color="0.4", ls=":", lw=1, label="SLA where the cheapest hardware changes"))
    legend_below(fig, handles)
    fig.suptitle(f"Price to beat at ISL {isl:,} across the SLA: the \\$/hour per system at which a hardware "
                 "type's least SLA-meeting \\$/Mtok equals the best other's", fontsize=10)
    return fig
