"""The interactivity power law of wafer-scale systems (docs/model.md §2.3).

``I0(P) = a / P**b``: base decode rate (output tok/s per request) of a model with ``P`` billion
active parameters whose weights stay resident in SRAM.  ``a`` and ``b`` are fitted by least
squares in log-log space, ``ln I0 = ln a - b ln P``, to the measured points of the catalog.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr


def fit_power_law(active_params_b: Any, interactivity: Any, dim: str = "model") -> tuple[Any, Any]:
    """Least-squares fit of ``ln I = ln a - b ln P`` along ``dim``, skipping NaN points.

    Vectorized over every other dim (e.g. one fit per hardware type, or per sample).

    Parameters
    ----------
    active_params_b
        Active parameters per token, billions.
    interactivity
        Measured interactivity, output tok/s per request; NaN where there is no measurement.
    dim
        The dim holding the points of one fit.

    Returns
    -------
    (a, b)
        ``a`` in tok/s * B**b, ``b`` dimensionless; NaN where fewer than 2 distinct points.

    Examples
    --------
    The seed's anchors, gpt-oss (5.1 B, 2,059 tok/s) and GLM 4.7 (32 B, 1,201 tok/s), give
    ``b = ln(2059/1201) / ln(32/5.1) = 0.2935`` and ``a = 2059 * 5.1**b = 3321.5``.
    """
    log_p, log_i = np.log(active_params_b), np.log(interactivity)
    x: Any
    y: Any
    if isinstance(log_p, xr.Variable) and isinstance(log_i, xr.Variable):
        # Variables (model.parameters.derive): broadcast by dim name without aligning labels; the
        # NaNs this spreads fall where ``valid`` is False anyway
        x, y = log_p + 0 * log_i, log_i + 0 * log_p
    else:
        x, y = xr.broadcast(log_p, log_i)
    valid = np.isfinite(y) & np.isfinite(x)
    x, y = x.where(valid), y.where(valid)
    count = valid.sum(dim)
    x_mean, y_mean = x.mean(dim), y.mean(dim)
    sxx = ((x - x_mean) ** 2).sum(dim)
    sxy = ((x - x_mean) * (y - y_mean)).sum(dim)
    ok = (count >= 2) & (sxx > 0)
    b = (-sxy / sxx.where(ok))
    a = np.exp(y_mean + b * x_mean)
    if isinstance(a, xr.DataArray):
        return a.rename("power_law_a"), b.rename("power_law_b")
    return a, b


def power_law_interactivity(active_params_b: Any, a: Any, b: Any) -> Any:
    """``I0 = a / P**b`` (tok/s per request) for ``P`` billion active parameters (numbers or
    arrays, broadcast as numpy or xarray does)."""
    return a / active_params_b ** b
