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
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from model.app.figures import panels


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
    """Log x ticks at ``ticks``, labelled 16k, 32k, ... (no minor labels)."""
    ax.set_xticks(ticks)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1000:g}k"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def bands_panel(ds: xr.Dataset, model: str, variable: str = "optimal_cost_per_mtok", ax: Axes | None = None) -> Axes:
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

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``.
    """
    if ax is None:
        _, ax = plt.subplots()
    colours = hardware_colours(list(ds.hardware.values))
    levels = [float(v) for v in ds["quantile"].values]
    isl = ds.isl.values
    drawn = False
    for hw, colour in colours.items():
        band = ds[variable].sel(model=model, hardware=hw)
        low, mid, high = (band.sel(quantile=v).values for v in levels)
        if not np.isfinite(mid).any():
            continue
        drawn = True
        share = ds[f"{variable}_defined"].sel(model=model, hardware=hw).values
        ax.fill_between(isl, low, high, color=colour, alpha=0.25, lw=0)
        ax.plot(isl, mid, color=colour, lw=1.8, marker="o", ms=3,
                label=f"{hw} P{100 * levels[1]:g} (SLA met in {np.nanmin(share):.0%}-{np.nanmax(share):.0%})")
        ax.plot(isl, ds[f"{variable}_point"].sel(model=model, hardware=hw).values, color=colour, lw=1, ls="--")
    ax.set_xscale("log")
    _thousands(ax, isl)
    if drawn:
        ax.set_yscale("log")
        ax.legend(fontsize=7, loc="best")
    else:
        ax.text(0.5, 0.5, "no hardware meets the SLA", transform=ax.transAxes, ha="center", va="center")
    ax.set_title(model, fontsize=9)
    ax.set_xlabel("ISL (tokens)")
    ax.set_ylabel(f"{variable} ($/Mtok)", fontsize=8)
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
    fig, axes = panels(len(models))
    for model, ax in zip(models, axes):
        bands_panel(ds, model, variable, ax=ax)
    levels = [float(v) for v in ds["quantile"].values]
    fig.suptitle(f"{variable}: P{100 * levels[0]:g}-P{100 * levels[2]:g} band (filled), P{100 * levels[1]:g} (line), "
                 f"catalog values (dashed); {ds.attrs.get('scenarios', '?')} scenarios, SLA "
                 f"{ds.attrs.get('sla_min_interactivity', float('nan')):g} tok/s", fontsize=10)
    fig.tight_layout()
    return fig


def price_to_beat_panel(ds: xr.Dataset, model: str, hardware: list[str], isl: int,
                        switches: xr.Dataset | None = None, ax: Axes | None = None) -> Axes:
    """One model's price to beat across the SLA for some hardware, with their catalog prices.

    Parameters
    ----------
    ds
        :func:`model.price_to_beat.price_to_beat`'s result.
    model
        A model name of ``ds``.
    hardware
        Hardware of ``ds`` to draw.
    isl
        The ISL drawn.
    switches
        :func:`model.price_to_beat.sla_switch_points`, marked as vertical lines (optional).
    ax
        Axes to draw on (default: a new figure's).

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``.
    """
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
    ax.set_xlabel("SLA: least tok/s per request")
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
    fig, axes = panels(len(models))
    for model, ax in zip(models, axes):
        price_to_beat_panel(ds, model, hardware, isl, switches, ax=ax)
    axes[0].legend(fontsize=6, loc="lower left")
    fig.suptitle(r"Price to beat: the \$/hour at which a hardware type's least SLA-meeting \$/Mtok equals the best "
                 "other's (dotted: the SLAs where the cheapest hardware changes)", fontsize=10)
    fig.tight_layout()
    return fig
