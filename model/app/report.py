"""Text summaries of a cost-model result (pure: they return strings).

:func:`summary_text` is what ``serving-model`` prints first; the point table and the prefill modes
follow with ``output.detail=true``.  Tables fit the terminal (:func:`model.app.tables.render`)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from omegaconf import DictConfig

from model.app.config import with_values
from model.app.tables import fit_lines, render, summary_width
from model.cheapest import cheapest_concurrency
from model.evaluate import evaluate
from model.schema import PrefillMode


def point_table(ds: xr.Dataset, isl: int, concurrency: int) -> pd.DataFrame:
    """One row per (model, hardware) at ISL ``isl``: the point at ``concurrency`` and the
    cheapest concurrency that meets the SLA."""
    at_isl = ds.sel(isl=isl)
    point = at_isl.sel(concurrency=concurrency)
    best = cheapest_concurrency(at_isl)
    table = xr.Dataset({
        "systems": point.systems,
        "feasible": point.feasible,
        "tok_s": point.interactivity,
        "ttft_s": point.ttft,
        "implied_ratio": point.implied_cache_read_ratio,
        "usd_per_mtok": point.cost_per_mtok,
        "best_N": best.concurrency,
        "best_usd_per_mtok": best.cost_per_mtok,
        "best_tok_s": best.interactivity,
        "best_systems": best.systems,
    }).to_dataframe()
    return table[[c for c in table.columns if c not in ("isl", "concurrency")]]


def format_point_table(ds: xr.Dataset, isl: int, concurrency: int, sla: float) -> str:
    """:func:`point_table` as text with a header naming the point and the SLA."""
    df = point_table(ds, isl, concurrency).reset_index()
    header = (f"ISL {isl:,} tokens; point at N = {concurrency} concurrent requests per replica; "
              f"best_* = cheapest N meeting the SLA of {sla:g} tok/s (-: none does)")
    formats = {c: (lambda v: "-" if v != v else f"{v:.4f}") for c in ("usd_per_mtok", "best_usd_per_mtok")}
    formats.update({c: (lambda v: "-" if v != v else f"{v:,.0f}") for c in ("tok_s", "best_tok_s")})
    formats.update({"ttft_s": lambda v: "-" if v != v else f"{v:,.3f}",
                    "implied_ratio": lambda v: "-" if v != v else f"{v:,.1f}",
                    "feasible": lambda v: "yes" if v else "no"})
    for c in ("systems", "best_N", "best_systems"):
        formats[c] = lambda v: "-" if v != v or v is None else f"{int(v):,}"
    return f"{header}\n" + render(df.to_dict(orient="records"), columns=list(df.columns), formats=formats,
                                  headers=POINT_HEADERS)


# headers of the point table's columns (the names are grid.nc's variables or their short forms)
POINT_HEADERS = {"systems": "systems", "feasible": "fits", "tok_s": "tok/s", "ttft_s": "TTFT s",
                 "implied_ratio": "implied ratio", "usd_per_mtok": "$/Mtok", "best_N": "best N",
                 "best_usd_per_mtok": "best $/Mtok", "best_tok_s": "best tok/s", "best_systems": "best systems",
                 "prefill_mode": "prefill mode"}


def summary_text(ds: xr.Dataset, isl: int, concurrency: int, sla: float) -> str:
    """The answer first: per model, the cheapest hardware and concurrency meeting the SLA at ISL
    ``isl`` (and the runner-up), within 100 columns.

    Parameters
    ----------
    ds
        The cost model at ISL ``isl`` (:func:`model.evaluate`).
    isl, concurrency
        The workload's ISL and concurrency.
    sla
        Least output tok/s per request.
    """
    best = cheapest_concurrency(ds.sel(isl=isl))
    rows, none = [], []
    for m in best.model.values:
        at = best.sel(model=m)
        cost = at.cost_per_mtok.values
        order = [i for i in np.argsort(np.where(np.isnan(cost), np.inf, cost)) if not np.isnan(cost[i])]
        if not order:
            none.append(str(m))
            continue
        first = at.isel(hardware=order[0])
        runner_up = (f"{at.hardware.values[order[1]]} ${float(cost[order[1]]):.4f}" if len(order) > 1 else "-")
        rows.append({"model": str(m), "hardware": str(first.hardware.values), "N": int(first.concurrency),
                     "$/Mtok": float(first.cost_per_mtok), "tok/s": float(first.interactivity),
                     "systems": int(first.systems), "next cheapest": runner_up,
                     "meet the SLA": f"{len(order)} of {best.sizes['hardware']}"})
    lines = [f"Cheapest hardware per model at ISL {isl:,} meeting the SLA of >= {sla:,.0f} output tok/s per request:"]
    if rows:
        lines.append(render(rows, formats={"$/Mtok": lambda v: f"{v:.4f}", "tok/s": lambda v: f"{v:,.0f}"},
                            max_width=summary_width()))
    if none:
        lines.append(f"No selected hardware meets the SLA for: {', '.join(none)}")
    return fit_lines("\n".join(lines), summary_width())


def resident_hardware(cfg: DictConfig) -> list[str]:
    """The selected wafer-scale systems (weights resident in SRAM): the hardware whose prefill
    rests on the seed's assumption unless measured."""
    return [h for h in cfg.select.hardware if cfg.hardware[h].weights_resident]


def prefill_modes_table(cfg: DictConfig, hardware: str, isl: int, concurrency: int,
                        levels: np.ndarray) -> pd.DataFrame:
    """``hardware`` under both prefill modes side by side (docs/model.md §8), per model: at the point
    (ISL ``isl``, ``concurrency``) and at the cheapest SLA-meeting concurrency among ``levels``."""
    frames = {}
    for mode in PrefillMode:
        mode_cfg = with_values(cfg, {f"hardware.{hardware}.prefill_mode": mode.value,
                                     "select.hardware": [hardware]})
        ds = evaluate(mode_cfg, isl=xr.DataArray([isl], dims="isl", coords={"isl": [isl]}),
                      concurrency=xr.DataArray(levels, dims="concurrency", coords={"concurrency": levels}))
        table = point_table(ds, isl, concurrency).droplevel("hardware")
        frames[mode.value] = table[["systems", "ttft_s", "implied_ratio", "tok_s", "usd_per_mtok", "best_N",
                                    "best_usd_per_mtok"]]
    return pd.concat(frames, axis=1, names=["prefill_mode", None])


def format_prefill_modes(cfg: DictConfig, hardware: str, isl: int, concurrency: int, levels: np.ndarray) -> str:
    """:func:`prefill_modes_table` as text with a header saying what differs."""
    hw = cfg.hardware[hardware]
    header = (f"{hardware} under both prefill modes (docs/model.md §8) at ISL {isl:,}, N = {concurrency}: "
              f"ratio = the seed's "
              f"L / ({hw.cache_read_ratio:g} x I); physical = new-token FLOPs at {hw.peak_dense_tflops:,g} TFLOP/s x "
              f"{hw.prefill_efficiency:g} efficiency per system (uncertain), cached prefix loaded at "
              f"{hw.kv_load_bandwidth_gb_s:g} GB/s per system")
    table = prefill_modes_table(cfg, hardware, isl, concurrency, levels).stack("prefill_mode", future_stack=True)
    table = table.reset_index()
    formats = {}
    for c in table.columns:
        if c.endswith("usd_per_mtok"):
            formats[c] = lambda v: "-" if v != v else f"{v:.4f}"
        elif c in ("systems", "best_N"):
            formats[c] = lambda v: "-" if v != v else f"{int(v):,}"
        elif c == "ttft_s":
            formats[c] = lambda v: "-" if v != v else f"{v:,.3f}"
        elif c in ("tok_s", "implied_ratio"):
            formats[c] = lambda v: "-" if v != v else f"{v:,.1f}"
    return f"{header}\n" + render(table.to_dict(orient="records"), columns=list(table.columns), formats=formats,
                                  headers=POINT_HEADERS)

