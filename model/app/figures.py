"""Helpers shared by the apps' figures.  No backend is chosen here: the runner picks Agg."""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure


def panels(n: int, width: float = 4.2, height: float = 3.4, max_cols: int = 3) -> tuple[Figure, list[Axes]]:
    """A figure of ``n`` panels, up to ``max_cols`` a row, each ``width`` x ``height`` inches;
    unused cells of the last row are hidden."""
    cols = min(n, max_cols)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])
