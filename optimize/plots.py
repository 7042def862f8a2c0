"""The optimizer's figure: $/Mtok against interactivity, traced across concurrency."""
from __future__ import annotations

import xarray as xr
from matplotlib.figure import Figure

from model.app.figures import panels
from optimize.plan import FleetPlan


def frontier(grid: xr.Dataset, plan: FleetPlan, sla: xr.DataArray, bucket: int = 0) -> Figure:
    """Per model: one curve per hardware of (interactivity, $/Mtok) over concurrency at one ISL
    bucket, the SLA as a vertical line, the plan's chosen configurations as stars.

    Parameters
    ----------
    grid
        The evaluated :func:`optimize.inputs.bucket_grid`.
    plan
        The fleet plan on that grid.
    sla
        Least output tok/s per request, per model.
    bucket
        Index of the ISL bucket to draw.
    """
    at = grid.isel(bucket=bucket)
    models = list(at.model.values)
    fig, axes = panels(len(models), 4.4, 3.6)
    isl = int(at.bucket_isl)
    for ax, model in zip(axes, models):
        if not bool((at.cost_per_mtok.sel(model=model) > 0).any()):
            ax.text(0.5, 0.5, f"{model}: no cell can be served\nat ISL {isl:,}", ha="center", va="center",
                    transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        for i, hw in enumerate(at.hardware.values):
            c = at.sel(model=model, hardware=hw)
            ax.plot(c.interactivity, c.cost_per_mtok, color=f"C{i}", lw=1.2, label=hw)
            if len(plan.plan):
                table = plan.plan
                chosen = table[(table.model == model) & (table.hardware == hw) & (table.bucket_isl == isl)]
                for n in chosen.concurrency:
                    p = c.sel(concurrency=n)
                    ax.plot(p.interactivity, p.cost_per_mtok, "*", ms=13, color=f"C{i}", mec="k")
        ax.axvline(float(sla.sel(model=model)), color="k", ls="--", lw=1)
        ax.set(xscale="log", yscale="log", title=str(model), xlabel="interactivity (tok/s per request)",
               ylabel="hardware $/Mtok")
        ax.grid(True, which="both", alpha=0.2)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"$/Mtok vs interactivity across concurrency at ISL {isl:,} (dashed: SLA; *: chosen in the plan)",
                 fontsize=10)
    fig.tight_layout()
    return fig
