"""Per-request token spend by type (docs/model.md §2.8): the seed's "Cost to serve" table."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from model.schema import ModelConfig

TOKEN_TYPES = ("cache_read", "cache_write", "input", "output")


def spend_table(mix: Mapping[str, float], price_sheet: Mapping[str, float], isl: float,
                osl: float | None = None) -> xr.Dataset:
    """Tokens, price, spend and spend share per token type for one request.

    Parameters
    ----------
    mix
        Fractions of all tokens by type (sum 1).
    price_sheet
        Selling price by type, $/Mtok.
    isl
        Input-side tokens per request L (everything but output), tokens.
    osl
        Output tokens per request; default ``L * m_output / (1 - m_output)``.

    Returns
    -------
    xarray.Dataset
        On dim ``token_type``: ``tokens`` (tokens per request), ``price`` ($/Mtok),
        ``spend`` ($ per request, ``tokens * price / 1e6``), ``share`` (fraction of the spend);
        scalars ``total_spend`` ($ per request) and ``price_per_mtok`` (``Σ m_k p_k``).
        With the volume mix of the agentic workload and prices in ratio 0.1 : 1.25 : 1 : 5
        (cache read : cache write : input : output), the shares are 55.8 / 27.7 / 2.4 / 14.1 %.
    """
    m = np.array([mix[t] for t in TOKEN_TYPES], dtype=float)
    p = np.array([price_sheet[t] for t in TOKEN_TYPES], dtype=float)
    if osl is None:
        osl = isl * m[-1] / (1 - m[-1])
    total_tokens = isl + osl
    tokens = np.append(m[:-1] / m[:-1].sum() * isl if m[:-1].sum() > 0 else np.zeros(3), osl)
    spend = tokens * p / 1e6
    coords = {"token_type": list(TOKEN_TYPES)}
    ds = xr.Dataset(
        {
            "tokens": ("token_type", tokens, {"units": "tokens", "long_name": "tokens per request"}),
            "price": ("token_type", p, {"units": "$/Mtok", "long_name": "selling price"}),
            "spend": ("token_type", spend, {"units": "$", "long_name": "spend per request"}),
            "share": ("token_type", spend / spend.sum(),
                      {"units": "1", "long_name": "share of the spend per request"}),
            "total_spend": ((), spend.sum(), {"units": "$", "long_name": "spend per request, all types"}),
            "price_per_mtok": ((), float(m @ p),
                               {"units": "$/Mtok", "long_name": "price per Mtok of the mix, sum m_k p_k"}),
            "total_tokens": ((), total_tokens, {"units": "tokens", "long_name": "tokens per request, L + O"}),
        },
        coords=coords,
    )
    return ds


def workload_spend(cfg: ModelConfig) -> xr.Dataset:
    """:func:`spend_table` for the config's workload (needs ``workload.price_sheet``)."""
    w = cfg.workload
    mix = {t: float(getattr(w.mix, t)) for t in TOKEN_TYPES}
    prices = {t: float(getattr(w.price_sheet, t)) for t in TOKEN_TYPES}
    return spend_table(mix, prices, float(w.isl),
                       None if w.osl is None else float(w.osl))
