"""``python -m model.calibrate``: fit the GPU decode model to InferenceX points (a Hydra app).

Prints the error on every point and the median and worst absolute % error for interactivity and
throughput per GPU, saves ``calibration.csv``, ``calibration.json`` and
``predicted_vs_measured.png`` to the run directory, and (``calibration.write=true``) writes the
fitted values with their source to ``conf/hardware/gpu_calibration.yaml``.
"""
from __future__ import annotations

import json
from pathlib import Path

import hydra
import numpy as np
import yaml
from omegaconf import DictConfig, OmegaConf

from model import calibration, io
from model.cli import JobResult, run_job
from model.config import CONF_DIR

REPO = CONF_DIR.parent
OUTPUTS = ("calibration.csv", "calibration.json", "predicted_vs_measured.png")


def catalog_entries(cfg: DictConfig, fitted: dict, ratios, info: dict, counts: dict,
                    stats: dict) -> dict:
    """The YAML content of the calibration file: fitted values and their sources."""
    c = cfg.calibration
    quality = (f"median |error| {stats['interactivity']['median_abs_pct']:.1f}% interactivity, "
               f"{stats['throughput_per_gpu']['median_abs_pct']:.1f}% throughput per GPU")
    fit_source = (f"Fitted by python -m model.calibrate: least squares on log "
                  f"interactivity over {sum(counts.values())} InferenceX points in {c.data}; {quality}")
    entries: dict = {}
    for key, by_hw in fitted.items():
        for hw, value in by_hw.items():
            entry = entries.setdefault(hw, {"source": {}, "uncertain": set(cfg.hardware[hw].uncertain)})
            entry[key] = float(f"{value:.6g}")
            scope = "all GPU types together" if key in c.shared else f"{counts.get(hw, 0)} points of {hw}"
            entry["source"][key] = f"{fit_source}; fitted on {scope}"
            entry["uncertain"].discard(key)
    for hw, row in ratios.iterrows():
        entry = entries.setdefault(hw, {"source": {}, "uncertain": set(cfg.hardware[hw].uncertain)})
        entry["cache_read_ratio"] = float(f"{row.cache_read_ratio:.4g}")
        entry["source"]["cache_read_ratio"] = (
            f"Derived by python -m model.calibrate: prefill rate L/TTFT over the measured decode rate, "
            f"geometric mean of {int(row.points)} InferenceX point(s) at concurrency {int(row.concurrency)} "
            f"(the lowest with a TTFT for {hw})")
        entry["uncertain"].add("cache_read_ratio")
    for key, state in info.items():
        if not state["identified"]:
            for entry in entries.values():
                entry.pop(key, None)
                entry["source"].pop(key, None)
    for hw, parent in c.inherit.items():
        if parent in entries:
            child = {k: v for k, v in entries[parent].items() if k not in ("source", "uncertain")}
            child["source"] = {k: f"No InferenceX points for {hw}: {parent}'s value ({v})"
                               for k, v in entries[parent]["source"].items()}
            child["uncertain"] = set(cfg.hardware[hw].uncertain) | set(child) - {"source"}
            entries[hw] = child
    for entry in entries.values():
        entry["uncertain"] = sorted(entry["uncertain"])
    return entries


def calibration_yaml(entries: dict) -> str:
    header = ("# Written by `python -m model.calibrate` (conf/calibrate.yaml): GPU decode parameters\n"
              "# fitted to the InferenceX points. Regenerate instead of editing by hand.\n")
    return header + yaml.safe_dump(entries, sort_keys=False, width=200)


def run(cfg: DictConfig, out: Path) -> JobResult:
    io.check_fresh(out, OUTPUTS)
    c = cfg.calibration
    points = calibration.load_points(str(REPO / c.data))
    weights = OmegaConf.to_container(c.weights_gb)
    ratios = calibration.cache_read_ratios(points, c.length_factor)
    fitted, info = calibration.fit(cfg, points, weights, c.length_factor, list(c.per_hardware), list(c.shared))
    fitted_with_ratios = dict(fitted, cache_read_ratio=ratios.cache_read_ratio.to_dict())
    for key, state in info.items():
        if not state["identified"]:
            fitted_with_ratios.pop(key)
    predicted = calibration.predict(cfg, points, weights, c.length_factor, fitted_with_ratios)
    table = calibration.error_table(points, predicted)
    stats = calibration.summary(table)
    counts = table.groupby("gpu").size().to_dict()

    print(table.to_string(index=False, float_format=lambda v: f"{v:,.1f}", na_rep="-"))
    print()
    for name, s in stats.items():
        print(f"{name}: median |error| {s['median_abs_pct']:.1f}%, worst {s['worst_abs_pct']:.1f}% "
              f"over {s['points']} points")
    print("\nfitted:")
    for key, by_hw in fitted.items():
        state = info.get(key)
        note = "" if state is None or state["identified"] else "  (not identified by the data: catalog value kept)"
        print(f"  {key}: " + ", ".join(f"{hw} {v:.4g}" for hw, v in by_hw.items()) + note)
    print("  cache_read_ratio: " + ", ".join(f"{hw} {r:.3g}" for hw, r in ratios.cache_read_ratio.items()))
    if c.cross_validate:
        loo = calibration.leave_one_out(cfg, points, weights, c.length_factor, list(c.per_hardware), list(c.shared))
        table = table.join(loo, on="id")
        stats["interactivity_leave_one_out"] = {"median_abs_pct": float(loo.abs().median()),
                                                "worst_abs_pct": float(loo.abs().max()), "points": int(loo.size)}
        s = stats["interactivity_leave_one_out"]
        print(f"\nleave-one-out interactivity: median |error| {s['median_abs_pct']:.1f}%, "
              f"worst {s['worst_abs_pct']:.1f}% over {s['points']} points (each predicted by a fit without it)")

    io.write_text(table.to_csv(index=False), out / "calibration.csv")
    io.write_text(json.dumps({"summary": stats, "fitted": fitted_with_ratios, "identified": info},
                             indent=2), out / "calibration.json")
    if cfg.plots.enabled:
        io.save_figure(predicted_vs_measured(table, stats), out / "predicted_vs_measured.png")
    if c.write:
        entries = catalog_entries(cfg, fitted, ratios, info, counts, stats)
        target = REPO / c.target
        io.replace_text(calibration_yaml(entries), target)
        print(f"\nwrote fitted values and sources to {target}")
    print(f"wrote {', '.join(str(out / n) for n in OUTPUTS)}")
    return JobResult(0)


def predicted_vs_measured(table, stats):
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    markers = {m: s for m, s in zip(sorted(table.model.unique()), "os^Dv")}
    for ax, (column, label, key) in zip(axes, [("tok_s", "interactivity (tok/s per request)", "interactivity"),
                                                ("tput_gpu", "throughput per GPU (tok/s)", "throughput_per_gpu")]):
        for i, (gpu, group) in enumerate(table.groupby("gpu")):
            for model_name, rows in group.groupby("model"):
                ax.scatter(rows[f"{column}_meas"], rows[f"{column}_pred"], color=f"C{i}",
                           marker=markers[model_name], label=f"{gpu} / {model_name}", s=36, edgecolor="k", lw=0.4)
        lo = np.nanmin(table[[f"{column}_meas", f"{column}_pred"]].values) / 1.5
        hi = np.nanmax(table[[f"{column}_meas", f"{column}_pred"]].values) * 1.5
        ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
        for f in (0.75, 1.25):
            ax.plot([lo, hi], [lo * f, hi * f], "k:", lw=0.6)
        s = stats[key]
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi), xlabel=f"measured {label}",
               ylabel=f"predicted {label}",
               title=f"median |err| {s['median_abs_pct']:.1f}%, worst {s['worst_abs_pct']:.0f}% ({s['points']} pts)")
        ax.title.set_fontsize(9)
    axes[0].legend(fontsize=6, loc="upper left")
    fig.suptitle("GPU decode model vs InferenceX (dotted: ±25%)", fontsize=10)
    fig.tight_layout()
    return fig


@hydra.main(config_path=str(CONF_DIR), config_name="calibrate", version_base="1.3")
def main(cfg: DictConfig) -> None:
    run_job(run, cfg)


if __name__ == "__main__":
    main()
