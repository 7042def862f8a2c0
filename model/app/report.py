"""Text summaries of a cost-model result (pure: they return strings)."""
from __future__ import annotations

import pandas as pd
import xarray as xr

from model.cheapest import cheapest_concurrency


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
        "usd_per_mtok": point.cost_per_mtok,
        "best_N": best.concurrency,
        "best_usd_per_mtok": best.cost_per_mtok,
        "best_tok_s": best.interactivity,
        "best_systems": best.systems,
    }).to_dataframe()
    return table[[c for c in table.columns if c not in ("isl", "concurrency")]]


def format_point_table(ds: xr.Dataset, isl: int, concurrency: int, sla: float) -> str:
    """:func:`point_table` as text with a header naming the point and the SLA."""
    df = point_table(ds, isl, concurrency)
    header = (f"ISL {isl:,} tokens; point at N = {concurrency} concurrent requests per replica; "
              f"best_* = cheapest N meeting the SLA of {sla:g} tok/s (NaN: none does)")
    body = df.to_string(float_format=lambda v: f"{v:,.4g}", na_rep="-")
    return f"{header}\n{body}"
