"""The price to beat: the $/hour at which a hardware type's cheapest SLA-meeting $/Mtok equals the
best alternative's, and the SLAs at which the cheapest hardware changes.

**Cost is linear in the price.**  Per cell (docs/model.md §2.7, :mod:`model.equations`)
``cost_per_mtok = S * price_per_hour / (X * 3600 / 1e6)``, where neither the systems ``S`` nor
the throughput ``X`` depend on ``price_per_hour``, and nothing else is added: the cost is
``price_per_hour * k`` with ``k = S / (X * 3600 / 1e6)`` fixed by the cell.  Whether a cell meets
the SLA does not depend on the price either, so the cheapest SLA-meeting concurrency of hardware
``h`` is the same at every price, and its least $/Mtok is ``c_h(p) = p * c_h / p_h`` (``c_h`` at
the catalog price ``p_h``).  The price at which it equals the best other hardware's least
$/Mtok ``a_h = min_{g != h} c_g`` is the root of that linear equation::

    price_to_beat_h = p_h * a_h / c_h

exact, no search.  Below it ``h`` is the cheapest; above it the alternative is.  Where no other
hardware meets the SLA the price to beat is ``inf`` (any price wins); where ``h`` itself does not
meet it, ``NaN`` (no price makes it qualify).

**Switch points.**  The least SLA-meeting $/Mtok of ``h`` at an SLA ``s`` (least interactivity) is
``f_h(s) = min {cost_n : I_n >= s}`` over the concurrency grid: a step function of ``s`` that
changes only at the interactivity values ``I_n`` of its cells.  The cheapest hardware
``argmin_h f_h(s)`` is therefore constant between consecutive values of the union of those
breakpoints; :func:`sla_switch_points` evaluates it at every breakpoint and reports where it
changes, exactly on the concurrency grid.

Nothing here writes a file or imports the app layer.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from model.cheapest import cheapest_under_sla
from model.evaluate import evaluate
from model.overrides import apply_overrides
from model.parameters import raw_parameters
from model.results import COORD_ATTRS, label_coords
from model.schema import ModelConfig

NONE = "none"  # the cheapest hardware where no hardware meets the SLA
ATTRS = {
    "price_to_beat": ("$/h", "price per system-hour at which the hardware's least SLA-meeting $/Mtok equals the "
                             "best other hardware's (inf: no other hardware meets the SLA; NaN: this one does not)"),
    "cheapest_cost_per_mtok": ("$/Mtok", "least cost per Mtok over the concurrency grid meeting the SLA, at the "
                                         "catalog price"),
    "best_alternative_cost_per_mtok": ("$/Mtok", "least SLA-meeting cost per Mtok of the cheapest other hardware"),
    "optimal_concurrency": ("requests", "concurrency of the least SLA-meeting cost"),
    "price_per_hour": ("$/h", "price per system-hour the costs are computed at"),
    "cheapest_hardware": ("", f"hardware with the least SLA-meeting cost per Mtok ({NONE}: no hardware meets the SLA)"),
}


def price_to_beat_from_costs(cost: xr.DataArray, price: xr.DataArray, dim: str = "hardware") -> xr.DataArray:
    """``price * a / cost`` per hardware, with ``a`` the least ``cost`` of the other hardware.

    Parameters
    ----------
    cost
        Least SLA-meeting $/Mtok at ``price`` (NaN: the SLA is not met), with a ``dim`` dim.
    price
        $/hour per system the costs were computed at (broadcasts against ``cost``).
    dim
        The hardware dim.

    Returns
    -------
    xarray.DataArray
        $/hour, shaped as ``cost``: ``inf`` where no other hardware has a cost, ``NaN`` where this
        one has none.
    """
    alternative = best_alternative(cost, dim)
    with np.errstate(divide="ignore", invalid="ignore"):
        beat = price * alternative / cost
    beat = xr.where(cost.notnull() & alternative.isnull(), np.inf, beat)
    beat = beat.where(cost.notnull())
    out: xr.DataArray = beat.transpose(*cost.dims)
    return out


def best_alternative(cost: xr.DataArray, dim: str = "hardware") -> xr.DataArray:
    """Per hardware, the least ``cost`` of the other hardware (NaN: none has one).

    Parameters
    ----------
    cost
        Costs with a ``dim`` dim.
    dim
        The hardware dim.

    Returns
    -------
    xarray.DataArray
        Shaped as ``cost``.
    """
    labels = list(cost[dim].values)
    with warnings.catch_warnings():  # a label whose others all lack a cost: NaN, as meant
        warnings.simplefilter("ignore", RuntimeWarning)
        others = [cost.where(cost[dim] != label).min(dim, skipna=True) for label in labels]
    return xr.concat(others, dim=dim, coords="minimal").assign_coords({dim: labels}).transpose(*cost.dims)


def cheapest_hardware(cost: xr.DataArray, dim: str = "hardware") -> xr.DataArray:
    """The label of the least ``cost`` along ``dim`` (ties: the first), :data:`NONE` where all are NaN.

    Parameters
    ----------
    cost
        Costs with a ``dim`` dim (NaN: not an option).
    dim
        The hardware dim.

    Returns
    -------
    xarray.DataArray
        Strings, ``cost`` without ``dim``.
    """
    labels = np.asarray(list(cost[dim].values) + [NONE], dtype=object)
    axis = cost.get_axis_num(dim)
    values = np.where(np.isnan(cost.values), np.inf, cost.values)
    index = np.argmin(values, axis=axis)
    index = np.where(np.isinf(np.min(values, axis=axis)), len(labels) - 1, index)
    dims = [d for d in cost.dims if d != dim]
    coords = {k: v for k, v in cost.coords.items() if dim not in v.dims}
    return xr.DataArray(labels[index].astype(str), dims=dims, coords=coords)


def _isl(cfg: ModelConfig, isl: Any) -> xr.DataArray:
    if isl is None:
        isl = [int(cfg.workload.isl)]
    if isinstance(isl, xr.DataArray):
        return isl
    values = np.atleast_1d(np.asarray(isl, dtype=np.int64))
    return xr.DataArray(values, dims="isl", coords={"isl": values})


def price_to_beat(cfg: ModelConfig, params: Mapping[str, Any] | None = None, *,
                  isl: Sequence[int] | xr.DataArray | None = None,
                  min_interactivity: Sequence[float] | None = None) -> xr.Dataset:
    """The price to beat of every selected hardware, per (model, ISL, SLA).

    Parameters
    ----------
    cfg
        A validated config; ``select.hardware`` are the hardware compared (the alternatives of
        each are the others).
    params
        Replacements by dotted config key, as :func:`model.evaluate` takes them (DataArrays along
        extra dims give a price to beat per value).
    isl
        ISLs, tokens (default ``[workload.isl]``).
    min_interactivity
        SLA values, tok/s (default ``[sla.min_interactivity]``); ``sla.max_ttft_s`` applies too.

    Returns
    -------
    xarray.Dataset
        On (model, hardware, isl, min_interactivity, ...): ``price_to_beat`` ($/h; ``inf`` where no
        other hardware meets the SLA, ``NaN`` where this one does not), ``cheapest_cost_per_mtok``,
        ``best_alternative_cost_per_mtok``, ``optimal_concurrency``; ``price_per_hour`` (hardware);
        ``cheapest_hardware`` (model, isl, min_interactivity; :data:`NONE` where none meets the SLA).
    """
    params = dict(params or {})
    isl = _isl(cfg, isl)
    if min_interactivity is None:
        min_interactivity = params.pop("sla.min_interactivity", [float(cfg.sla.min_interactivity)])
    values = np.atleast_1d(np.asarray(min_interactivity, dtype=float))
    # evaluated along "sla": the parameter arrays already hold a variable named min_interactivity
    sla = xr.DataArray(values, dims="sla", coords={"sla": values})
    best = cheapest_under_sla(cfg, {**params, "sla.min_interactivity": sla}, isl=isl)
    best = best.rename({"sla": "min_interactivity"})
    raw = raw_parameters(cfg)
    if params:
        raw = apply_overrides(raw, params)
    price = raw.price_per_hour.sel(hardware=list(cfg.select.hardware))
    cost = best.cost_per_mtok
    ds = xr.Dataset({
        "price_to_beat": price_to_beat_from_costs(cost, price),
        "cheapest_cost_per_mtok": cost,
        "best_alternative_cost_per_mtok": best_alternative(cost),
        "optimal_concurrency": best.concurrency,
        "price_per_hour": price,
        "cheapest_hardware": cheapest_hardware(cost),
    })
    ds = ds.transpose("model", "hardware", "isl", "min_interactivity", ...)
    for name, (units, long_name) in ATTRS.items():
        ds[name].attrs.update(units=units, long_name=long_name)
    ds["min_interactivity"].attrs.update(units="tok/s", long_name="SLA: least output tok/s per request")
    ds.attrs.update(max_ttft_s=np.nan if cfg.sla.max_ttft_s is None else float(cfg.sla.max_ttft_s))
    return label_coords(ds)


def step_function(interactivity: np.ndarray, cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The least cost at each SLA, as sorted breakpoints: ``f(s) = least[searchsorted(rate, s)]``.

    Parameters
    ----------
    interactivity, cost
        Per cell that may meet an SLA (NaN cells are dropped).

    Returns
    -------
    tuple of numpy.ndarray
        ``rate`` (the cells' interactivity, ascending) and ``least`` (one longer: ``least[k]`` is
        the least cost among cells ``k..``, ``inf`` past the last), so that the least cost at SLA
        ``s`` is ``least[np.searchsorted(rate, s, side="left")]``.
    """
    keep = np.isfinite(interactivity) & np.isfinite(cost)
    rate, cost = interactivity[keep], cost[keep]
    order = np.argsort(rate, kind="stable")
    rate, cost = rate[order], cost[order]
    least = np.append(np.minimum.accumulate(cost[::-1])[::-1], np.inf)
    return rate, least


def sla_switch_points(cfg: ModelConfig, params: Mapping[str, Any] | None = None, *,
                      isl: Sequence[int] | xr.DataArray | None = None) -> xr.Dataset:
    """The SLAs (least interactivity) at which the cheapest hardware changes, exact on the grid.

    Parameters
    ----------
    cfg
        A validated config; ``select.hardware`` are compared, ``sla.max_ttft_s`` applies.
    params
        Scalar replacements by dotted config key (no extra dims).
    isl
        ISLs, tokens (default ``[workload.isl]``).

    Returns
    -------
    xarray.Dataset
        Along ``switch``, one entry per change: ``model``, ``isl``, ``min_interactivity`` (the
        cheapest is ``cheapest_up_to`` for SLAs up to this value and ``cheapest_above`` above
        it, up to the next switch of the same (model, ISL)), ``cost_up_to`` and ``cost_above``
        ($/Mtok at the catalog prices).  The last switch of each (model, ISL) is to
        :data:`NONE`, at the best interactivity on offer.
    """
    params = {k: v for k, v in (params or {}).items() if k != "sla.min_interactivity"}
    isl = _isl(cfg, isl)
    grid = evaluate(cfg, {**params, "sla.min_interactivity": 0.0}, isl=isl,
                    variables=["cost_per_mtok", "interactivity", "meets_sla"])
    extra = set(grid.cost_per_mtok.dims) - {"model", "hardware", "isl", "concurrency"}
    if extra:
        raise ValueError(f"params add dims {sorted(extra)}: switch points take scalar params only")
    hardware = [str(h) for h in grid.hardware.values]
    labels = np.array(hardware + [NONE], dtype=object)
    rows: dict[str, list[Any]] = {k: [] for k in ("model", "isl", "min_interactivity", "cheapest_up_to",
                                             "cheapest_above", "cost_up_to", "cost_above")}
    for model in grid.model.values:
        for length in grid.isl.values:
            cell = grid.sel(model=model, isl=length).transpose("hardware", "concurrency")
            ok = cell.meets_sla.values
            steps = [step_function(np.where(ok[i], cell.interactivity.values[i], np.nan),
                                   cell.cost_per_mtok.values[i]) for i in range(len(hardware))]
            points = np.unique(np.concatenate([rate for rate, _ in steps]))
            if len(points) == 0:
                continue
            least = np.stack([lst[np.searchsorted(rate, points, side="left")] for rate, lst in steps])
            best = np.min(least, axis=0)
            winner = np.where(np.isinf(best), len(hardware), np.argmin(least, axis=0))
            winner, best = np.append(winner, len(hardware)), np.append(best, np.inf)
            for j in np.flatnonzero(winner[1:] != winner[:-1]):
                rows["model"].append(str(model))
                rows["isl"].append(int(length))
                rows["min_interactivity"].append(float(points[j]))
                rows["cheapest_up_to"].append(labels[winner[j]])
                rows["cheapest_above"].append(labels[winner[j + 1]])
                rows["cost_up_to"].append(float(best[j]))
                rows["cost_above"].append(float(best[j + 1]) if np.isfinite(best[j + 1]) else np.nan)
    attrs = {"model": COORD_ATTRS["model"], "isl": COORD_ATTRS["isl"],
             "min_interactivity": ("tok/s", "SLA at which the cheapest hardware changes: cheapest_up_to for "
                                            "SLAs up to it, cheapest_above above it"),
             "cheapest_up_to": ("", "cheapest SLA-meeting hardware for SLAs up to min_interactivity"),
             "cheapest_above": ("", f"cheapest SLA-meeting hardware just above min_interactivity ({NONE}: none)"),
             "cost_up_to": ("$/Mtok", "least SLA-meeting cost per Mtok at min_interactivity"),
             "cost_above": ("$/Mtok", "least SLA-meeting cost per Mtok just above min_interactivity")}
    ds = xr.Dataset({k: ("switch", np.asarray(v, dtype=str if k in ("model", "cheapest_up_to", "cheapest_above")
                                              else float if k != "isl" else np.int64))
                     for k, v in rows.items()})
    for name, (units, long_name) in attrs.items():
        ds[name].attrs.update(units=units, long_name=long_name)
    return ds
