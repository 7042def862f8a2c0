"""``python -m model.app.calibrate``: fit the GPU decode model to InferenceX points (a Hydra app).

A thin job over :func:`model.calibration.calibrate`: prints the error on every point and the
median and worst absolute % error for interactivity and throughput per GPU, saves
``calibration.csv``, ``calibration.json``, ``gpu_calibration.yaml`` (the fitted values with their
sources) and ``predicted_vs_measured.png`` to the run directory, and only with
``calibration.write=true`` replaces ``conf/hardware/gpu_calibration.yaml`` with them.
"""
from __future__ import annotations

import json
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from model.app import io
from model.app.config import REPO_DIR
from model.app.progress import progress_stages
from model.app.runner import JobResult, hydra_main
from model.app.schema import register_schemas
from model.app.tables import fit_lines, render, summary_width
from model.app.validate import validate

OUTPUTS = ("calibration.csv", "calibration.json", "gpu_calibration.yaml", "gpu_model_error.yaml",
           "predicted_vs_measured.png", "configurations.csv", "regimes.csv", "configurations.json",
           "configurations_vs_measured.png")
REGIME_SHORT = {"intvty": "intvty", "ttft": "TTFT", "tput_gpu": "tok/GPU"}  # headers of the printed table


def benchmark_config(cfg: DictConfig) -> DictConfig:
    """``cfg`` as the benchmarks ran: their workload, GPUs under tensor parallelism with
    physical prefill (idempotent), validated."""
    from model.calibration import BENCHMARK_WORKLOAD

    hardware = {hw: {"prefill_mode": "physical", "parallelism": "tensor"} for hw in cfg.select.hardware}
    merged = OmegaConf.merge(cfg, {"workload": BENCHMARK_WORKLOAD, "hardware": hardware})
    OmegaConf.set_readonly(merged, True)
    return validate(merged)


def run(cfg: DictConfig, out: Path) -> JobResult:
    """Calibrate, write the run's files (and the catalog if asked), then print the error table and fit."""
    io.check_fresh(out, OUTPUTS)
    c = cfg.calibration
    with progress_stages({"load": ("loading the fitting libraries and the points", "step"),
                          "fit": ("fitting the GPU model", "model runs"),
                          "folds": ("leave-one-out fits", "folds")}) as progress:
        progress("load", 0, 1)  # the first stage shows from the job's start: the imports take a while
        from model import calibration  # scipy, pandas and xarray: loaded once the config is checked
        from model.app.plots import predicted_vs_measured

        points = calibration.load_points(str(REPO_DIR / c.data))
        progress("load", 1, 1)
        result = calibration.calibrate(benchmark_config(cfg), points, c, progress)
    table, stats = result.table, result.stats
    io.write_text(table.to_csv(index=False), out / "calibration.csv")
    io.write_text(json.dumps({"summary": stats, "fitted": result.fitted, "identified": result.info},
                             indent=2), out / "calibration.json")
    if cfg.plots.enabled:
        io.save_figure(predicted_vs_measured(table, stats), out / "predicted_vs_measured.png")
    catalog_text = calibration.calibration_yaml(result.catalog)
    io.write_text(catalog_text, out / "gpu_calibration.yaml")
    error_text, replaced = None, []
    if c.cross_validate:
        error_text = calibration.model_error_yaml(calibration.model_error(c, table))
        io.write_text(error_text, out / "gpu_model_error.yaml")
    if c.write:  # only on request: the committed catalog is the project's, not a run's output
        target = REPO_DIR / c.target
        io.replace_text(catalog_text, target)
        replaced.append(f"wrote fitted values and sources to {target}")
        if error_text is not None:
            error_target = REPO_DIR / c.error_target
            error_target.parent.mkdir(parents=True, exist_ok=True)
            io.replace_text(error_text, error_target)
            replaced.append(f"wrote the leave-one-out error spread to {error_target}")
    lines = [f"GPU decode model fitted to {len(table)} InferenceX points ({c.data}):"]
    for name, st in stats.items():
        if name == "interactivity_leave_one_out":
            continue
        lines.append(f"  {name}: median |error| {st['median_abs_pct']:.1f}%, worst {st['worst_abs_pct']:.1f}% "
                     f"over {st['points']} points")
    if "interactivity_leave_one_out" in stats:
        st = stats["interactivity_leave_one_out"]
        lines.append(f"  leave-one-out interactivity: median |error| {st['median_abs_pct']:.1f}%, worst "
                     f"{st['worst_abs_pct']:.1f}% over {st['points']} points (each predicted by a fit without it)")
    lines.append("fitted:")
    for key, by_hw in result.fitted.items():
        lines.append(f"  {key}: " + ", ".join(f"{hw} {v:.4g}" for hw, v in by_hw.items()))
    for key, state in result.info.items():
        if not state["identified"]:
            lines.append(f"  {key}: not identified by the data: catalog value kept")
    print(fit_lines("\n".join(lines), summary_width()))
    if cfg.output.detail:
        print("\n" + render(table.to_dict(orient="records"), columns=list(table.columns)))
    else:
        print("\nDetail: output.detail=true prints the error at every point (in calibration.csv)")
    if c.configurations:
        print_configurations(cfg, out)
    print("\n" + "\n".join([*replaced, f"wrote {out}/: {', '.join(n for n in OUTPUTS if (out / n).exists())}"]))
    return JobResult(0)


def print_configurations(cfg: DictConfig, out: Path) -> None:
    """docs/model.md §10: fit model.serving to the configuration runs, write their tables and print the
    median and p90 |error| per regime, in sample and (with cross_validate) out of sample."""
    from model import configurations
    from model.app.plots import configurations_vs_measured

    c = cfg.calibration
    known = configurations.serving_catalog(OmegaConf.to_container(cfg, resolve=True))
    with progress_stages({"fit": ("fitting the configuration runs", "model runs"),
                          "folds": ("leave-one-out fits of the configurations", "folds")}) as progress:
        recipes = str(REPO_DIR / c.configuration_recipes) if c.configuration_recipes else None
        result = configurations.calibrate_configurations(known, str(REPO_DIR / c.configurations),
                                                         bool(c.cross_validate), progress, recipes)
    io.write_text(result.table.to_csv(index=False), out / "configurations.csv")
    io.write_text(result.regimes.to_csv(), out / "regimes.csv")
    if cfg.plots.enabled:
        io.save_figure(configurations_vs_measured(result.table), out / "configurations_vs_measured.png")
    at_bound = [[k, g, v] for (k, g), v in result.info["at_bound"]]
    io.write_text(json.dumps({"fitted": result.fitted, "at_bound": at_bound}, indent=2), out / "configurations.json")
    lines = [f"configuration runs ({c.configurations}): median / p90 |error| % per regime (kind, EP, "
             "dp-attention, MTP, precision); LOO: grouped leave-one-configuration-out"]
    # median/p90 per cell, 11 columns each: with the LOO half the table stays within 100 columns
    columns = [(prefix, key, ("LOO " if prefix else "") + label) for prefix in ("", "loo_")
               for key, label in REGIME_SHORT.items() if f"{prefix}{key}_errmed" in result.regimes]
    header = f"{'regime':22s} {'runs':>5s}" + "".join(f" {label:>10s}" for _, _, label in columns)
    rows = [header]
    for regime, row in result.regimes.iterrows():
        cells = "".join(f" {row[f'{p}{k}_errmed']:4.0f}/{row[f'{p}{k}_errp90']:<5.0f}" for p, k, _ in columns)
        rows.append(f"{str(regime):22s} {int(row.runs):5d}{cells}")
    fitted = ["fitted (model.serving):"]
    fitted += [f"  {key}: " + ", ".join(f"{g} {v:.4g}" for g, v in by.items()) for key, by in result.fitted.items()]
    fitted += [f"  AT BOUND: {key} ({group}) = {value:.3g}: the form needs changing there"
               for (key, group), value in result.info["at_bound"]]
    print("\n" + fit_lines("\n".join(lines), summary_width()))
    print("\n".join(rows))
    print(fit_lines("\n".join(fitted), summary_width()))


def main() -> None:
    """The console command ``serving-calibrate``."""
    hydra_main("calibrate", run, validate, register_schemas)


if __name__ == "__main__":
    main()
