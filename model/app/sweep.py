"""Collected sweeps: one dataset of every job's headline results at the sweep root.

A Hydra callback (``hydra.callbacks.collect_sweep`` in each app's primary config).  Each multirun
job writes ``headline.nc`` and ``job.json`` to its directory (see :func:`model.app.runner.run_job`); at
the end of the multirun, :class:`CollectSweep` reads them all and writes ``sweep.nc``,
``sweep.csv`` and ``sweep.png`` to the sweep directory.  Swept keys become dims when the jobs
form a full product of their values, and coordinates along a ``job`` dim otherwise.  A failed
job keeps its place, with ``job_status`` "failed", its ``job_error`` and NaN results; it never
stops the others from being collected.

Swept keys are named by Python identifiers in ``sweep.nc`` (``hardware.cerebras_wse3.price_per_hour``
becomes ``hardware_cerebras_wse3_price_per_hour``, so that ``ds.sel(workload_isl=96300)`` works);
each such coordinate keeps the dotted key in its ``key`` attribute, with its ``units`` and
``long_name``.  Every coordinate and variable of ``sweep.nc`` has ``units`` and ``long_name``.
"""
from __future__ import annotations

import functools
import itertools
import json
import keyword
import re
import sys
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
import yaml
from hydra.experimental.callback import Callback
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from omegaconf import DictConfig

from model.app import io
from model.app.progress import progress_bar
from model.results import COORD_ATTRS

HEADLINE, STATUS = "headline.nc", "job.json"
OUTPUTS = ("sweep.nc", "sweep.csv", "sweep.png")
MAX_LINES = 20  # lines drawn in sweep.png; the figure says how many of how many
# units and long names of what a sweep adds, and of headline coordinates that may come without them
LABELS = {
    "job_status": ("", "job status: ok, infeasible or failed"),
    "job_error": ("", "the failed job's error (empty if none)"),
    "job_num": ("", "Hydra job number (-1: not a number)"),
    "model": COORD_ATTRS["model"],
    "hardware": COORD_ATTRS["hardware"],
    "phase": ("", "serving phase (aggregated, prefill, decode)"),
    "output": ("", "output of the cost model whose variance is decomposed"),
    "parameter": ("", "uncertain input parameter"),
    "parameter_2": ("", "second uncertain input parameter (S2)"),
    "job": ("", "job of the sweep"),
}


def dim_name(key: str, taken: set[str]) -> str:
    """A Python identifier for the swept key ``key`` (dots and other non-identifier characters
    become ``_``), not in ``taken``, so that it works as a keyword of ``Dataset.sel``."""
    name = re.sub(r"\W", "_", key) or "key"
    if name[0].isdigit():
        name = f"_{name}"
    if keyword.iskeyword(name):
        name = f"{name}_"
    unique, i = name, 2
    while unique in taken:
        unique, i = f"{name}_{i}", i + 1
    return unique


@functools.lru_cache(maxsize=1)
def _key_docs() -> dict:
    """Dotted config key -> its :class:`model.fields.FieldDoc`, over every installed app's
    documented sections (an app that cannot be imported is left out)."""
    from importlib.metadata import entry_points

    from model.app.docs import section_keys
    from model.fields import ENTRY_POINT_GROUP

    docs: dict = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            section = ep.load()
            docs.update(section_keys(section.schema, section.prefix, section.exclude))
        except Exception:  # noqa: BLE001 - a broken app must not stop the collection
            continue
    return docs


def key_label(key: str) -> tuple[str, str]:
    """``units`` and ``long_name`` of a swept config key (from its schema field where known)."""
    from model.fields import field_docs
    from model.schema import HardwareSpec, ModelSpec

    doc = _key_docs().get(key)
    parts = key.split(".")
    if doc is None and len(parts) == 3 and parts[0] in ("hardware", "models"):
        doc = field_docs(HardwareSpec if parts[0] == "hardware" else ModelSpec).get(parts[2])
    if doc is None:
        return "", f"swept config key {key}"
    return doc.unit, f"swept config key {key}: {doc.doc}"


def _label(ds: xr.Dataset) -> xr.Dataset:
    """``units`` and ``long_name`` on every coordinate and variable that lacks them."""
    for name in list(ds.coords) + list(ds.data_vars):
        attrs = ds[name].attrs
        units, long_name = LABELS.get(str(name), ("", str(name).replace("_", " ")))
        attrs.setdefault("units", units)
        attrs.setdefault("long_name", long_name)
    return ds


def _value(text: str) -> Any:
    """An override's value with the type Hydra gives it: ``1e-06`` is a float (YAML 1.1 would
    read it as a string), ``30`` an int, ``true`` a bool; anything else stays the text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    value = yaml.safe_load(text) if text.strip() else text
    return value if isinstance(value, (int, float, str, bool)) and value is not None else text


def _common_types(jobs: list[dict]) -> None:
    """Make each swept key's values one type: ints become floats where other jobs gave floats
    (``price=30,41.96``), and mixed numbers and text become text, so every coordinate has one
    dtype."""
    for key in {k for j in jobs for k in j["keys"]}:
        values = [j["keys"][key] for j in jobs if key in j["keys"]]
        numeric = [isinstance(v, (int, float)) and not isinstance(v, bool) for v in values]
        if all(numeric) and any(isinstance(v, float) for v in values):
            cast = float
        elif not all(numeric) and len({type(v) for v in values}) > 1:
            cast = str
        else:
            continue
        for j in jobs:
            if key in j["keys"]:
                j["keys"][key] = cast(j["keys"][key])


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
        headline = job_dir / HEADLINE
        if (job_dir / io.INCOMPLETE).exists():  # stopped part-way: its files may be partial, skip them
            status, headline = {"status": "failed", "error": "interrupted: the job's directory is marked "
                                                             f"{io.INCOMPLETE}"}, None
        elif status_file.exists():
            status = json.loads(status_file.read_text())
        else:
            status = {"status": "failed", "error": "the job wrote no job.json (it was killed or never ran)"}
        jobs.append({"num": int(job_dir.name) if job_dir.name.isdigit() else job_dir.name, "dir": job_dir,
                     "keys": keys, "status": status,
                     "headline": (xr.load_dataset(headline, engine="h5netcdf")
                                  if headline is not None and headline.exists() else None)})
    _common_types(jobs)
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
    """The sweep's headline results as one Dataset (dims per swept key when a full product,
    named by :func:`dim_name`, the dotted key in each one's ``key`` attribute)."""
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
    taken = {str(n) for p in parts for n in [*p.variables, *p.dims]} | {"job"}
    names = {}
    for k in varying:
        names[k] = dim_name(k, taken)
        taken.add(names[k])
    if varying and _is_full_product(jobs, varying):
        expanded = [p.expand_dims({names[k]: [j["keys"].get(k)] for k in varying}) for p, j in zip(parts, jobs)]
        ds = xr.combine_by_coords(expanded, coords="minimal", data_vars="all", combine_attrs="drop_conflicts")
        ds.attrs["layout"] = "full product: one dim per swept key"
    else:
        ds = xr.concat(parts, dim="job", combine_attrs="drop_conflicts")
        for k in varying:
            ds = ds.assign_coords({names[k]: ("job", [str(j["keys"].get(k)) for j in jobs])})
        ds.attrs["layout"] = "not a full product: swept keys are coordinates along job"
    for k in varying:
        units, long_name = key_label(k)
        ds[names[k]].attrs.update(units=units, long_name=long_name, key=k)
    ds.attrs["swept_keys"] = ", ".join(varying)
    ds.attrs["swept_dims"] = ", ".join(names[k] for k in varying)
    ds.attrs["jobs"] = len(jobs)
    ds.attrs["failed_jobs"] = sum(p["job_status"].item() == "failed" for p in parts)
    return _label(ds)


def summary_plot(ds: xr.Dataset, ax: Axes | None = None) -> Figure:
    """The headline metric against the first swept key (at its values on a numeric axis, log
    when they span a decade or more; as categories otherwise), one line per combination of the
    rest (up to :data:`MAX_LINES`, lines with no value left out; the title says how many are
    drawn), the legend right of the axes.  ``ax``: axes to draw on (default: a new figure's, which also
    gets a tight layout)."""
    metric = ds.attrs.get("headline_metric")
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(9, 4.8))
    else:
        fig = ax.figure
    if metric not in ds:
        ax.text(0.5, 0.5, "no headline results (every job failed)", ha="center")
        return fig
    da = ds[metric]
    dims = [d for d in ds.attrs.get("swept_dims", ds.attrs.get("swept_keys", "")).split(", ") if d in da.dims]
    x = dims[0] if dims else "job"
    numeric = x in da.coords and da[x].dtype.kind in "iuf" and bool(np.isfinite(da[x].values.astype(float)).all())
    if numeric:
        da = da.sortby(x)  # lines run left to right
    rest = [d for d in da.dims if d != x]
    lines = da.stack(line=rest) if rest else da.expand_dims(line=[""])
    positions = np.arange(da.sizes[x])
    labels = [str(v) for v in da[x].values] if x in da.coords else [str(v) for v in positions]
    if numeric:  # a number is drawn at its value (41.96 between 30 and 60 where it belongs), not as a category
        positions = da[x].values.astype(float)
        labels = [f"{v:,g}" for v in positions]
    total = lines.sizes["line"]
    has_value = np.asarray(lines.notnull().any(x)).ravel() if total else np.zeros(0, bool)
    drawn = np.flatnonzero(has_value)[:MAX_LINES]

    def name_of(line: xr.DataArray) -> str:
        return ", ".join(str(v) for v in np.atleast_1d(line.line.values.item())) if rest else metric

    for k, i in enumerate(drawn):
        line = lines.isel(line=int(i))
        name = name_of(line)
        # ten colours, then the next line style: no two drawn lines look alike
        ax.plot(positions, line.transpose(x).values, marker="o", color=f"C{k % 10}",
                ls=("-", "--", ":", "-.")[k // 10 % 4], label=name)
    if numeric and len(positions) > 1 and positions.min() > 0 and positions.max() / positions.min() >= 10:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.set_xticks(positions, labels)
    xlabel = da[x].attrs.get("key", x) if x in da.coords else x
    x_units = da[x].attrs.get("units", "") if x in da.coords else ""
    count = f"{len(drawn)} of {total} lines drawn" + (" (all in sweep.nc)" if len(drawn) < total else "")
    empty = np.flatnonzero(~has_value)
    if len(empty):
        count += f"; {len(empty)} without any value"
        if len(empty) <= 3:
            count += " (" + "; ".join(name_of(lines.isel(line=int(i))) for i in empty) + ")"
    ax.set(xlabel=xlabel + (f" [{x_units}]" if x_units else ""), ylabel=f"{metric} [{da.attrs.get('units', '')}]")
    ax.set_title(f"{metric} across the sweep ({ds.attrs['jobs']} jobs, {ds.attrs['failed_jobs']} failed)\n{count}",
                 fontsize=10)
    if rest and len(drawn):
        legend_title = ", ".join(da[d].attrs.get("key", d) if d in da.coords else d for d in rest)
        ax.legend(fontsize=7, title=legend_title, title_fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1),
                  borderaxespad=0, handlelength=3)
    ax.grid(alpha=0.3)
    if own:
        fig.tight_layout()
    return fig


def tables(ds: xr.Dataset) -> dict[str, pd.DataFrame]:
    """The sweep as CSV tables, each value once: ``sweep.csv`` has one row per job (the swept
    keys, the job's status and its totals), and each group of variables with further dims has its
    own table, ``sweep_by_<dims>.csv`` (e.g. ``sweep_by_model_hardware.csv``), one row per job and
    label.  A total never repeats on the rows of a finer table, so summing a column of any table
    counts each job once.  Units are in ``sweep.nc``'s attributes, not in the column names."""
    swept = [d for d in ds.attrs.get("swept_dims", "").split(", ") if d in ds.dims]
    if "job" in ds.dims:
        swept = ["job"]
    groups: dict[tuple[str, ...], list[str]] = {}
    for name, var in ds.data_vars.items():
        if var.dtype.kind in "fiubOU":
            groups.setdefault(tuple(d for d in var.dims if d not in swept), []).append(str(name))
    out = {}
    for extra, names in sorted(groups.items(), key=lambda item: (len(item[0]), item[0])):
        file = "sweep.csv" if not extra else f"sweep_by_{'_'.join(extra)}.csv"
        out[file] = ds[names].to_dataframe().reset_index()
    return out


def write(ds: xr.Dataset, sweep_dir: Path) -> None:
    """Write sweep.nc, the CSV tables of :func:`tables` and sweep.png to the sweep root (never over
    existing files)."""
    csv = tables(ds)
    io.check_fresh(sweep_dir, [*OUTPUTS, *csv])
    io.write_netcdf(ds, sweep_dir / "sweep.nc")
    for name, table in csv.items():
        io.write_text(table.to_csv(index=False), sweep_dir / name)
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
        print(f"collected {ds.attrs['jobs']} jobs into {sweep_dir / 'sweep.nc'} and sweep*.csv "
              f"({ds.attrs['layout']}: {ds.attrs['swept_dims']})")
        if bool(failed.any()):
            frame = ds[["job_num", "job_status", "job_error"]].to_dataframe()
            for row in frame[frame.job_status == "failed"].itertuples():
                print(f"job {int(row.job_num)} failed: {row.job_error}", file=sys.stderr)
            sys.exit(1)
