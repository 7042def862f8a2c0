"""The uncertainty tab's state and callback, without Panel: inputs -> overrides ->
:func:`sensitivity.uncertainty.analyze`.

The tab runs the bands of ``serving-uncertainty`` (every uncertain catalog value and the GPU
model error drawn over ``uncertainty.n`` scenarios): $/Mtok at the cheapest SLA-meeting
concurrency and the price to beat, P5 / P50 / P95 per (model, hardware, ISL), beside their values
at the catalog point.  The robust fleet plan of the command line is not run here (it solves a
MILP per calibration step); the equivalent command runs it too.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

import sensitivity.uncertainty
from model.app.view.callbacks import DEFAULT_N, AppCallbacks, AppResult, Inputs
from model.app.view.cli import override

# The tab opens at 100 tok/s, where both default hardware types meet the SLA and so each has a
# price to beat; at the command line's 1,000 tok/s no B200 qualifies and the wafer wins at any price.
DEFAULT_SLA = 100.0
BANDED = {"optimal_cost_per_mtok": "$/Mtok", "price_to_beat": "$/h"}


@dataclass(frozen=True)
class UncertaintyInputs(Inputs):
    """What the uncertainty tab's widgets hold (``set``: :class:`~model.app.view.callbacks.Inputs`).

    Attributes
    ----------
    hardware
        ``select.hardware``: the hardware compared (the price to beat needs two or more).
    min_interactivity
        ``sla.min_interactivity``, tok/s.
    n
        ``uncertainty.n``: scenarios, a power of two (at most 1,024 here).
    """

    hardware: tuple[str, ...]
    min_interactivity: float = DEFAULT_SLA
    n: int = DEFAULT_N


@dataclass(frozen=True)
class UncertaintyResult(AppResult):
    """The bands as the page shows them, with an :class:`~model.app.view.callbacks.AppResult`'s
    inputs, overrides and ``serving-uncertainty`` command."""

    bands: xr.Dataset  # sensitivity.uncertainty.analyze's Dataset
    prices: dict[str, float]  # catalog $/hour per system of each compared hardware type
    app = "uncertainty"

    @property
    def models(self) -> list[str]:
        """The models analysed."""
        return [str(m) for m in self.bands.model.values]

    def table(self, model: str | None = None) -> pd.DataFrame:
        """P5 / P50 / P95 and the catalog-point value of each banded variable, per (model,
        hardware, ISL).

        Parameters
        ----------
        model
            One model (default: every model).

        Returns
        -------
        pandas.DataFrame
            Columns model, hardware, isl, variable, unit, p5, p50, p95, point, defined (the share
            of scenarios where the variable has a value: the SLA is met).  ``inf`` price to beat:
            no other hardware meets the SLA (any price wins); NaN: this hardware does not.
        """
        ds = self.bands if model is None else self.bands.sel(model=[model])
        frames = []
        for name, unit in BANDED.items():
            q = ds[name].transpose("model", "hardware", "isl", "quantile")
            frame = ds[f"{name}_point"].to_dataframe(name="point").reset_index()
            for i, level in enumerate(ds["quantile"].values):
                frame[f"p{round(100 * float(level))}"] = q.values[..., i].ravel()
            frame["defined"] = ds[f"{name}_defined"].transpose("model", "hardware", "isl").values.ravel()
            frames.append(frame.assign(variable=name, unit=unit))
        table = pd.concat(frames, ignore_index=True)
        quantiles = [c for c in table.columns if c.startswith("p") and c[1:].isdigit()]
        return table[["model", "hardware", "isl", "variable", "unit", *quantiles, "point", "defined"]]


class Uncertainty(AppCallbacks):
    """Inputs -> bands; no Panel (the config: ``sensitivity.uncertainty.load_config``)."""

    load = staticmethod(sensitivity.uncertainty.load_config)
    app, n_key = "uncertainty", "uncertainty.n"
    required = ("hardware", "select.hardware", "choose at least one hardware type")

    def defaults(self) -> UncertaintyInputs:
        """The inputs the tab opens with: the config's hardware, SLA 100 tok/s, 256 scenarios."""
        return UncertaintyInputs(hardware=tuple(str(h) for h in self.base.select.hardware))

    def overrides(self, inputs: UncertaintyInputs) -> tuple[str, ...]:
        """The overrides of the equivalent command: keys differing from ``conf/uncertainty.yaml``."""
        out = []
        if list(inputs.hardware) != list(self.base.select.hardware):
            out.append(override("select.hardware", list(inputs.hardware)))
        if inputs.min_interactivity is not None and float(inputs.min_interactivity) != float(
                self.base.sla.min_interactivity):
            out.append(override("sla.min_interactivity", float(inputs.min_interactivity)))
        elif inputs.min_interactivity is None:
            out.append(override("sla.min_interactivity", None))
        if inputs.n != int(self.base.uncertainty.n):
            out.append(override("uncertainty.n", inputs.n))
        return tuple(out)

    def analyze(self, inputs: UncertaintyInputs,
                progress: Callable[[int, int], None] | None = None) -> UncertaintyResult:
        """:func:`sensitivity.uncertainty.analyze` of the inputs' config, calling ``progress(done,
        total)`` as blocks of scenarios finish (``model.ConfigError``: a refused input, one line)."""
        cfg = self.config(inputs)
        ds = sensitivity.uncertainty.analyze(cfg, progress=progress)
        prices = {str(h): float(cfg.hardware[h].price_per_hour) for h in cfg.select.hardware}
        return UncertaintyResult(inputs=inputs, overrides=self.overrides(inputs), bands=ds, prices=prices)


def finite(values: Any) -> np.ndarray:
    """Float values with non-finite entries as NaN (gaps in a line, nothing drawn)."""
    out = np.asarray(values, dtype=float).copy()
    out[~np.isfinite(out)] = np.nan
    return out
