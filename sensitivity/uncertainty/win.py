"""Win probabilities: how often each hardware type is the cheapest meeting the SLA.

In each scenario the winner of a (model, ISL) is the hardware with the least SLA-meeting $/Mtok
(:func:`model.price_to_beat.cheapest_hardware`; ties go to the first in ``select.hardware``), or
``none`` where no hardware meets the SLA.  The probability of each is its share of the
scenarios, so the probabilities of the hardware and ``none`` sum to 1 per (model, ISL).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from model.price_to_beat import NONE, cheapest_hardware
from sensitivity.uncertainty.scenarios import SCENARIO


def win_probability(cost: xr.DataArray, dim: str = "hardware", over: str = SCENARIO) -> xr.DataArray:
    """Share of the ``over`` entries in which each ``dim`` label is the cheapest (and :data:`NONE`).

    Parameters
    ----------
    cost
        Least SLA-meeting $/Mtok, NaN where the SLA is not met; dims ``dim``, ``over`` and any others.
    dim
        The hardware dim.
    over
        The scenario dim.

    Returns
    -------
    xarray.DataArray
        Dim ``winner`` (the ``dim`` labels, then :data:`NONE`) beside the other dims of ``cost``;
        sums to 1 over ``winner``.
    """
    winner = cheapest_hardware(cost, dim)
    labels = [str(h) for h in cost[dim].values] + [NONE]
    n = winner.sizes[over]
    counts = xr.concat([(winner == label).sum(over) for label in labels], dim="winner")
    out = (counts / n).assign_coords(winner=("winner", labels, {"units": "", "long_name": "cheapest hardware "
                                                               f"meeting the SLA ({NONE}: none meets it)"}))
    out.attrs.update(units="1", long_name="probability of being the cheapest hardware meeting the SLA")
    return out.transpose(..., "winner")


def win_table(probability: xr.DataArray) -> pd.DataFrame:
    """The win probabilities as a table: a row per (model, ISL), a column per winner.

    Parameters
    ----------
    probability
        :func:`win_probability` on (model, isl, winner).

    Returns
    -------
    pandas.DataFrame
        Index (model, isl), columns the winners, values in [0, 1].
    """
    frame = probability.to_dataframe(name="probability").reset_index()
    table = frame.pivot_table(index=["model", "isl"], columns="winner", values="probability", sort=False)
    table = table[[str(w) for w in probability.winner.values]]
    table.columns.name = None
    return table.reindex(pd.MultiIndex.from_product([list(probability.model.values),
                                                     [int(v) for v in np.asarray(probability.isl.values)]],
                                                    names=["model", "isl"]))
