"""Bar charts of S1 and ST with their confidence intervals (SALib-style: draw on ``ax`` or ``axes``).

The module never chooses a matplotlib backend; the app layer does.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure


def indices_bar(cell: xr.Dataset, ax: Axes | None = None) -> Axes:
    """S1 and ST bars, with interval whiskers, of one output of one model, largest ST first.

    Parameters
    ----------
    cell
        One (output, model) of :func:`sensitivity.analyze`'s result (``S1``, ``S1_conf``, ``ST``,
        ``ST_conf`` over ``parameter``; scalar ``output`` and ``model`` coords for the title).
    ax
        Axes to draw on (default: a new figure's); the function returns it.
    """
    if ax is None:
        _, ax = plt.subplots()
    # largest total index first (parameters without an index last)
    cell = cell.isel(parameter=np.argsort(-np.nan_to_num(cell.ST.values, nan=-1.0), kind="stable"))
    x = np.arange(cell.sizes["parameter"])
    ax.bar(x - 0.2, cell.S1, 0.4, yerr=cell.S1_conf, capsize=3, label="S1 (first order)")
    ax.bar(x + 0.2, cell.ST, 0.4, yerr=cell.ST_conf, capsize=3, label="ST (total)")
    ax.set_xticks(x, [str(p) for p in cell.parameter.values], rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("Sobol index (share of the variance)", fontsize=8)
    ax.set_xlabel("parameter (largest ST first)", fontsize=8)
    ax.set_ylim(0, max(1.0, float(np.nanmax((cell.ST + cell.ST_conf).values, initial=0)) * 1.05))
    if not bool(np.isfinite(cell.ST.values).any()):  # e.g. samples where no concurrency meets the SLA
        why = ""
        if "valid_samples" in cell and "model_runs" in cell.attrs:
            why = f"\n{cell.attrs['model_runs'] - int(cell.valid_samples):,} samples have no value"
        ax.text(0.5, 0.6, f"no indices{why}", ha="center", va="center", transform=ax.transAxes, fontsize=8,
                color="0.4")
    if "output" in cell.coords and "model" in cell.coords:
        ax.set_title(f"{cell.output.item()} ({cell.model.item()})", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    return ax


def indices_bar_chart(ds: xr.Dataset, axes: np.ndarray | None = None) -> Figure:
    """A grid of :func:`indices_bar`: a row per model, a column per output.

    Parameters
    ----------
    ds
        :func:`sensitivity.analyze`'s result.
    axes
        ``(models, outputs)`` axes to draw on (anything that reshapes to that).  Default: a new
        figure, which also gets a title (N, interval level, hardware) and a constrained layout
        (the title clear of the panels); given axes keep their figure's title and layout.

    Returns
    -------
    matplotlib.figure.Figure
        The figure of the axes.
    """
    outputs, models = list(ds.output.values), list(ds.model.values)
    own = axes is None
    if own:
        # constrained layout leaves room for the suptitle above the first row's titles
        fig, axes = plt.subplots(len(models), len(outputs), figsize=(4.6 * len(outputs), 3.4 * len(models)),
                                 squeeze=False, layout="constrained")
    else:
        axes = np.asarray(axes, dtype=object)
        if axes.size != len(models) * len(outputs):
            raise ValueError(f"axes has {axes.size} axes: needs {len(models)} x {len(outputs)} (models x outputs)")
        axes = axes.reshape(len(models), len(outputs))
        fig = axes[0, 0].figure
    for r, model in enumerate(models):
        for c, output in enumerate(outputs):
            indices_bar(ds.sel(output=output, model=model), ax=axes[r, c])
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if own:
        fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=8)
        fig.suptitle(f"Sobol indices of {', '.join(map(str, models))} on {ds.attrs['hardware']} "
                     f"(N = {ds.attrs['n']:,}, {100 * ds.attrs['conf_level']:g}% intervals; ISL and concurrency "
                     f"sampled; SLA {ds.attrs.get('sla_min_interactivity', float('nan')):g} tok/s)", fontsize=10)
    else:
        axes[0, 0].legend(fontsize=8, loc="best")
    return fig
