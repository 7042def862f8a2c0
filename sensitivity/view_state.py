"""The sensitivity tab's state and callback, without Panel: inputs -> overrides -> :func:`sensitivity.analyze`.

The parameters offered are the default ones of ``conf/sensitivity/default.yaml``; unchecking one
removes it (``~sensitivity.parameters.<name>``), and its bounds are ``sensitivity.parameters.<name>.bounds``.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

import sensitivity
from model.app.view.callbacks import DEFAULT_N, AppCallbacks, AppResult, Inputs
from model.app.view.cli import delete, override

OUTPUT_LABELS = {"cost_per_mtok": "$/Mtok at the point",
                 "optimal_cost_per_mtok": "least $/Mtok under SLA",
                 "optimal_concurrency": "its concurrency"}


@dataclass(frozen=True)
class ParameterInfo:
    """One default parameter of the analysis.

    Attributes
    ----------
    name
        Its name under ``sensitivity.parameters``.
    key
        The dotted config key it varies (for the default selection).
    distribution
        uniform, loguniform, triangular or normal.
    bounds
        Default [low, high] (``None`` for normal).
    relative
        Bounds are multiples of the key's config value.
    source
        Where the range comes from.
    """

    name: str
    key: str
    distribution: str
    bounds: tuple[float, float] | None
    relative: bool
    source: str


@dataclass(frozen=True)
class SensitivityInputs(Inputs):
    """What the sensitivity tab's widgets hold (``set``: :class:`~model.app.view.callbacks.Inputs`,
    ``bounds.<name>`` for one parameter's bounds).

    Attributes
    ----------
    model
        The analysed model (``select.models``).
    hardware
        The analysed hardware (``select.hardware``; the parameters' keys follow it).
    parameters
        The parameters analysed (a subset of the defaults).
    bounds
        [low, high] per parameter.
    n
        Base sample size N (a power of two, at most 1,024 here).
    min_interactivity
        ``sla.min_interactivity``, tok/s.
    """

    model: str
    hardware: str
    parameters: tuple[str, ...]
    bounds: Mapping[str, tuple[float, float]]
    n: int
    min_interactivity: float


@dataclass(frozen=True)
class SensitivityResult(AppResult):
    """Sobol indices (``indices``: :func:`sensitivity.analyze`'s Dataset) as the page shows them,
    with an :class:`~model.app.view.callbacks.AppResult`'s inputs, overrides and command."""

    indices: xr.Dataset
    app = "sensitivity"

    def ranking(self, output: str) -> pd.DataFrame:
        """Parameters ranked by total-order index ST for one output.

        Parameters
        ----------
        output
            ``cost_per_mtok``, ``optimal_cost_per_mtok`` or ``optimal_concurrency``.

        Returns
        -------
        pandas.DataFrame
            Columns parameter, key, ST, ST_conf, S1, S1_conf, sorted by ST (largest first);
            empty when the output has no indices (a sample with no value).
        """
        ds = self.indices
        cell = ds.sel(output=output).isel(model=0)
        if int(cell.valid_samples) < int(ds.attrs["model_runs"]):
            return pd.DataFrame(columns=["parameter", "key", "ST", "ST_conf", "S1", "S1_conf"])
        table = pd.DataFrame({"parameter": [str(p) for p in ds.parameter.values],
                              "key": [str(k) for k in ds.key.values],
                              "ST": cell.ST.values, "ST_conf": cell.ST_conf.values,
                              "S1": cell.S1.values, "S1_conf": cell.S1_conf.values})
        order = np.argsort(-np.nan_to_num(table.ST.values, nan=-1.0), kind="stable")
        return table.iloc[order].reset_index(drop=True)

    def table(self) -> pd.DataFrame:
        """Every output's ranking in one table (the CSV download)."""
        frames = [self.ranking(o).assign(output=o) for o in self.indices.output.values]
        table = pd.concat(frames, ignore_index=True)
        return table[["output", "parameter", "key", "ST", "ST_conf", "S1", "S1_conf"]]


class Sensitivity(AppCallbacks):
    """Inputs -> Sobol indices; no Panel (the config: ``sensitivity.load_config``)."""

    load = staticmethod(sensitivity.load_config)
    app, n_key = "sensitivity", "sensitivity.n"
    required = ("parameters", "sensitivity.parameters", "choose at least one parameter")

    @property
    def parameters(self) -> list[ParameterInfo]:
        """The default parameters, as declared."""
        out = []
        for name, p in self.base.sensitivity.parameters.items():
            bounds = None if p.bounds is None else (float(p.bounds[0]), float(p.bounds[1]))
            out.append(ParameterInfo(name=str(name), key=str(p.key),
                                     distribution=str(getattr(p.distribution, "value", p.distribution)),
                                     bounds=bounds, relative=bool(p.relative), source=str(p.source)))
        return out

    def defaults(self) -> SensitivityInputs:
        """The inputs of ``conf/sensitivity.yaml``, with N = 256 (the page keeps N <= 1,024)."""
        params = self.parameters
        return SensitivityInputs(model=str(self.base.select.models[0]), hardware=str(self.base.select.hardware[0]),
                                 parameters=tuple(p.name for p in params),
                                 bounds={p.name: p.bounds for p in params if p.bounds is not None},
                                 n=DEFAULT_N, min_interactivity=float(self.base.sla.min_interactivity))

    def overrides(self, inputs: SensitivityInputs) -> tuple[str, ...]:
        """The overrides of the equivalent command: keys differing from the defaults."""
        out = []
        if [inputs.model] != list(self.base.select.models):
            out.append(override("select.models", [inputs.model]))
        if [inputs.hardware] != list(self.base.select.hardware):
            out.append(override("select.hardware", [inputs.hardware]))
        for p in self.parameters:
            if p.name not in inputs.parameters:
                out.append(delete(f"sensitivity.parameters.{p.name}"))
                continue
            bounds = inputs.bounds.get(p.name)
            if bounds is not None and p.bounds is not None and tuple(bounds) != p.bounds:
                out.append(override(f"sensitivity.parameters.{p.name}.bounds",
                                    [None if b is None else float(b) for b in bounds]))
        if int(inputs.n) != int(self.base.sensitivity.n):
            out.append(override("sensitivity.n", int(inputs.n)))
        if float(inputs.min_interactivity) != float(self.base.sla.min_interactivity):
            out.append(override("sla.min_interactivity", float(inputs.min_interactivity)))
        return tuple(out)

    def analyze(self, inputs: SensitivityInputs,
                progress: Callable[[int, int], None] | None = None) -> SensitivityResult:
        """:func:`sensitivity.analyze` of the inputs' config, calling ``progress(done, total)`` as
        blocks finish (``model.ConfigError``: a refused input, one line)."""
        cfg = self.config(inputs)
        ds = sensitivity.analyze(cfg, progress=progress)
        return SensitivityResult(inputs=inputs, overrides=self.overrides(inputs), indices=ds)
