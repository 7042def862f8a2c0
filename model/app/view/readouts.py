"""The calculator's readout rows and how each number is written (no Panel)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from model.quantities import COORDINATES, OUTPUTS, display_scale


@dataclass(frozen=True)
class Readout:
    """One row of the readout table.

    Attributes
    ----------
    name
        Row id (``data-var`` in the page).
    label
        What the row shows.
    unit
        Its unit.
    variable
        The variable of :func:`model.evaluate`'s Dataset (or of the cheapest-concurrency
        Dataset when ``at_best``).
    scale
        Factor from the variable's unit to the shown unit (bytes -> GB: 1e-9).
    at_best
        Read at the cheapest concurrency meeting the SLA instead of at the chosen point.
    digits
        Significant digits shown.
    """

    name: str
    label: str
    unit: str
    variable: str
    scale: float = 1.0
    at_best: bool = False
    digits: int = 4


def readout(name: str, label: str, variable: str = "", at_best: bool = False) -> Readout:
    """A row of a variable of :func:`model.evaluate` (``variable``, default ``name``): its unit and the
    factor to it are the variable's display unit and scale, declared in :mod:`model.quantities` (a flag
    shows no unit)."""
    variable = variable or name
    q = OUTPUTS.get(variable) or next(c for c in COORDINATES if c.name == variable)
    unit = "" if q.dtype is np.bool_ else q.shown_unit
    return Readout(name, label, unit, variable, display_scale(q), at_best)


READOUTS: tuple[Readout, ...] = (
    readout("systems", "systems per replica"),
    readout("weights_gb", "memory: weights W", "weight_bytes"),
    readout("kv_gb", "memory: KV cache K", "kv_cache_bytes"),
    readout("layers_per_system", "layers per system"),
    readout("capex", "capex per replica"),
    readout("interactivity", "interactivity"),
    readout("cache_read_throughput", "cache-read throughput"),
    readout("ttft", "time to first token"),
    readout("cost_per_mtok", "cost, all tokens"),
    readout("cost_per_output_mtok", "cost, output tokens"),
    readout("price_per_mtok", "price sheet, all tokens"),
    readout("margin_per_mtok", "margin vs price sheet"),
    readout("meets_sla", "meets the SLA"),
    readout("best_concurrency", "cheapest N meeting the SLA", "concurrency", at_best=True),
    readout("best_cost_per_mtok", "its cost, all tokens", "cost_per_mtok", at_best=True),
    readout("best_interactivity", "its interactivity", "interactivity", at_best=True),
    # not a variable of model.evaluate: model.price_to_beat's $/hour per system
    Readout("price_to_beat", "$/hour to match the best other", "$/h", "price_to_beat", at_best=True),
)




def readout_values(point: xr.Dataset, best: xr.Dataset, hardware: Sequence[str],
                   beat: xr.DataArray) -> dict[str, dict[str, float]]:
    """The readouts of each compared hardware: hardware -> :attr:`Readout.name` -> number.

    Parameters
    ----------
    point
        :func:`model.evaluate` at the chosen (ISL, concurrency), dim hardware.
    best
        Its cheapest SLA-meeting concurrency (:func:`model.cheapest_concurrency`), dim hardware.
    hardware
        The compared hardware, in order.
    beat
        The price to beat of every hardware of ``best`` (dim hardware,
        :func:`model.price_to_beat.price_to_beat_from_costs` of its cost at the $/hour per system):
        the $/hour at which each hardware's cheapest SLA-meeting $/Mtok equals the best other
        compared hardware's (issue 14); cost is linear in the price, so it is exact.

    Returns
    -------
    dict
        Every :data:`READOUTS` row whose variable exists (bools as 1.0 / 0.0), and the price to beat.
    """
    values: dict[str, dict[str, float]] = {}
    for hw in hardware:
        p, b = point.sel(hardware=hw), best.sel(hardware=hw)
        row = {r.name: float((b if r.at_best else p)[r.variable].values) * r.scale
               for r in READOUTS if r.variable in (b if r.at_best else p)}
        row["price_to_beat"] = float(beat.sel(hardware=hw))
        values[hw] = row
    return values


def format_number(value: float, digits: int = 4) -> str:
    """A readout as the page shows it: thousands separators, ``digits`` significant digits,
    ``n/a`` for NaN.

    Parameters
    ----------
    value
        The number.
    digits
        Significant digits.

    Returns
    -------
    str
    """
    if value is None or not np.isfinite(value):
        return "n/a"
    if value != 0 and abs(value) >= 10 ** digits:
        return f"{value:,.0f}"
    text = f"{value:,.{digits}g}"
    return text


def readout_text(readout: Readout, value: float | None) -> str:
    """One readout cell's text (``yes`` / ``no`` for the SLA flag).

    Parameters
    ----------
    readout
        The row.
    value
        Its number (``None``: not computed, e.g. no price sheet).

    Returns
    -------
    str
    """
    if value is None:
        return "n/a"
    if readout.name == "meets_sla":
        return "yes" if value else "no"
    if readout.name == "price_to_beat" and value == np.inf:
        return "any"  # no other compared hardware meets the SLA
    return format_number(value, readout.digits)
