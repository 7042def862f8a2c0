"""Collected sweeps: one dataset of every job's headline results at the sweep root.

A Hydra callback (``hydra.callbacks.collect_sweep`` in each app's primary config).  Each multirun
job writes ``headline.nc`` and ``job.json`` to its directory (see :func:`model.app.runner.run_job`); at
the end of the multirun, :class:`CollectSweep` reads them all and writes ``sweep.nc``,
``sweep.csv`` and ``sweep.png`` to the sweep directory.  Swept keys become dims when the jobs
form a full product of their values, and coordinates along a ``job`` dim otherwise.  A failed
job keeps its place, with ``job_status`` "failed", its ``job_error`` and NaN results; it never
stops the others from being collected.
"""
from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from model.app import io
from model.app.progress import progress_bar

HEADLINE, STATUS = "headline.nc", "job.json"
OUTPUTS = ("sweep.nc", "sweep.csv", "sweep.png")


def _value(text: str) -> Any:
    value = yaml.safe_load(text)
    return value if isinstance(value, (int, float, str, bool)) and value is not None else text


def read_jobs(sweep_dir: Path) -> list[dict]:
    """Every job directory of a sweep: its number, overrides, status and headline."""
    jobs = []
    for overrides_file in sorted(Path(sweep_dir).glob("*/.hydra/overrides.yaml")):
        job_dir = overrides_file.parent.parent
        overrides = yaml.safe_load(overrides_file.read_text()) or []
        keys = {}
        for item in overrides:
            key, _, value = str(item).partition("=")
            keys[key.lstrip("+~")] = _value(value)
        status_file = job_dir / STATUS
        status = json.loads(status_file.read_text()) if status_file.exists() else {
            "status": "failed", "error": "the job wrote no job.json (it was killed or never ran)"}
        headline = job_dir / HEADLINE
        jobs.append({"num": int(job_dir.name) if job_dir.name.isdigit() else job_dir.name, "dir": job_dir,
                     "keys": keys, "status": status,
                     "headline": xr.load_dataset(headline, engine="h5netcdf") if headline.exists() else None})
    return sorted(jobs, key=lambda j: str(j["num"]).zfill(8))


def _is_full_product(jobs: list[dict], keys: list[str]) -> bool:
    combos = [tuple(j["keys"].get(k) for k in keys) for j in jobs]
    levels = [sorted({c[i] for c in combos}, key=str) for i in range(len(keys))]
    return (len(set(combos)) == len(combos) == int(np.prod([len(v) for v in levels]))
            and set(combos) == set(itertools.product(*levels)))


def _job_dataset(job: dict, template: xr.Dataset | None) -> xr.Dataset:
    if job["headline"] is not None:
        ds = job["headline"]
    elif template is not None:
        ds = xr.Dataset({k: xr.full_like(v, np.nan, dtype=float) for k, v in template.data_vars.items()})
        ds.attrs = dict(template.attrs)
    else:
        ds = xr.Dataset()
    ds = ds.copy()
    ds["job_status"] = str(job["status"].get("status", "failed"))
    ds["job_error"] = str(job["status"].get("error", ""))
    ds["job_num"] = int(job["num"]) if str(job["num"]).isdigit() else -1
    for name, var in ds.data_vars.items():
        if var.dtype.kind == "U":  # variable-length: combining must not cut "infeasible" to "optimal"'s width
            ds[name] = var.astype(object)
    return ds


def collect(sweep_dir: Path) -> xr.Dataset:
    """The sweep's headline results as one Dataset (dims per swept key when a full product)."""
    jobs = read_jobs(sweep_dir)
    if not jobs:
        return xr.Dataset()
    keys = sorted({k for j in jobs for k in j["keys"]})
    varying = [k for k in keys if len({str(j["keys"].get(k)) for j in jobs}) > 1] or keys
    template = next((j["headline"] for j in jobs if j["headline"] is not None), None)
    parts = []
    with progress_bar("collecting sweep", unit="job") as progress:
        for i, job in enumerate(jobs, 1):
            parts.append(_job_dataset(job, template))
            progress(i, len(jobs))
    if varying and _is_full_product(jobs, varying):
        expanded = [p.expand_dims({k: [j["keys"].get(k)] for k in varying}) for p, j in zip(parts, jobs)]
        ds = xr.combine_by_coords(expanded, coords="minimal", data_vars="all", combine_attrs="drop_conflicts")
        ds.attrs["layout"] = "full product: one dim per swept key"
    else:
        ds = xr.concat(parts, dim="job", combine_attrs="drop_conflicts")
        for k in varying:
            ds = ds.assign_coords({k: ("job", [str(j["keys"].get(k)) for j in jobs])})
        ds.attrs["layout"] = "not a full product: swept keys are coordinates along job"
    ds.attrs["swept_keys"] = ", ".join(varying)
    ds.attrs["jobs"] = len(jobs)
    ds.attrs["failed_jobs"] = sum(p["job_status"].item() == "failed" for p in parts)
    return ds


def summary_plot(ds: xr.Dataset):
    """The headline metric against the first swept key, one line per combination of the rest."""
    metric = ds.attrs.get("headline_metric")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    if metric not in ds:
        ax.text(0.5, 0.5, "no headline results (every job failed)", ha="center")
        return fig
    da = ds[metric]
    keys = [k for k in ds.attrs["swept_keys"].split(", ") if k in da.dims]
    x = keys[0] if keys else "job"
    rest = [d for d in da.dims if d != x]
    lines = da.stack(line=rest) if rest else da.expand_dims(line=[""])
    positions = np.arange(da.sizes[x])
    labels = [str(v) for v in da[x].values] if x in da.coords else [str(v) for v in positions]
    for i in range(min(lines.sizes["line"], 20)):
        line = lines.isel(line=i)
        name = ", ".join(f"{v}" for v in np.atleast_1d(line.line.values.item() if rest else ""))
        ax.plot(positions, line.values, marker="o", label=name)
    ax.set_xticks(positions, labels)
    ax.set(xlabel=x, ylabel=f"{metric} [{da.attrs.get('units', '')}]",
           title=f"{metric} across the sweep ({ds.attrs['jobs']} jobs, {ds.attrs['failed_jobs']} failed)")
    if rest:
        ax.legend(fontsize=7, title=", ".join(rest), title_fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def write(ds: xr.Dataset, sweep_dir: Path) -> None:
    """Write sweep.nc, sweep.csv and sweep.png to the sweep root (never over existing files)."""
    io.check_fresh(sweep_dir, OUTPUTS)
    io.write_netcdf(ds, sweep_dir / "sweep.nc")
    table = ds.drop_vars([v for v in ds.data_vars if ds[v].dtype.kind not in "fiubOU"]).to_dataframe()
    io.write_text(table.reset_index().to_csv(index=False), sweep_dir / "sweep.csv")
    io.save_figure(summary_plot(ds), sweep_dir / "sweep.png")


class CollectSweep(Callback):
    """Hydra callback: collect a multirun's headline results into sweep.nc / sweep.csv / sweep.png."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            ds = collect(sweep_dir)
        except Exception as err:  # noqa: BLE001 - Hydra would turn it into a warning; say it and fail
            print(f"error: collecting {sweep_dir} failed: {type(err).__name__}: {err}".splitlines()[0], file=sys.stderr)
            sys.exit(1)
        if not ds.data_vars:
            return
        write(ds, sweep_dir)
        failed = ds.job_status == "failed"
        print(f"collected {ds.attrs['jobs']} jobs into {sweep_dir / 'sweep.nc'} and sweep.csv "
              f"({ds.attrs['layout']}: {ds.attrs['swept_keys']})")
        if bool(failed.any()):
            frame = ds[["job_num", "job_status", "job_error"]].to_dataframe()
            for row in frame[frame.job_status == "failed"].itertuples():
                print(f"job {int(row.job_num)} failed: {row.job_error}", file=sys.stderr)
            sys.exit(1)
