"""The cheapest concurrency that meets the SLA: an exact masked argmin over the grid."""
from __future__ import annotations

import numpy as np
import xarray as xr


def cheapest_concurrency(ds: xr.Dataset, dim: str = "concurrency") -> xr.Dataset:
    """For every cell but ``dim``, the ``dim`` value with the least ``cost_per_mtok`` among
    cells that meet the SLA (ties: the lowest concurrency).

    Parameters
    ----------
    ds
        Output of :func:`model.evaluate` (needs ``cost_per_mtok``, ``meets_sla``,
        ``interactivity``, ``systems``).

    Returns
    -------
    xarray.Dataset
        ``concurrency`` (NaN where no cell meets the SLA), ``cost_per_mtok``,
        ``interactivity`` and ``systems`` there, and ``sla_met`` (bool).
    """
    ok = ds.meets_sla
    index = ds.cost_per_mtok.where(ok, np.inf).argmin(dim)
    found = ok.any(dim)
    picked = ds[["cost_per_mtok", "interactivity", "systems"]].isel({dim: index})
    out = picked.drop_vars(dim).where(found)
    out["concurrency"] = picked[dim].where(found)
    out["sla_met"] = found
    for name in ("cost_per_mtok", "interactivity", "systems"):
        out[name].attrs = dict(ds[name].attrs)
    out["concurrency"].attrs = {"units": "requests",
                                "long_name": "concurrency with the least cost_per_mtok meeting the SLA"}
    out["sla_met"].attrs = {"units": "1", "long_name": "some concurrency meets the SLA"}
    return out
