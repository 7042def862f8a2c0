"""Figures of the cost model. Each function returns a matplotlib Figure; callers save them and
choose the backend."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import matplotlib.colors
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from omegaconf import DictConfig, OmegaConf

from model.app.figures import legend_below, panels
from model.cheapest import cheapest_concurrency
from model.evaluate import evaluate
from model.parameters import derive, raw_parameters


def model_axes(n: int, axes: Sequence[Axes] | None, width: float = 4.2,
               height: float = 3.4) -> tuple[Figure, list[Axes], bool]:
    """``axes`` (one per model) and their figure, or a new figure's panels (``width`` x ``height``
    inches each); and whether they are new."""
    if axes is None:
        fig, new = panels(n, width, height, layout="constrained")
        return fig, new, True
    axes = list(np.asarray(axes, dtype=object).ravel())
    if len(axes) != n:
        raise ValueError(f"axes has {len(axes)} axes: needs one per model ({n})")
    return axes[0].figure, axes, False


def cost_vs_concurrency(ds: xr.Dataset, isl: int, sla: float, axes: Sequence[Axes] | None = None) -> Figure:
    """$/Mtok against concurrency per model at one ISL; solid where the SLA is met, the last
    concurrency meeting it marked |, the cheapest SLA point marked *.  ``axes``: one per model
    to draw on (default: a new figure's panels, with the key below them and a title)."""
    at = ds.sel(isl=isl)
    best = cheapest_concurrency(at)
    fig, axes, own = model_axes(at.sizes["model"], axes)
    for ax, model in served_panels(at, axes, isl):
        for i, hw in enumerate(at.hardware.values):
            cell = at.sel(model=model, hardware=hw)
            color = f"C{i}"
            n = cell.concurrency.values
            cost = cell.cost_per_mtok.values
            ok = cell.meets_sla.values
            ax.plot(n, cost, color=color, lw=0.8, alpha=0.35)
            ax.plot(n, np.where(ok, cost, np.nan), color=color, lw=1.8, label=hw)
            if ok.any():
                edge = n[ok].max()
                ax.plot(edge, cost[n == edge], marker="|", ms=14, color=color)
                b = best.sel(model=model, hardware=hw)
                ax.plot(b.concurrency, b.cost_per_mtok, marker="*", ms=11, color=color, mec="k")
        ax.set(xscale="log", yscale="log", title=f"{model}, ISL {isl:,}", xlabel="concurrency N (requests/replica)",
               ylabel="hardware $/Mtok (all tokens)")
        ax.grid(True, which="both", alpha=0.2)
    key = [Line2D([], [], color=f"C{i}", lw=1.8, label=str(hw)) for i, hw in enumerate(at.hardware.values)]
    key += [Line2D([], [], color="0.5", lw=0.8, alpha=0.5, label=f"below the SLA of {sla:g} tok/s"),
            Line2D([], [], color="0.5", ls="none", marker="|", ms=12, label="SLA boundary"),
            Line2D([], [], color="0.5", ls="none", marker="*", ms=10, mec="k", label="cheapest under the SLA")]
    if not own:
        axes[0].legend(handles=key, fontsize=6, loc="best")
        return fig
    legend_below(fig, key, ncols=4)
    fig.suptitle(f"\\$/Mtok vs concurrency at ISL {isl:,}: bold where interactivity >= {sla:g} tok/s (the SLA)",
                 fontsize=10)
    return fig


def served_panels(at: xr.Dataset, axes: Sequence[Axes], isl: int) -> Iterator[tuple[Axes, Any]]:
    """Each model of ``at`` (one ISL) with a cell that can be served, and its axes; the other models'
    panels say why they are empty (:func:`nothing_served`)."""
    for ax, model in zip(axes, at.model.values):
        if bool(at.feasible.sel(model=model).any()):
            yield ax, model
        else:
            nothing_served(ax, str(model), isl)


def nothing_served(ax, model: str, isl: int) -> None:
    """A panel that says why it is empty (ISL beyond the context, or no buildable replica)."""
    ax.text(0.5, 0.5, f"{model}: no cell can be served\nat ISL {isl:,}", ha="center", va="center",
            transform=ax.transAxes)
    ax.set(title=model, xticks=[], yticks=[])


def interactivity_vs_concurrency(ds: xr.Dataset, isl: int, sla: float, axes: Sequence[Axes] | None = None) -> Figure:
    """Output tok/s per request against concurrency per model, with the SLA line.  ``axes``: one
    per model to draw on (default: a new figure's panels, with the key below them and a title)."""
    at = ds.sel(isl=isl)
    fig, axes, own = model_axes(at.sizes["model"], axes)
    for ax, model in served_panels(at, axes, isl):
        for i, hw in enumerate(at.hardware.values):
            cell = at.sel(model=model, hardware=hw)
            ax.plot(cell.concurrency, cell.interactivity, color=f"C{i}", label=str(hw))
        ax.axhline(sla, color="k", ls="--", lw=1, label=f"SLA {sla:g} tok/s")
        ax.set(xscale="log", yscale="log", title=f"{model}, ISL {isl:,}", xlabel="concurrency N (requests/replica)",
               ylabel="interactivity (tok/s per request)")
        ax.grid(True, which="both", alpha=0.2)
    key = [Line2D([], [], color=f"C{i}", label=str(hw)) for i, hw in enumerate(at.hardware.values)]
    key.append(Line2D([], [], color="k", ls="--", lw=1, label=f"SLA {sla:g} tok/s"))
    if not own:
        axes[0].legend(handles=key, fontsize=6, loc="best")
        return fig
    legend_below(fig, key, ncols=4)
    fig.suptitle(f"Interactivity vs concurrency at ISL {isl:,} (SLA {sla:g} tok/s per request)", fontsize=10)
    return fig


def feasibility_grid(cfg: DictConfig, points: int = 60, model: str | None = None) -> xr.Dataset:
    """Systems per replica over ISL × total parameters for one hardware type.

    Weights scale with total parameters at the reference model's bytes per parameter; KV per
    token is the reference model's (``model``, default ``plots.feasibility_reference_model``);
    concurrency is the workload's.  Evaluated in one call by passing total parameters as a
    DataArray along its own dim.
    """
    plot = cfg.plots
    ref, hw = model or plot.feasibility_reference_model, plot.feasibility_hardware
    sub = OmegaConf.merge(cfg, {"select": {"models": [ref], "hardware": [hw]}})
    raw = raw_parameters(sub)
    weights = derive(raw, xr.DataArray(1.0), xr.DataArray(1.0)).weight_bytes.sel(model=ref)
    bytes_per_param = float(weights) / (float(raw.total_params_b.sel(model=ref)) * 1e9)
    lo, hi = plot.feasibility_params_b
    params_b = xr.DataArray(np.geomspace(lo, hi, points), dims="model_size_b")
    params_b = params_b.assign_coords(model_size_b=params_b.values)
    isl_values = np.unique(np.rint(np.geomspace(cfg.grid.isl_min, max(cfg.grid.isl_max, 2_000_000), points)))
    isl = xr.DataArray(isl_values, dims="isl", coords={"isl": isl_values})
    grid = evaluate(sub, {f"models.{ref}.total_params_b": params_b,
                          f"models.{ref}.weight_gb": params_b * bytes_per_param,
                          f"models.{ref}.active_params_b": params_b * 0 + 1.0,  # <= total; unused
                          f"models.{ref}.max_context": float(isl_values.max())},
                    isl=isl, concurrency=xr.DataArray(float(cfg.workload.concurrency)),
                    variables=["systems"])
    return grid.systems.sel(model=ref, hardware=hw).to_dataset(name="systems")


def feasibility_diagram(cfg: DictConfig, catalog: xr.Dataset, axes: Sequence[Axes] | None = None) -> Figure:
    """Systems needed over ISL × total parameters, one panel per catalog model: each panel's
    background scales that model's own bytes per parameter and KV per token (so its dot, the
    model at its max context, sits on a background computed for it), on log axes with one log
    colour scale labelled in systems at powers of two, and contours at 32/64/128 systems.

    ``catalog`` is :func:`catalog_at_max_context` (dims model, isl) with the workload
    concurrency.  ``axes``: one axes per model to draw on (default: a new figure's panels, with
    a shared colour bar, the contours' key below and a title).
    """
    hw = cfg.plots.feasibility_hardware
    models = [str(m) for m in catalog.model.values]
    grids = {m: feasibility_grid(cfg, model=m).systems for m in models}
    fig, axes, own = model_axes(len(models), axes, 4.6, 3.8)
    values = np.concatenate([g.values.astype(float).ravel() for g in grids.values()])
    finite = values[np.isfinite(values) & (values > 0)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (1.0, 2.0)
    # one log colour scale for every panel, labelled in systems at powers of two (1, 2, 4, 8, ...)
    norm = matplotlib.colors.LogNorm(vmin=2.0 ** np.floor(np.log2(lo)), vmax=2.0 ** np.ceil(np.log2(max(hi, 2 * lo))))
    levels, colors = [32, 64, 128], ["cyan", "orange", "r"]
    mesh = None
    for ax, model in zip(axes, models):
        grid = grids[model]
        x, y = grid.isl.values, grid.model_size_b.values
        z = grid.transpose("model_size_b", "isl").values.astype(float)
        mesh = ax.pcolormesh(x, y, np.where(z > 0, z, np.nan), shading="auto", cmap="viridis", norm=norm)
        ax.contour(x, y, z, levels=levels, colors=colors, linewidths=1.4)
        c = catalog.sel(model=model)
        ax.plot(c.isl, c.total_params_b, "o", color="w", mec="k", ms=7)
        right = float(c.isl) > np.sqrt(x.min() * x.max())
        ax.annotate(f"{int(c.systems)} systems", (float(c.isl), float(c.total_params_b)), textcoords="offset points",
                    xytext=(-7 if right else 7, 5), fontsize=7, color="w", ha="right" if right else "left")
        ax.set(xscale="log", yscale="log", xlabel="ISL (tokens of context per request)",
               ylabel="total parameters (B)", title=f"{model} (dot: at its max context)")
        ax.title.set_fontsize(9)
    if not own:
        return fig
    cbar = fig.colorbar(mesh, ax=axes)
    powers = 2.0 ** np.arange(np.log2(norm.vmin), np.log2(norm.vmax) + 1)
    cbar.ax.yaxis.set_major_locator(matplotlib.ticker.FixedLocator(powers))
    cbar.ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    cbar.ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    cbar.set_label("systems per replica (log scale)")
    key = [plt.Line2D([], [], color=c, lw=1.6, label=f"{v} systems") for v, c in zip(levels, colors)]
    key.append(plt.Line2D([], [], ls="none", marker="o", color="w", mec="k", label="the model at its max context"))
    legend_below(fig, key, ncols=4)
    fig.suptitle(f"Systems per replica on {hw} at N = {cfg.workload.concurrency} over ISL and model size, each panel "
                 "with its model's bytes per parameter and KV per token (memory only: no SLA)", fontsize=10)
    return fig


def catalog_at_max_context(cfg: DictConfig) -> xr.Dataset:
    """Systems of each selected model on the diagram's hardware at its own max context."""
    hw = cfg.plots.feasibility_hardware
    sub = OmegaConf.merge(cfg, {"select": {"hardware": [hw]}})
    names = list(cfg.select.models)
    context = xr.DataArray([float(cfg.models[m].max_context) for m in names], dims="model",
                           coords={"model": names})
    ds = evaluate(sub, isl=context, concurrency=xr.DataArray(float(cfg.workload.concurrency)),
                  variables=["systems"])
    out = ds.systems.sel(hardware=hw).to_dataset(name="systems")
    out["isl"] = context
    out["total_params_b"] = ("model", [float(cfg.models[m].total_params_b) for m in names])
    return out


def spend_by_type(spend: xr.Dataset, ax: Axes | None = None) -> Figure:
    """Bar chart of the per-request spend by token type, with shares.

    The spend is what ``workload.price_sheet`` (an API's prices per token type) charges for one
    request of the workload's mix: it depends on the ISL, not on the model or the hardware, and
    no SLA enters it; the title says so.  ``ax``: axes to draw on (default: a new figure's)."""
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(7.2, 4.0))
    else:
        fig = ax.figure
    types = [str(t) for t in spend.token_type.values]
    bars = ax.bar(types, spend.spend.values, color=["C0", "C1", "C2", "C3"])
    for bar, share, tokens in zip(bars, spend.share.values, spend.tokens.values):
        ax.annotate(f"{share:.1%}\n{tokens:,.0f} tok", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=8)
    isl = float(spend.tokens.sum() - spend.tokens.sel(token_type="output"))
    osl = float(spend.tokens.sel(token_type="output"))
    # "\$": a plain dollar sign (two of them would start matplotlib's mathtext)
    ax.set(xlabel="token type (tokens per request above each bar)", ylabel="\\$ per request",
           title=f"Token spend per request at ISL {isl:,.0f} (+ {osl:,.0f} output): \\${float(spend.total_spend):.3f}, "
                 f"{float(spend.price_per_mtok):.3g} \\$/Mtok blended\nworkload.price_sheet (API prices): the same "
                 "for every model and hardware; no SLA enters it")
    ax.title.set_fontsize(9)
    ax.margins(y=0.3)
    if own:
        fig.tight_layout()
    return fig


def predicted_vs_measured(table, stats):
    """Predicted against measured interactivity, TTFT and throughput per GPU, log axes, ±25% bands."""
    panels_spec = [("tok_s", "interactivity (tok/s per request)", "interactivity"),
                   ("ttft_ms", "TTFT (ms)", "ttft"),
                   ("tput_gpu", "throughput per GPU (tok/s)", "throughput_per_gpu")]
    fig, axes = plt.subplots(1, len(panels_spec), figsize=(15, 5.8), layout="constrained")
    markers = {m: s for m, s in zip(sorted(table.model.unique()), "os^Dv")}
    for ax, (column, label, key) in zip(axes, panels_spec):
        for i, (gpu, group) in enumerate(table.groupby("gpu")):
            for model_name, rows in group.groupby("model"):
                ax.scatter(rows[f"{column}_meas"], rows[f"{column}_pred"], color=f"C{i}",
                           marker=markers[model_name], label=f"{gpu} / {model_name}", s=36, edgecolor="k", lw=0.4)
        pairs = table[[f"{column}_meas", f"{column}_pred"]].dropna().values
        lo, hi = pairs.min() / 1.5, pairs.max() * 1.5
        ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
        for f in (0.75, 1.25):
            ax.plot([lo, hi], [lo * f, hi * f], "k:", lw=0.6)
        s = stats[key]
        for axis in (ax.xaxis, ax.yaxis):
            # a few labelled decades only: minor labels on log axes overlap
            axis.set_major_locator(matplotlib.ticker.LogLocator(base=10, numticks=6))
            axis.set_major_formatter(matplotlib.ticker.LogFormatterSciNotation())
            axis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi), xlabel=f"measured {label}",
               ylabel=f"predicted {label}",
               title=f"{key}: median |err| {s['median_abs_pct']:.1f}%, worst {s['worst_abs_pct']:.0f}% "
                     f"({s['points']} pts)")
        ax.title.set_fontsize(9)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 6), fontsize=7, frameon=False)
    fig.suptitle("GPU model (decode and prefill) vs InferenceX (dotted: ±25%), each point at its benchmark's ISL "
                 "and concurrency (models and GPUs below; no SLA)", fontsize=10)
    return fig


def configurations_vs_measured(table, outliers: int = 3) -> Figure:
    """Predicted against measured interactivity, median TTFT and output tok/s per GPU of the
    configuration runs, one column per regime family (kind, EP, dp-attention); colour MTP,
    marker precision; the ``outliers`` worst runs of each panel labelled by id; dotted ±25%."""
    family = table.regime.str.split().str[:3].str.join(" ")
    families = sorted(family.unique())
    metrics = [("median_intvty", "intvty_pred", "interactivity (tok/s/user)"),
               ("median_ttft", "ttft_pred", "TTFT p50 (s)"),
               ("output_tput_per_gpu", "tput_gpu_pred", "output tok/s per GPU")]
    fig, axes = plt.subplots(len(metrics), len(families), figsize=(3.3 * len(families), 9.6), squeeze=False)
    mtp = table.regime.str.contains("mtp")
    fp4 = table.regime.str.endswith("fp4")
    for j, fam in enumerate(families):
        rows = family == fam
        for i, (meas, pred, label) in enumerate(metrics):
            ax = axes[i, j]
            part = table[rows & table[meas].notna() & table[pred].notna()]
            for is_mtp, colour in ((False, "C0"), (True, "C3")):
                for is_fp4, marker in ((False, "o"), (True, "^")):
                    sel = part[(mtp[part.index] == is_mtp) & (fp4[part.index] == is_fp4)]
                    if len(sel):
                        ax.scatter(sel[meas], sel[pred], s=14, color=colour, marker=marker, edgecolor="k", lw=0.3,
                                   label=f"{'MTP' if is_mtp else 'no MTP'}, {'FP4' if is_fp4 else 'FP8'}")
            if len(part):
                values = part[[meas, pred]].to_numpy()
                lo, hi = values.min() / 1.5, values.max() * 1.5
                ax.plot([lo, hi], [lo, hi], "k-", lw=0.7)
                for f in (0.75, 1.25):
                    ax.plot([lo, hi], [lo * f, hi * f], "k:", lw=0.5)
                worst = np.abs(np.log(part[pred] / part[meas])).nlargest(outliers).index
                for k in worst:
                    ax.annotate(str(int(part.id[k])), (part[meas][k], part[pred][k]), fontsize=6, color="0.2",
                                xytext=(2, 2), textcoords="offset points")
                err = 100 * np.median(np.abs(part[pred] / part[meas] - 1))
                ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi))
                for axis in (ax.xaxis, ax.yaxis):  # labelled decades only: minor labels overlap
                    axis.set_major_locator(matplotlib.ticker.LogLocator(base=10, numticks=5))
                    axis.set_major_formatter(matplotlib.ticker.LogFormatterSciNotation())
                    axis.set_minor_formatter(matplotlib.ticker.NullFormatter())
                ax.set_title(f"{fam}: {label}\nmedian |err| {err:.0f}% ({len(part)} runs)", fontsize=7)
            ax.tick_params(labelsize=6)
            if j == 0:
                ax.set_ylabel("predicted", fontsize=7)
            if i == len(metrics) - 1:
                ax.set_xlabel("measured", fontsize=7)
    axes[0, 0].legend(fontsize=6, loc="upper left")
    fig.suptitle("model.serving vs the InferenceX DeepSeek-R1 runs, in sample (dotted: ±25%; labels: run id)",
                 fontsize=10)
    fig.tight_layout()
    return fig
