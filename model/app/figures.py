"""Helpers shared by the apps' figures.  No backend is chosen here: the runner picks Agg."""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure


def panels(n: int, width: float = 4.2, height: float = 3.4, max_cols: int = 3,
           layout: str | None = None) -> tuple[Figure, list[Axes]]:
    """A figure of ``n`` panels, up to ``max_cols`` a row, each ``width`` x ``height`` inches;
    unused cells of the last row are hidden.  ``layout="constrained"`` leaves room for a figure
    legend placed ``"outside ..."`` (:func:`legend_below`)."""
    cols = min(n, max_cols)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False, layout=layout)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def legend_below(fig: Figure, handles: list, ncols: int = 3, fontsize: float = 8) -> None:
    """One legend for the whole figure, below its panels (outside every axes, so it covers no
    data); the figure needs ``layout="constrained"``."""
    fig.legend(handles=handles, loc="outside lower center", ncols=min(ncols, max(len(handles), 1)),
               fontsize=fontsize, frameon=False)
