"""The optimizer's figure: $/Mtok against interactivity, traced across concurrency."""
from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from omegaconf import DictConfig

from model.app.figures import panels
from optimize.columns import cells, disaggregated_cells
from optimize.inputs import column_options
from optimize.plan import FleetPlan

MTOK_PER_HOUR = 3600 / 1e6


def decode_frontier(grid: xr.Dataset, cfg: DictConfig) -> xr.Dataset:
    """Per cell of ``grid`` on hardware on offer: a decode-only replica's interactivity
    (``1 / step``) and its $/Mtok with the prefill it needs bought at the cheapest prefill
    $/hour per request/s of its (model, bucket) (NaN where there is no disaggregated pair).

    Parameters
    ----------
    grid
        The evaluated :func:`optimize.inputs.bucket_grid`.
    cfg
        Its validated optimizer config.
    """
    options = column_options(cfg, grid)
    c = disaggregated_cells(grid, options)
    feasible = cells(grid, "feasible")
    cost = cells(grid, "cost_per_hour")
    link = np.isfinite(options.link_bytes_per_s)
    with np.errstate(invalid="ignore", divide="ignore"):
        prefill_cost = np.where(feasible & (options.prefill & link)[None, None, :, None],
                                cost / c["prefill_rate"], np.nan)
        per_rps = np.nanmin(np.where(np.isfinite(prefill_cost), prefill_cost, np.inf), axis=(2, 3))
        per_rps = np.where(np.isfinite(per_rps), per_rps, np.nan)[:, :, None, None]
        tokens = (grid.bucket_isl + grid.osl).broadcast_like(grid.systems).transpose(
            "model", "bucket", "hardware", "concurrency").values
        rate = np.where(feasible & (options.offered & link)[None, None, :, None], c["decode_rate"], np.nan)
        per_mtok = (cost + per_rps * rate) / (rate * tokens * MTOK_PER_HOUR)
    dims = ("model", "bucket", "hardware", "concurrency")
    return xr.Dataset({"interactivity": (dims, np.where(np.isfinite(rate), c["decode_interactivity"], np.nan)),
                       "cost_per_mtok": (dims, per_mtok)},
                      coords={d: grid[d] for d in dims})


def frontier(grid: xr.Dataset, plan: FleetPlan, sla: xr.DataArray, bucket: int = 0,
             aggregated_only: FleetPlan | None = None, cfg: DictConfig | None = None) -> Figure:
    """Per model: one curve per hardware on offer of (interactivity, $/Mtok) over concurrency at
    one ISL bucket, the SLA as a vertical line, the plan's chosen configurations as stars.

    With ``cfg`` (disaggregated serving on), a dashed curve per hardware shows decode-only
    replicas with their prefill bought at the cheapest prefill $/hour per request/s
    (:func:`decode_frontier`); the plan's decode columns are starred on it.  With
    ``aggregated_only``, that plan's choices are circled on the solid (aggregated) curves.

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
    aggregated_only
        The best aggregated-only plan on the same grid.
    cfg
        The plan's config: its hardware on offer, and the decode-only curves when
        ``fleet.disaggregation`` is on.
    """
    at = grid.isel(bucket=bucket)
    offered = list(cfg.select.hardware) if cfg is not None else [str(h) for h in at.hardware.values]
    decode = decode_frontier(grid, cfg).isel(bucket=bucket) if cfg is not None and cfg.fleet.disaggregation else None
    models = list(at.model.values)
    fig, axes = panels(len(models), 4.4, 3.6)
    isl = int(at.bucket_isl)

    def chosen(table, model, hw, phase):
        if not len(table):
            return []
        rows = table[(table.model == model) & (table.hardware == hw) & (table.bucket_isl == isl)
                     & (table.phase == phase)]
        return list(rows.concurrency)

    for ax, model in zip(axes, models):
        if not bool((at.cost_per_mtok.sel(model=model) > 0).any()):
            ax.text(0.5, 0.5, f"{model}: no cell can be served\nat ISL {isl:,}", ha="center", va="center",
                    transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        for i, hw in enumerate(offered):
            c = at.sel(model=model, hardware=hw)
            ax.plot(c.interactivity, c.cost_per_mtok, color=f"C{i}", lw=1.2, label=f"{hw} aggregated")
            for n in chosen(plan.plan, model, hw, "aggregated"):
                p = c.sel(concurrency=n)
                ax.plot(p.interactivity, p.cost_per_mtok, "*", ms=13, color=f"C{i}", mec="k")
            if aggregated_only is not None:
                for n in chosen(aggregated_only.plan, model, hw, "aggregated"):
                    p = c.sel(concurrency=n)
                    ax.plot(p.interactivity, p.cost_per_mtok, "o", ms=10, mfc="none", mec="k", mew=1.5)
            if decode is not None:
                d = decode.sel(model=model, hardware=hw)
                if bool(np.isfinite(d.cost_per_mtok).any()):
                    ax.plot(d.interactivity, d.cost_per_mtok, color=f"C{i}", lw=1.2, ls="--",
                            label=f"{hw} decode + cheapest prefill")
                for n in chosen(plan.plan, model, hw, "decode"):
                    p = d.sel(concurrency=n)
                    ax.plot(p.interactivity, p.cost_per_mtok, "*", ms=15, color=f"C{i}", mec="k")
        ax.axvline(float(sla.sel(model=model)), color="k", ls=":", lw=1)
        ax.set(xscale="log", yscale="log", title=str(model), xlabel="interactivity (tok/s per request)",
               ylabel="hardware $/Mtok")
        ax.grid(True, which="both", alpha=0.2)
    axes[0].legend(fontsize=7)
    title = f"$/Mtok vs interactivity across concurrency at ISL {isl:,} (dotted: SLA; *: chosen in the plan"
    if aggregated_only is not None:
        title += "; o: best aggregated-only plan"
    if decode is not None:
        title += ";\ndashed: decode-only replicas with their prefill at the cheapest prefill $/h per request/s"
    fig.suptitle(title + ")", fontsize=10)
    fig.tight_layout()
    return fig
