"""docs/model.md §12 in the apps: the hit-rate curve of ``workload.trace``, written as ``hit_rate.csv``
and ``hit_rate.png``.

Any app run with ``workload.trace`` set (``workload.cache=trace`` requires it) replays the
trace once (:func:`model.prefix_cache.hit_rate_curve`, cached per file and settings) and writes
both files to its run directory.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from omegaconf import DictConfig, OmegaConf, open_dict

from model.app import io
from model.app.traces import read_trace
from model.errors import ConfigError
from model.prefix_cache import BlockTrace, curve_for, default_capacities, hit_rate_at, hit_rate_curve

OUTPUTS = ("hit_rate.csv", "hit_rate.png")
KEY = "workload.trace"


@lru_cache(maxsize=4)
def _curve(path: str, mtime_ns: int, replicas: tuple[int, ...], points: int, seed: int) -> xr.Dataset:
    trace = read_trace(path, KEY)
    if not trace.has_blocks:
        raise ConfigError(KEY, path, "has no prefix block ids (hash_ids): a prefix-cache replay needs a Mooncake-"
                                     "style JSONL")
    blocks = BlockTrace.of(trace)
    return hit_rate_curve(blocks, default_capacities(blocks, points), replicas=replicas, seed=seed)


def trace_curve(cfg: DictConfig) -> xr.Dataset | None:
    """h(C) of ``workload.trace`` (None without a trace): routing x replicas x capacity per replica."""
    w = cfg.workload
    path = OmegaConf.select(w, "trace", default=None)
    if path is None:
        return None
    path = str(Path(str(path)).resolve())
    try:
        mtime = Path(path).stat().st_mtime_ns
    except OSError:
        raise ConfigError(KEY, path, "no such file; give a Mooncake JSONL with hash_ids") from None
    replicas = tuple(sorted({int(r) for r in w.get("cache_replicas", [1])} | {1}))
    return _curve(path, mtime, replicas, int(w.get("cache_points", 50)), int(w.get("cache_seed", 0)))


def attach_curve(cfg: DictConfig) -> DictConfig:
    """``cfg`` with ``workload.cache_curve`` filled from ``workload.trace`` at ``workload.replicas``
    (unchanged without a trace or with ``workload.cache=mix``)."""
    cache = OmegaConf.select(cfg, "workload.cache", default="mix")
    if str(getattr(cache, "value", cache)) != "trace":
        return cfg
    curve = trace_curve(cfg)
    if curve is None:
        return cfg
    cfg = cfg.copy()
    OmegaConf.set_readonly(cfg, False)
    with open_dict(cfg):
        cfg.workload.cache_curve = curve_for(curve, int(cfg.workload.replicas))
    OmegaConf.set_readonly(cfg, True)
    return cfg


def hit_rate_table(curve: xr.Dataset) -> str:
    """``capacity_tokens,replicas,routing,hit_rate`` rows, one per point of the curve."""
    frame = curve["hit_rate"].to_dataframe().reset_index()
    frame = frame[["capacity_tokens", "replicas", "routing", "hit_rate"]]
    frame["capacity_tokens"] = frame["capacity_tokens"].round().astype(np.int64)
    return frame.to_csv(index=False, float_format="%.6f")


def hit_rate_figure(curve: xr.Dataset) -> Figure:
    """h against capacity per replica: one colour per replica count, solid prefix-aware, dashed random."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.8), layout="constrained")
    h = curve["hit_rate"]
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.85, curve.sizes["replicas"]))
    for color, r in zip(colors, curve.replicas.values):
        for routing, style in (("prefix_aware", "-"), ("random", "--")):
            if routing not in curve.routing.values or (r == 1 and routing == "random"):
                continue
            label = f"R = {r}" if r == 1 else f"R = {r}, {routing.replace('_', '-')}"
            ax.plot(curve.capacity_tokens.values, 100 * h.sel(routing=routing, replicas=r).values, style,
                    color=color, label=label)
    ax.axhline(100 * curve["reuse_share"].item(), color="grey", lw=0.8, ls=":",
               label=f"unlimited, one replica: {100 * curve['reuse_share'].item():.1f}%")
    ax.set_xscale("log")
    ax.set_xlabel("prefix-cache capacity per replica (tokens)")
    ax.set_ylabel("input tokens served from cache (%)")
    ax.set_title(f"LRU prefix-cache hit rate, {curve.attrs.get('requests', '?'):,} requests "
                 f"(blocks of {curve.attrs.get('block_tokens', '?')} tokens)", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return fig


def hit_rate_summary(curve: xr.Dataset) -> str:
    """A few lines: h at each decade of capacity per replica, per replica count and routing."""
    caps = curve.capacity_tokens.values
    decades = 10.0 ** np.arange(np.ceil(np.log10(max(caps.min(), 1))), np.floor(np.log10(caps.max())) + 1)
    lines = [f"prefix cache (LRU replay, docs/model.md §12): unlimited capacity on one replica serves "
             f"{100 * curve['reuse_share'].item():.1f}% of input tokens; % served at capacity per replica:",
             f"{'replicas':>8} {'routing':>12} " + " ".join(f"{c:>8.0e}" for c in decades)]
    for r in curve.replicas.values:
        for routing in curve.routing.values:
            if r == 1 and routing != curve.routing.values[0]:
                continue
            h = hit_rate_at(curve, decades, int(r), str(routing))
            lines.append(f"{r:>8} {routing if r > 1 else 'any':>12} " + " ".join(f"{100 * v:>7.1f}%" for v in h))
    return "\n".join(lines)


def write_hit_rates(cfg: DictConfig, out: Path) -> list[Path]:
    """Write ``hit_rate.csv`` and ``hit_rate.png`` to ``out`` if the config names a trace; the paths written."""
    curve = trace_curve(cfg)
    if curve is None:
        return []
    io.check_fresh(out, OUTPUTS)
    written = [io.write_text(hit_rate_table(curve), out / "hit_rate.csv")]
    if OmegaConf.select(cfg, "plots.enabled", default=True):
        written.append(io.save_figure(hit_rate_figure(curve), out / "hit_rate.png"))
    return written
