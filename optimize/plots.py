"""The optimizer's figure: $/Mtok against interactivity across concurrency, with its Pareto frontier."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from omegaconf import DictConfig

from model.app.figures import legend_below, panels
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


def pareto_front(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats on both axes (interactivity ``x`` at least
    as high and $/Mtok ``y`` at least as low, one of them strictly), in increasing ``x``; points
    with a non-finite or non-positive value are left out.

    Parameters
    ----------
    x, y
        Interactivity and $/Mtok per point (e.g. per concurrency).
    """
    x, y = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    ok = np.flatnonzero(np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0))
    front, cheapest = [], np.inf
    for i in ok[np.lexsort((y[ok], -x[ok]))]:  # highest interactivity first, the cheapest of a tie first
        if y[i] < cheapest:
            front.append(i)
            cheapest = y[i]
    return np.asarray(front[::-1], dtype=int)


def _front(ax: Axes, x: np.ndarray, y: np.ndarray, color: str, ls: str, label: str) -> None:
    """Every point as a faint dot, the Pareto frontier (:func:`pareto_front`) as a line."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ax.plot(x, y, ".", ms=2, color=color, alpha=0.25, zorder=1)  # under the frontier, never over it
    front = pareto_front(x, y)
    if len(front):
        ax.plot(x[front], y[front], color=color, lw=1.6, ls=ls, label=label, zorder=3)


def frontier(grid: xr.Dataset, plan: FleetPlan, sla: xr.DataArray, bucket: int = 0,
             aggregated_only: FleetPlan | None = None, cfg: DictConfig | None = None,
             axes: Sequence[Axes] | None = None) -> Figure:
    """Per model: per hardware on offer, the (interactivity, $/Mtok) of every concurrency at one
    ISL bucket as faint dots and their Pareto frontier (the configurations no other beats on
    both) as a line joined in interactivity order, the SLA as a vertical line, the plan's chosen
    configurations as stars.

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
    axes
        One axes per model to draw on (default: a new figure's panels, which also get a title
        and a tight layout).
    """
    at = grid.isel(bucket=bucket)
    offered = list(cfg.select.hardware) if cfg is not None else [str(h) for h in at.hardware.values]
    decode = decode_frontier(grid, cfg).isel(bucket=bucket) if cfg is not None and cfg.fleet.disaggregation else None
    models = list(at.model.values)
    own = axes is None
    if own:
        fig, axes = panels(len(models), 4.4, 3.6, layout="constrained")
    else:
        axes = list(np.asarray(axes, dtype=object).ravel())
        if len(axes) != len(models):
            raise ValueError(f"axes has {len(axes)} axes: needs one per model ({len(models)})")
        fig = axes[0].figure
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
            _front(ax, c.interactivity.values, c.cost_per_mtok.values, f"C{i}", "-", f"{hw} aggregated")
            for n in chosen(plan.plan, model, hw, "aggregated"):
                p = c.sel(concurrency=n)
                ax.plot(p.interactivity, p.cost_per_mtok, "*", ms=13, color=f"C{i}", mec="k", zorder=4)
            if aggregated_only is not None:
                for n in chosen(aggregated_only.plan, model, hw, "aggregated"):
                    p = c.sel(concurrency=n)
                    ax.plot(p.interactivity, p.cost_per_mtok, "o", ms=10, mfc="none", mec="k", mew=1.5, zorder=4)
            if decode is not None:
                d = decode.sel(model=model, hardware=hw)
                if bool(np.isfinite(d.cost_per_mtok).any()):
                    _front(ax, d.interactivity.values, d.cost_per_mtok.values, f"C{i}", "--",
                           f"{hw} decode + cheapest prefill")
                for n in chosen(plan.plan, model, hw, "decode"):
                    p = d.sel(concurrency=n)
                    ax.plot(p.interactivity, p.cost_per_mtok, "*", ms=15, color=f"C{i}", mec="k", zorder=4)
        line = float(sla.sel(model=model))
        ax.axvline(line, color="k", ls=":", lw=1, zorder=2)
        lo, hi = ax.get_xlim()
        left = lo > 0 and np.log(line / lo) > 0.5 * np.log(hi / lo)  # label on the roomier side of the line
        ax.annotate(f"SLA {line:,.0f}", (line, 1), xycoords=ax.get_xaxis_transform(), xytext=(-3 if left else 3, -3),
                    textcoords="offset points", va="top", ha="right" if left else "left", fontsize=7)
        ax.set(xscale="log", yscale="log", title=f"{model}, ISL {isl:,}", xlabel="interactivity (tok/s per request)",
               ylabel="hardware \\$/Mtok")
        ax.title.set_fontsize(9)
        ax.grid(True, which="both", alpha=0.2)
    handles = key_handles(offered, decode is not None, aggregated_only is not None)
    if not own:
        axes[0].legend(handles=handles, fontsize=6, loc="best")
        return fig
    legend_below(fig, handles)
    slas = sorted({float(v) for v in sla.values})
    fig.suptitle(f"\\$/Mtok vs interactivity across concurrency at ISL {isl:,}, SLA "
                 + (f">= {slas[0]:,.0f}" if len(slas) == 1 else "per model (dotted)") + " tok/s per request",
                 fontsize=10)
    return fig


def key_handles(hardware: Sequence[str], decode: bool, aggregated_only: bool) -> list[Line2D]:
    """The frontier figure's key: a line per hardware (and a dashed one per hardware with
    decode-only replicas), the dots, the SLA, the plan's stars and the aggregated-only circles."""
    handles = []
    for i, hw in enumerate(hardware):
        handles.append(Line2D([], [], color=f"C{i}", lw=1.6, label=f"{hw}: Pareto frontier (aggregated)"))
        if decode:
            handles.append(Line2D([], [], color=f"C{i}", lw=1.6, ls="--",
                                  label=f"{hw}: decode-only + cheapest prefill"))
    handles += [Line2D([], [], ls="none", marker=".", color="0.5", label="every concurrency"),
                Line2D([], [], color="k", ls=":", lw=1, label="SLA"),
                Line2D([], [], ls="none", marker="*", ms=11, color="0.6", mec="k", label="chosen in the plan")]
    if aggregated_only:
        handles.append(Line2D([], [], ls="none", marker="o", ms=9, mfc="none", mec="k", mew=1.5,
                              label="best aggregated-only plan"))
    return handles
