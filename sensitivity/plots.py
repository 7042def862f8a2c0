"""Bar chart of S1 and ST with their confidence intervals."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure


def indices_bar_chart(ds: xr.Dataset) -> Figure:
    outputs, models = list(ds.output.values), list(ds.model.values)
    fig, axes = plt.subplots(len(models), len(outputs), figsize=(4.6 * len(outputs), 3.4 * len(models)),
                             squeeze=False)
    x = np.arange(ds.sizes["parameter"])
    for r, model in enumerate(models):
        for c, output in enumerate(outputs):
            ax = axes[r, c]
            cell = ds.sel(output=output, model=model)
            ax.bar(x - 0.2, cell.S1, 0.4, yerr=cell.S1_conf, capsize=3, label="S1 (first order)")
            ax.bar(x + 0.2, cell.ST, 0.4, yerr=cell.ST_conf, capsize=3, label="ST (total)")
            ax.set_xticks(x, [str(p) for p in ds.parameter.values], rotation=35, ha="right", fontsize=8)
            ax.set_ylim(0, max(1.0, float(np.nanmax((cell.ST + cell.ST_conf).values, initial=0)) * 1.05))
            ax.set_title(f"{output} ({model})", fontsize=9)
            ax.grid(axis="y", alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"Sobol indices (N = {ds.attrs['n']:,}, {100 * ds.attrs['conf_level']:g}% intervals, "
                 f"{ds.attrs['hardware']})", fontsize=10)
    fig.tight_layout()
    return fig
