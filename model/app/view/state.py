"""The calculator's state and callbacks, without Panel: inputs in, the numbers the page shows out.

:class:`CalculatorInputs` is what the widgets hold; :class:`Calculator` turns it into a
:class:`CalculatorResult` through the toolkit's public API only: the config is composed with
:func:`model.load_config` from Hydra override strings (the CLI's validation, one-line
:class:`model.ConfigError`), cached per (model, hardware, prefill mode) selection, and the
numbers the user edits are passed to :func:`model.evaluate` as ``params`` (validated against the
same declared ranges).  One evaluation covers every concurrency at an ISL, so a concurrency
move evaluates nothing; the ISL slider's positions can be evaluated ahead in one call
(:meth:`Calculator.prefetch`).  :class:`CalculatorState` keeps the last good result when an
input is refused.
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import xarray as xr
from omegaconf import DictConfig

import model
from model.app.view.callbacks import INPUT_ERRORS, AppCallbacks, AppResult, Inputs, LastUsed, compose, one_line
from model.app.view.cli import override
from model.app.view.feasibility import Feasibility, feasibility_grids
from model.app.view.readouts import readout_values
from model.price_to_beat import price_to_beat_from_costs
from model.schema import TOKEN_TYPES
from model.spend import spend_table
from model.validate import check_value

DEFAULT_MODEL = "gpt_oss_120b"
DEFAULT_HARDWARE = ("cerebras_wse3", "b200")
# hardware fields the calculator edits; prefill_mode is an enum, so it goes into the composed config
HARDWARE_FIELDS = ("price_per_hour", "cache_read_ratio", "prefill_mode", "hop_latency_s", "interactivity_multiplier")
STRUCTURAL_FIELDS = ("prefill_mode", "percentile")  # enums: into the composed config
PRICE_KEYS = tuple(f"workload.price_sheet.{t}" for t in TOKEN_TYPES)
SLA_KEYS = ("sla.min_interactivity", "sla.max_ttft_s", "sla.percentile")
ISL_RANGE = (1000, 1_000_000)  # the ISL slider's range, tokens
ISL_STEPS_PER_DECADE = 32
PREFETCH_MAX_HARDWARE = 4  # prefetching every slider ISL costs ~16 MB per hardware type


def isl_options(extra: tuple[int, ...] = ()) -> list[int]:
    """The ISL slider's positions: log-spaced over :data:`ISL_RANGE`, three significant digits,
    plus ``extra`` (the workload's ISL).

    Parameters
    ----------
    extra
        ISLs that must be positions, tokens.

    Returns
    -------
    list of int
        Increasing, distinct.
    """
    lo, hi = ISL_RANGE
    count = int(round(np.log10(hi / lo) * ISL_STEPS_PER_DECADE)) + 1
    values = {int(float(f"{v:.3g}")) for v in np.geomspace(lo, hi, count)} | {int(v) for v in extra}
    return sorted(values)


@dataclass(frozen=True)
class CalculatorInputs(Inputs):
    """What the calculator's widgets hold (``set``: :class:`~model.app.view.callbacks.Inputs`;
    a dotted config key goes into :attr:`values`).

    Attributes
    ----------
    model
        The model (a ``models.*`` name).
    hardware
        The hardware types compared, in order.
    isl
        Input-side tokens per request L, tokens.
    concurrency
        Concurrent requests per replica N.
    values
        Every other edited value by dotted config key: ``hardware.<name>.<field>`` for the
        fields of :data:`HARDWARE_FIELDS` (every catalog hardware, selected or not),
        ``workload.price_sheet.<type>`` ($/Mtok), ``sla.min_interactivity`` (tok/s),
        ``sla.max_ttft_s`` (s, ``None``: no limit) and ``sla.percentile`` (p50, p90 or p99).
    """

    model: str
    hardware: tuple[str, ...]
    isl: int
    concurrency: int
    values: Mapping[str, Any] = field(default_factory=dict)
    extra = "values"


@dataclass(frozen=True)
class CalculatorResult(AppResult):
    """The numbers of one calculator state (besides :class:`~model.app.view.callbacks.AppResult`'s
    inputs, overrides and command).

    Attributes
    ----------
    grid
        :func:`model.evaluate` at the ISL over the whole concurrency grid (dims model, hardware,
        isl, concurrency; one model, one ISL).
    best
        :func:`model.cheapest_concurrency` of ``grid`` (dim hardware).
    spend
        :func:`model.spend.spend_table` at the ISL with the edited price sheet (``None``
        without a price sheet).
    values
        The readouts: hardware -> :attr:`Readout.name` -> number (bools as 1.0 / 0.0).
    """

    grid: xr.Dataset
    best: xr.Dataset
    spend: xr.Dataset | None
    values: Mapping[str, Mapping[str, float]]

    def point(self) -> xr.Dataset:
        """The grid at the chosen (ISL, concurrency), dim hardware."""
        return self.grid.isel(model=0, isl=0).sel(concurrency=self.inputs.concurrency)

    def curve(self, hardware: str) -> dict[str, np.ndarray]:
        """One hardware's curves over the concurrency grid.

        Parameters
        ----------
        hardware
            A compared hardware type.

        Returns
        -------
        dict
            ``concurrency``, ``cost_per_mtok`` ($/Mtok), ``interactivity`` (tok/s),
            ``meets_sla`` and ``feasible`` arrays.
        """
        cell = self.grid.isel(model=0, isl=0).sel(hardware=hardware)
        return {"concurrency": cell.concurrency.values.astype(float),
                "cost_per_mtok": cell.cost_per_mtok.values, "interactivity": cell.interactivity.values,
                "meets_sla": cell.meets_sla.values, "feasible": cell.feasible.values}


class Calculator(AppCallbacks):
    """Inputs -> numbers for the calculator tab, with caches; no Panel.

    Parameters
    ----------
    base
        The default config (``model.load_config()``); composed here if not given.
    """

    def __init__(self, base: DictConfig | None = None) -> None:
        super().__init__(base)
        g = self.base.grid
        self.levels = np.arange(int(g.concurrency_min), int(g.concurrency_max) + 1, int(g.concurrency_step))
        self.isl_options = isl_options((int(self.base.workload.isl),))
        self._grids: LastUsed[xr.Dataset] = LastUsed(32)
        self._batches: LastUsed[xr.Dataset] = LastUsed(2)
        self._feasibility: LastUsed[dict[str, Feasibility]] = LastUsed(32)
        self._defaults: dict[str, Any] = {}
        self._best: LastUsed[tuple[xr.Dataset, xr.DataArray]] = LastUsed(32)

    # -- inputs and their defaults --------------------------------------------------------
    def default_value(self, key: str) -> Any:
        """A key's value in the default config (enums as their names).

        Kept once read: every move asks for each edited key's default several times (about 370
        OmegaConf lookups, 30 ms of a concurrency move's 90), and the base config never changes.
        """
        try:
            return self._defaults[key]
        except KeyError:
            pass
        node: Any = self.base
        for part in key.split("."):
            node = node[part]
        value = node.value if isinstance(node, enum.Enum) else node
        self._defaults[key] = value
        return value

    def defaults(self) -> CalculatorInputs:
        """The default inputs: the seed's model and the wafer against the B200 at the workload's
        ISL and concurrency, every edited value at its catalog value."""
        models = self.models
        name = DEFAULT_MODEL if DEFAULT_MODEL in models else str(self.base.select.models[0])
        hardware = tuple(h for h in DEFAULT_HARDWARE if h in self.hardware) or (self.hardware[0],)
        keys = [f"hardware.{h}.{f}" for h in self.hardware for f in HARDWARE_FIELDS]
        if self.base.workload.price_sheet is not None:
            keys += list(PRICE_KEYS)
        keys += list(SLA_KEYS)
        values = {k: self.default_value(k) for k in keys}
        return CalculatorInputs(model=name, hardware=hardware, isl=int(self.base.workload.isl),
                                concurrency=int(self.base.workload.concurrency), values=values)

    def keys(self, inputs: CalculatorInputs) -> list[str]:
        """The edited keys that matter for the selection: the selected hardware's, the price
        sheet's, the SLA's."""
        keys = [f"hardware.{h}.{f}" for h in inputs.hardware for f in HARDWARE_FIELDS]
        return keys + [k for k in inputs.values if k.startswith(("workload.", "sla."))]

    def changed(self, inputs: CalculatorInputs) -> dict[str, Any]:
        """The relevant keys whose value differs from the default config."""
        out = {}
        for key in self.keys(inputs):
            value = inputs.values.get(key, self.default_value(key))
            if value != self.default_value(key):
                out[key] = value
        return out

    # -- overrides -------------------------------------------------------------------------
    def selection(self, inputs: CalculatorInputs) -> list[str]:
        """``select.models`` and ``select.hardware`` overrides, where they differ from the defaults."""
        out = []
        if [inputs.model] != list(self.base.select.models):
            out.append(override("select.models", [inputs.model]))
        if list(inputs.hardware) != list(self.base.select.hardware):
            out.append(override("select.hardware", list(inputs.hardware)))
        return out

    def structural(self, inputs: CalculatorInputs) -> tuple[str, ...]:
        """Overrides the composed config needs: the selection, the prefill modes and any value
        set to null (not an array-valued parameter)."""
        out = self.selection(inputs)
        for key, value in self.changed(inputs).items():
            if key.rsplit(".", 1)[-1] in STRUCTURAL_FIELDS or value is None:
                out.append(override(key, value))
        return tuple(out)

    def params(self, inputs: CalculatorInputs) -> dict[str, float]:
        """The changed numbers, passed to :func:`model.evaluate` as ``params``.

        Raises
        ------
        model.ConfigError
            A number that is not one (an empty input).
        """
        out = {}
        for key, value in self.changed(inputs).items():
            if key.rsplit(".", 1)[-1] in STRUCTURAL_FIELDS or value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise model.ConfigError(key, value, "must be a number")
            out[key] = float(value)
        return out

    def overrides(self, inputs: CalculatorInputs) -> tuple[str, ...]:
        """Every override of the equivalent command: the selection, the point (``workload.isl``,
        ``workload.concurrency``) and each changed value."""
        out = self.selection(inputs)
        if inputs.isl != int(self.base.workload.isl):
            out.append(override("workload.isl", int(inputs.isl)))
        if inputs.concurrency != int(self.base.workload.concurrency):
            out.append(override("workload.concurrency", int(inputs.concurrency)))
        out += [override(k, v) for k, v in self.changed(inputs).items()]
        return tuple(out)

    # -- evaluation ------------------------------------------------------------------------
    def check_point(self, inputs: CalculatorInputs) -> None:
        """Refuse an ISL or concurrency the CLI would refuse, or one off the concurrency grid.

        Raises
        ------
        model.ConfigError
        """
        for key, value in (("workload.isl", inputs.isl), ("workload.concurrency", inputs.concurrency)):
            if value is None or isinstance(value, bool) or not float(value).is_integer():
                raise model.ConfigError(key, value, "must be a whole number >= 1")
            check_value(key, int(value), ">= 1")
        if int(inputs.concurrency) not in set(self.levels.tolist()):
            lo, hi = int(self.levels[0]), int(self.levels[-1])
            raise model.ConfigError("workload.concurrency", inputs.concurrency,
                                    f"must be on the concurrency grid, {lo}..{hi}")

    def config(self, inputs: CalculatorInputs) -> DictConfig:
        """The composed, validated config of the selection (cached)."""
        return compose(self.structural(inputs))

    def concurrency_array(self) -> xr.DataArray:
        """The concurrency grid as :func:`model.evaluate` takes it."""
        return xr.DataArray(self.levels, dims="concurrency", coords={"concurrency": self.levels})

    def batch_key(self, inputs: CalculatorInputs) -> tuple:
        """What a grid depends on besides the ISL: the composed config and the parameters."""
        return self.structural(inputs), tuple(sorted(self.params(inputs).items()))

    def grid(self, inputs: CalculatorInputs, batch_key: tuple | None = None) -> xr.Dataset:
        """:func:`model.evaluate` at the inputs' ISL over the concurrency grid (cached; taken from
        a :meth:`prefetch` of the slider's ISLs when there is one: the same numbers, as every
        cell is evaluated on its own)."""
        self.check_point(inputs)
        if batch_key is None:  # compute passes the one it also keys the readouts by
            batch_key = self.batch_key(inputs)
        key = (*batch_key, int(inputs.isl))
        cached = self._grids.get(key)
        if cached is not None:
            return cached
        batch = self._batches.get(batch_key)
        if batch is not None and int(inputs.isl) in batch.indexes["isl"]:
            ds = batch.sel(isl=[int(inputs.isl)])
        else:
            cfg = compose(batch_key[0])
            ds = model.evaluate(cfg, dict(batch_key[1]), isl=[int(inputs.isl)], concurrency=self.concurrency_array(),
                                workers=1)
        return self._grids.put(key, ds)

    def prefetched(self, inputs: CalculatorInputs) -> bool:
        """Whether the slider's ISLs are evaluated for the inputs' config and parameters (or
        need not be: more than :data:`PREFETCH_MAX_HARDWARE` hardware types)."""
        if len(inputs.hardware) > PREFETCH_MAX_HARDWARE:
            return True
        try:
            key = self.batch_key(inputs)
        except INPUT_ERRORS:
            return True
        return key in self._batches

    def prefetch(self, inputs: CalculatorInputs) -> None:
        """Evaluate every ISL of the slider (:attr:`isl_options`) in one call and keep it, so that
        moving the ISL slider costs a selection, not an evaluation.  Quiet on refused inputs.

        Parameters
        ----------
        inputs
            The inputs whose config and parameters to evaluate.
        """
        if self.prefetched(inputs):
            return
        key = self.batch_key(inputs)
        try:
            cfg = compose(key[0])
            isl = sorted(set(self.isl_options) | {int(inputs.isl)})
            ds = model.evaluate(cfg, dict(key[1]), isl=isl, concurrency=self.concurrency_array(), workers=1)
        except INPUT_ERRORS:
            return
        self._batches.put(key, ds)

    def compute(self, inputs: CalculatorInputs) -> CalculatorResult:
        """The numbers the calculator shows for ``inputs`` (the widgets' values): the grid at the
        ISL, its cheapest SLA-meeting concurrency, the readouts, the token spend.  Raises
        :class:`model.ConfigError` on a refused input (one line), Hydra / OmegaConf errors of a
        composition likewise."""
        self.check_point(inputs)  # refused before the values are read, as grid() does
        batch_key = self.batch_key(inputs)
        grid = self.grid(inputs, batch_key)
        at_isl = grid.isel(model=0, isl=0)
        cfg = self.config(inputs)
        names = [str(hw) for hw in at_isl.hardware.values]
        prices = tuple(float(inputs.values.get(f"hardware.{hw}.price_per_hour", cfg.hardware[hw].price_per_hour))
                       for hw in names)
        # the cheapest concurrency and the price to beat depend on the grid and the prices, not on
        # the chosen concurrency: a concurrency move reuses them (they were 2/3 of its Python time)
        key = (*batch_key, int(inputs.isl), prices)
        cached = self._best.get(key)
        if cached is None:
            best = model.cheapest_concurrency(at_isl)
            price = xr.DataArray(list(prices), dims="hardware", coords={"hardware": names})
            cached = self._best.put(key, (best, price_to_beat_from_costs(best.cost_per_mtok, price)))
        best, beat = cached
        values = readout_values(at_isl.sel(concurrency=int(inputs.concurrency)), best, inputs.hardware, beat)
        spend = None
        if cfg.workload.price_sheet is not None:
            sheet = {t: float(inputs.values.get(f"workload.price_sheet.{t}", cfg.workload.price_sheet[t]))
                     for t in TOKEN_TYPES}
            osl = None if cfg.workload.osl is None else float(cfg.workload.osl)
            spend = spend_table(dict(cfg.workload.mix), sheet, float(inputs.isl), osl)
        return CalculatorResult(inputs=inputs, grid=grid, best=best, spend=spend,
                                overrides=self.overrides(inputs), values=values)

    def feasibility(self, inputs: CalculatorInputs, points: int = 40) -> dict[str, Feasibility]:
        """:func:`~model.app.view.feasibility.feasibility_grids` of the inputs' model and compared
        hardware at their concurrency.  Cached (thread-safe, the last 32) by model, hardware,
        concurrency and :meth:`batch_key`: every session that opens at the defaults shares the
        first one's grids (their arrays are read-only).

        Parameters
        ----------
        inputs
            The calculator's inputs (model, hardware, concurrency).
        points
            Grid points per axis.

        Returns
        -------
        dict
            :class:`~model.app.view.feasibility.Feasibility` by hardware type.
        """
        key = (inputs.model, tuple(inputs.hardware), int(inputs.concurrency), points, *self.batch_key(inputs))
        cached = self._feasibility.get(key)
        if cached is not None:
            return cached
        grid = self.grid(replace(inputs, concurrency=int(self.levels[0])))
        return self._feasibility.put(key, feasibility_grids(self.config(inputs), grid, inputs.model,
                                                            tuple(inputs.hardware), int(inputs.concurrency), points))


class CalculatorState:
    """The calculator's current result and error: a refused input keeps the last good result.

    Parameters
    ----------
    calculator
        The callbacks.
    inputs
        Initial inputs (default: :meth:`Calculator.defaults`).
    """

    def __init__(self, calculator: Calculator, inputs: CalculatorInputs | None = None) -> None:
        self.calculator = calculator
        self.inputs = calculator.defaults() if inputs is None else inputs
        self.result: CalculatorResult = calculator.compute(self.inputs)
        self.error: str | None = None

    def update(self, inputs: CalculatorInputs) -> bool:
        """Compute the result of ``inputs``: True if the result changed, False if the inputs were
        refused (``error`` holds the one-line reason, ``result`` stays the last good one)."""
        self.inputs = inputs
        try:
            result = self.calculator.compute(inputs)
        except INPUT_ERRORS as err:
            self.error = one_line(err)
            return False
        self.result, self.error = result, None
        return True


