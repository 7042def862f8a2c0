"""The ``python -m sensitivity`` job: indices, ranking, files, bar chart."""
from __future__ import annotations

from pathlib import Path

import xarray as xr
from omegaconf import DictConfig, OmegaConf

from model.app import io
from model.app.progress import progress_bar
from model.app.runner import JobResult
from model.app.sweep import LABELS as SWEEP_LABELS
from model.app.tables import fit_lines, summary_width
from sensitivity.analysis import analyze
from sensitivity.plots import indices_bar_chart
from sensitivity.report import convergence_table, convergence_warnings, ranking, summary_text

OUTPUTS = ("sobol.nc", "sobol.csv", "convergence.csv", "sobol.png")
# units and long names of sobol.nc's coordinates and of the ``key`` variable (the indices carry theirs); the
# coordinates a sweep's headline has too are labelled as the sweep labels them
LABELS = {
    **{name: SWEEP_LABELS[name] for name in ("output", "model", "parameter", "parameter_2")},
    "n_base": ("samples", "base samples N of the prefix of the Sobol design"),
    "key": ("", "dotted config key of the parameter"),
}


def label(ds: xr.Dataset) -> xr.Dataset:
    """Give the coordinates (and ``key``) of :func:`sensitivity.analyze`'s result ``units`` and
    ``long_name`` (in place; returns ``ds``)."""
    for name, (units, long_name) in LABELS.items():
        if name in ds.variables:
            ds[name].attrs.update(units=units, long_name=long_name)
    return ds


def run(cfg: DictConfig, out: Path) -> JobResult:
    """The sensitivity app's job (:data:`model.app.runner.Job`): analyse ``cfg``, write :data:`OUTPUTS` to
    ``out``, then print the ranking and convergence (files first, so that a closed stdout, e.g. ``| head``,
    cannot lose them); exit code 0 and the headline ``S1`` and ``ST``."""
    io.check_fresh(out, OUTPUTS)
    with progress_bar("evaluating samples") as progress:
        ds = label(analyze(cfg, progress=progress))
    table = convergence_table(ds)
    report = [ranking(ds), "\nST at growing N (prefixes of the same Sobol design):",
              table.to_string(float_format=lambda v: f"{v:.3f}"),
              *convergence_warnings(ds, float(cfg.sensitivity.convergence_tolerance))]
    ds.attrs["config"] = OmegaConf.to_yaml(cfg, resolve=True)
    io.write_netcdf(ds, out / "sobol.nc")
    flat = ds[["S1", "S1_conf", "ST", "ST_conf", "clipped"]].to_dataframe().reset_index()
    flat["key"] = [str(ds.key.sel(parameter=p).values) for p in flat.parameter]
    io.write_text(flat.to_csv(index=False), out / "sobol.csv")
    io.write_text(table.to_csv(), out / "convergence.csv")
    if cfg.plots.enabled:
        io.save_figure(indices_bar_chart(ds), out / "sobol.png")
    print(summary_text(ds))
    if cfg.output.detail:
        print("\n" + fit_lines("\n".join(report)))
    else:
        print(fit_lines("\n".join(["", *convergence_warnings(ds, float(cfg.sensitivity.convergence_tolerance)),
                                   "Detail: output.detail=true prints every index with its interval and ST at "
                                   "growing N"]), summary_width()))
    print(f"\nwrote {out}/: {', '.join(n for n in OUTPUTS if (out / n).exists())}")
    headline = ds[["S1", "ST"]]
    headline.attrs = {"headline_metric": "ST"}
    return JobResult(0, headline)
