"""Text summaries of a cost-model result (pure: they return strings)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from omegaconf import DictConfig

from model.cheapest import cheapest_concurrency
from model.config import with_values
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
    df = point_table(ds, isl, concurrency)
    header = (f"ISL {isl:,} tokens; point at N = {concurrency} concurrent requests per replica; "
              f"best_* = cheapest N meeting the SLA of {sla:g} tok/s (NaN: none does)")
    body = df.to_string(float_format=lambda v: f"{v:,.4g}", na_rep="-")
    return f"{header}\n{body}"


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
    body = prefill_modes_table(cfg, hardware, isl, concurrency, levels).to_string(
        float_format=lambda v: f"{v:,.4g}", na_rep="-")
    return f"{header}\n{body}"

