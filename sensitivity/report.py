"""Text and tables of a Sobol result (pure: nothing is printed or written here).

:func:`summary_text` is printed first (at most 100 columns); :func:`ranking` and the convergence
table follow with ``output.detail=true``."""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from model.app.tables import fit_lines, summary_width

TOP = 4  # parameters named per (output, model) in the summary


def ranking(ds: xr.Dataset) -> str:
    """Per output and model of ``ds`` (:func:`sensitivity.analyze`'s result): parameters ranked by ST, with
    S1 and their confidence intervals; the table, then a note per model with samples beyond its context."""
    name_width = max(len("parameter"), *(len(str(p)) for p in ds.parameter.values)) + 2
    key_width = max(len("key"), *(len(str(k)) for k in ds.key.values)) + 2
    lines = [f"Sobol indices, N = {ds.attrs['n']:,} base samples ({ds.attrs['model_runs']:,} model runs), "
             f"seed {ds.attrs['seed']}, {100 * ds.attrs['conf_level']:g}% intervals, hardware {ds.attrs['hardware']}"]
    for output in ds.output.values:
        for model in ds.model.values:
            cell = ds.sel(output=output, model=model)
            lines.append(f"\n{output} ({model}):")
            if int(cell.valid_samples) < ds.attrs["model_runs"]:
                missing = ds.attrs["model_runs"] - int(cell.valid_samples)
                lines.append(f"  no indices: {missing:,} samples have no value (no concurrency meets the SLA there)")
                continue
            order = np.argsort(-np.nan_to_num(cell.ST.values, nan=-1))
            lines.append(f"  {'parameter':<{name_width}}{'key':<{key_width}}{'ST':>14}{'S1':>16}")
            for i in order:
                p = cell.isel(parameter=i)
                flag = "  (negative, reported as 0)" if bool(p.clipped) else ""
                lines.append(f"  {str(p.parameter.values):<{name_width}}{str(ds.key.values[i]):<{key_width}}"
                             f"{float(p.ST):>7.3f} ± {float(p.ST_conf):<5.3f}"
                             f"{float(p.S1):>9.3f} ± {float(p.S1_conf):<5.3f}{flag}")
    beyond = ds.beyond_context
    for model in ds.model.values:
        share = float(beyond.sel(model=model))
        if share > 0:
            lines.append(f"\nnote: {share:.0%} of samples have an ISL beyond {model}'s max_context; the analysis "
                         "lifts the context limit so that every sample has a cost")
    return "\n".join(lines)


def convergence_table(ds: xr.Dataset) -> pd.DataFrame:
    """ST at growing base sample sizes.

    Parameters
    ----------
    ds
        :func:`sensitivity.analyze`'s result (``ST_by_n``).

    Returns
    -------
    pandas.DataFrame
        A row per (output, model, parameter), a column per ``n_base``.
    """
    return ds.ST_by_n.to_dataframe().reset_index().pivot_table(
        index=["output", "model", "parameter"], columns="n_base", values="ST_by_n")


def convergence_warnings(ds: xr.Dataset, tolerance: float) -> list[str]:
    """ST that moved more than ``tolerance`` between the last two sample sizes.

    Parameters
    ----------
    ds
        A dataset with ``ST_by_n`` (n_base, output, model, parameter).
    tolerance
        Largest move that is not reported.

    Returns
    -------
    list of str
        One warning line per moved index (none with fewer than two sample sizes).
    """
    if ds.sizes["n_base"] < 2:
        return []
    last, before = ds.ST_by_n.isel(n_base=-1), ds.ST_by_n.isel(n_base=-2)
    moved = abs(last - before)
    out = []
    for idx in zip(*np.nonzero((moved > tolerance).values)):
        cell = moved[idx]
        out.append(f"warning: ST of {str(cell.parameter.values)} for {str(cell.output.values)} "
                   f"({str(cell.model.values)}) moved {float(cell):.3f} between N = {int(before.n_base)} "
                   f"and N = {int(last.n_base)} (> {tolerance:g}): raise sensitivity.n")
    return out


def summary_text(ds: xr.Dataset) -> str:
    """The answer first, at most 100 columns a line, from ``ds`` (:func:`sensitivity.analyze`'s result): what
    was analysed (and what was left out of scope, and why), then per output and model the parameters that
    matter most, by total index ST."""
    lines = [f"Sobol sensitivity on {ds.attrs['hardware']}: N = {ds.attrs['n']:,} base samples "
             f"({ds.attrs['model_runs']:,} model runs), {100 * ds.attrs['conf_level']:g}% intervals"]
    lines += [f"  scope: {note}" for note in str(ds.attrs.get("scope_notes", "")).splitlines() if note]
    for output in ds.output.values:
        for model in ds.model.values:
            cell = ds.sel(output=output, model=model)
            if int(cell.valid_samples) < ds.attrs["model_runs"]:
                lines.append(f"{output} ({model}): no indices, some samples have no value (no concurrency meets "
                             "the SLA there)")
                continue
            order = np.argsort(-np.nan_to_num(cell.ST.values, nan=-1))[:TOP]
            top = ", ".join(f"{cell.parameter.values[i]} {float(cell.ST[i]):.2f}" for i in order)
            lines.append(f"{output} ({model}), largest ST: {top}")
    for model in ds.model.values:
        share = float(ds.beyond_context.sel(model=model))
        if share > 0:
            lines.append(f"note: {share:.0%} of samples have an ISL beyond {model}'s max_context; the analysis lifts "
                         "the context limit so that every sample has a cost")
    return fit_lines("\n".join(lines), summary_width())
