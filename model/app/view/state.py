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
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np
import xarray as xr
from hydra.errors import HydraException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

import model
from model.app.view.cli import command, override
from model.price_to_beat import price_to_beat_from_costs
from model.schema import TOKEN_TYPES
from model.spend import spend_table
from model.validate import check_value

# Hydra's compose API keeps global state: one composition at a time, whichever thread asks.
COMPOSE_LOCK = threading.RLock()

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
# errors whose first line the page shows instead of a result
INPUT_ERRORS = (model.ConfigError, HydraException, OmegaConfBaseException)


def one_line(err: BaseException) -> str:
    """The first line of an error, as the page's alert shows it.

    Parameters
    ----------
    err
        A :class:`model.ConfigError` (already one line) or a Hydra / OmegaConf composition error.

    Returns
    -------
    str
    """
    text = str(err).strip() or type(err).__name__
    line = text.splitlines()[0]
    return line if isinstance(err, model.ConfigError) else f"{type(err).__name__}: {line}"


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


@lru_cache(maxsize=64)
def compose(overrides: tuple[str, ...] = (),
            load: Callable[[list[str]], DictConfig] = model.load_config) -> DictConfig:
    """A validated config of one app, composed once per distinct (override tuple, app).

    Parameters
    ----------
    overrides
        Hydra override strings.
    load
        The app's ``load_config`` (:func:`model.load_config`, ``optimize.load_config``, ...):
        each tab passes its own, so the view names no app above it.

    Returns
    -------
    DictConfig
        Read-only, shared between sessions.

    Raises
    ------
    model.ConfigError
        On a bad value (one line).
    """
    with COMPOSE_LOCK:
        return load(list(overrides))


@dataclass(frozen=True)
class CalculatorInputs:
    """What the calculator's widgets hold.

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

    def set(self, key: str, value: Any) -> CalculatorInputs:
        """A copy with one key changed: ``model``, ``hardware``, ``isl``, ``concurrency`` or a
        dotted key of :attr:`values`."""
        if key in ("model", "hardware", "isl", "concurrency"):
            return replace(self, **{key: tuple(value) if key == "hardware" else value})
        values = dict(self.values)
        values[key] = value
        return replace(self, values=values)


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


READOUTS: tuple[Readout, ...] = (
    Readout("systems", "systems per replica", "systems", "systems"),
    Readout("weights_gb", "memory: weights W", "GB", "weight_bytes", 1e-9),
    Readout("kv_gb", "memory: KV cache K", "GB", "kv_cache_bytes", 1e-9),
    Readout("layers_per_system", "layers per system", "layers", "layers_per_system"),
    Readout("capex", "capex per replica", "$", "capex"),
    Readout("interactivity", "interactivity", "tok/s", "interactivity"),
    Readout("cache_read_throughput", "cache-read throughput", "tok/s", "cache_read_throughput"),
    Readout("ttft", "time to first token", "s", "ttft"),
    Readout("cost_per_mtok", "cost, all tokens", "$/Mtok", "cost_per_mtok"),
    Readout("cost_per_output_mtok", "cost, output tokens", "$/Mtok", "cost_per_output_mtok"),
    Readout("price_per_mtok", "price sheet, all tokens", "$/Mtok", "price_per_mtok"),
    Readout("margin_per_mtok", "margin vs price sheet", "$/Mtok", "margin_per_mtok"),
    Readout("meets_sla", "meets the SLA", "", "meets_sla"),
    Readout("best_concurrency", "cheapest N meeting the SLA", "requests", "concurrency", at_best=True),
    Readout("best_cost_per_mtok", "its cost, all tokens", "$/Mtok", "cost_per_mtok", at_best=True),
    Readout("best_interactivity", "its interactivity", "tok/s", "interactivity", at_best=True),
    Readout("price_to_beat", "$/hour to match the best other", "$/h", "price_to_beat", at_best=True),
)


@dataclass(frozen=True)
class CalculatorResult:
    """The numbers of one calculator state.

    Attributes
    ----------
    inputs
        The inputs they answer.
    grid
        :func:`model.evaluate` at the ISL over the whole concurrency grid (dims model, hardware,
        isl, concurrency; one model, one ISL).
    best
        :func:`model.cheapest_concurrency` of ``grid`` (dim hardware).
    spend
        :func:`model.spend.spend_table` at the ISL with the edited price sheet (``None``
        without a price sheet).
    overrides
        Hydra overrides of the equivalent command (keys differing from the defaults).
    values
        The readouts: hardware -> :attr:`Readout.name` -> number (bools as 1.0 / 0.0).
    """

    inputs: CalculatorInputs
    grid: xr.Dataset
    best: xr.Dataset
    spend: xr.Dataset | None
    overrides: tuple[str, ...]
    values: Mapping[str, Mapping[str, float]]

    @property
    def command(self) -> str:
        """The equivalent ``serving-model ...`` command."""
        return command("model", self.overrides)

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


@dataclass(frozen=True)
class Feasibility:
    """Systems per replica over ISL x total parameters on one hardware (the feasibility diagram).

    Attributes
    ----------
    hardware, model
        The hardware and the reference model (its bytes per parameter and KV per token).
    concurrency
        Concurrent requests per replica of every cell.
    isl
        ISL values, tokens (n).
    params_b
        Total parameters, B (m).
    systems
        Systems per replica, shape (m, n).
    model_params_b, max_context
        The model's total parameters and context, where its marker goes.
    """

    hardware: str
    model: str
    concurrency: int
    isl: np.ndarray
    params_b: np.ndarray
    systems: np.ndarray
    model_params_b: float
    max_context: float


class CatalogNames:
    """The model and hardware names of the catalog in ``self.base`` (a composed config), shared by
    the tabs' state classes."""

    base: DictConfig

    @property
    def models(self) -> list[str]:
        """Every catalog model."""
        return [str(m) for m in self.base.models.keys()]

    @property
    def hardware(self) -> list[str]:
        """Every catalog hardware type."""
        return [str(h) for h in self.base.hardware.keys()]


class Calculator(CatalogNames):
    """Inputs -> numbers for the calculator tab, with caches; no Panel.

    Parameters
    ----------
    base
        The default config (``model.load_config()``); composed here if not given.
    """

    def __init__(self, base: DictConfig | None = None) -> None:
        self.base = compose() if base is None else base
        g = self.base.grid
        self.levels = np.arange(int(g.concurrency_min), int(g.concurrency_max) + 1, int(g.concurrency_step))
        self.isl_options = isl_options((int(self.base.workload.isl),))
        self._grids: OrderedDict[tuple, xr.Dataset] = OrderedDict()
        self._batches: OrderedDict[tuple, xr.Dataset] = OrderedDict()
        self._feasibility: OrderedDict[tuple, dict[str, Feasibility]] = OrderedDict()
        self._lock = threading.Lock()

    # -- inputs and their defaults --------------------------------------------------------
    def default_value(self, key: str) -> Any:
        """A key's value in the default config (enums as their names)."""
        node: Any = self.base
        for part in key.split("."):
            node = node[part]
        return node.value if isinstance(node, enum.Enum) else node

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

    def grid(self, inputs: CalculatorInputs) -> xr.Dataset:
        """:func:`model.evaluate` at the inputs' ISL over the concurrency grid (cached; taken from
        a :meth:`prefetch` of the slider's ISLs when there is one: the same numbers, as every
        cell is evaluated on its own)."""
        self.check_point(inputs)
        batch_key = self.batch_key(inputs)
        key = (*batch_key, int(inputs.isl))
        with self._lock:
            if key in self._grids:
                self._grids.move_to_end(key)
                return self._grids[key]
            batch = self._batches.get(batch_key)
        if batch is not None and int(inputs.isl) in batch.indexes["isl"]:
            ds = batch.sel(isl=[int(inputs.isl)])
        else:
            cfg = compose(batch_key[0])
            ds = model.evaluate(cfg, dict(batch_key[1]), isl=[int(inputs.isl)], concurrency=self.concurrency_array(),
                                workers=1)
        with self._lock:
            self._grids[key] = ds
            while len(self._grids) > 32:
                self._grids.popitem(last=False)
        return ds

    def prefetched(self, inputs: CalculatorInputs) -> bool:
        """Whether the slider's ISLs are evaluated for the inputs' config and parameters (or
        need not be: more than :data:`PREFETCH_MAX_HARDWARE` hardware types)."""
        if len(inputs.hardware) > PREFETCH_MAX_HARDWARE:
            return True
        try:
            key = self.batch_key(inputs)
        except INPUT_ERRORS:
            return True
        with self._lock:
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
        with self._lock:
            self._batches[key] = ds
            while len(self._batches) > 2:
                self._batches.popitem(last=False)

    def compute(self, inputs: CalculatorInputs) -> CalculatorResult:
        """The numbers the calculator shows for ``inputs``.

        Parameters
        ----------
        inputs
            The widgets' values.

        Returns
        -------
        CalculatorResult

        Raises
        ------
        model.ConfigError
            A refused input (one line); Hydra / OmegaConf errors of a composition likewise.
        """
        grid = self.grid(inputs)
        at_isl = grid.isel(model=0, isl=0)
        best = model.cheapest_concurrency(at_isl)
        point = at_isl.sel(concurrency=int(inputs.concurrency))
        values: dict[str, dict[str, float]] = {}
        for hw in inputs.hardware:
            row = {}
            p, b = point.sel(hardware=hw), best.sel(hardware=hw)
            for r in READOUTS:
                source = b if r.at_best else p
                if r.variable not in source:
                    continue
                row[r.name] = float(source[r.variable].values) * r.scale
            values[hw] = row
        cfg = self.config(inputs)
        # the price to beat (issue 14): the $/hour at which each hardware's cheapest SLA-meeting
        # $/Mtok equals the best other compared hardware's; cost is linear in the price, so exact
        names = best.hardware.values
        price_of = {hw: inputs.values.get(f"hardware.{hw}.price_per_hour", cfg.hardware[hw].price_per_hour)
                    for hw in names}
        prices = xr.DataArray([float(price_of[hw]) for hw in names], dims="hardware", coords={"hardware": names})
        beat = price_to_beat_from_costs(best.cost_per_mtok, prices)
        for hw in inputs.hardware:
            values[hw]["price_to_beat"] = float(beat.sel(hardware=hw))
        spend = None
        if cfg.workload.price_sheet is not None:
            prices = {t: float(inputs.values.get(f"workload.price_sheet.{t}", cfg.workload.price_sheet[t]))
                      for t in TOKEN_TYPES}
            osl = None if cfg.workload.osl is None else float(cfg.workload.osl)
            spend = spend_table(dict(cfg.workload.mix), prices, float(inputs.isl), osl)
        return CalculatorResult(inputs=inputs, grid=grid, best=best, spend=spend,
                                overrides=self.overrides(inputs), values=values)

    def feasibility(self, inputs: CalculatorInputs, points: int = 40) -> dict[str, Feasibility]:
        """Systems per replica over ISL x total parameters on each compared hardware at the inputs'
        concurrency, as ``serving-model``'s feasibility.png draws it: weights scale with total
        parameters at the model's bytes per parameter, KV per token is the model's.  One
        :func:`model.evaluate` call, total parameters along their own dim.  Cached (thread-safe,
        the last 32) by model, hardware, concurrency and :meth:`batch_key`: every session that
        opens at the defaults shares the first one's grids (their arrays are read-only).

        Parameters
        ----------
        inputs
            The calculator's inputs (model, hardware, concurrency).
        points
            Grid points per axis.

        Returns
        -------
        dict
            :class:`Feasibility` by hardware type.
        """
        key = (inputs.model, tuple(inputs.hardware), int(inputs.concurrency), points, *self.batch_key(inputs))
        with self._lock:
            if key in self._feasibility:
                self._feasibility.move_to_end(key)
                return self._feasibility[key]
        out = self._feasibility_grids(inputs, points)
        with self._lock:
            self._feasibility[key] = out
            while len(self._feasibility) > 32:
                self._feasibility.popitem(last=False)
        return out

    def _feasibility_grids(self, inputs: CalculatorInputs, points: int) -> dict[str, Feasibility]:
        cfg = self.config(inputs)
        name, g = inputs.model, cfg.grid
        m = cfg.models[name]
        grid = self.grid(replace(inputs, concurrency=int(self.levels[0])))
        bytes_per_param = float(grid.weight_bytes.sel(model=name)) / (float(m.total_params_b) * 1e9)
        lo, hi = (float(v) for v in cfg.plots.feasibility_params_b)
        params_b = np.geomspace(lo, hi, points)
        isl = np.unique(np.rint(np.geomspace(g.isl_min, max(g.isl_max, 2_000_000), points)))
        size = xr.DataArray(params_b, dims="model_size_b", coords={"model_size_b": params_b})
        ds = model.evaluate(cfg, {f"models.{name}.total_params_b": size,
                                  f"models.{name}.weight_gb": size * bytes_per_param,
                                  f"models.{name}.active_params_b": min(1.0, lo),  # <= total; unused by memory
                                  f"models.{name}.max_context": float(isl.max())},
                            isl=xr.DataArray(isl, dims="isl", coords={"isl": isl}),
                            concurrency=xr.DataArray(float(inputs.concurrency)), variables=["systems"], workers=1)
        out = {}
        for hw in inputs.hardware:
            systems = ds.systems.sel(model=name, hardware=hw).transpose("model_size_b", "isl")
            arrays = [isl.astype(float), params_b.copy(), systems.values.astype(float)]
            for a in arrays:
                a.flags.writeable = False  # shared by every session: nobody may change them
            out[hw] = Feasibility(hardware=hw, model=name, concurrency=int(inputs.concurrency), isl=arrays[0],
                                  params_b=arrays[1], systems=arrays[2],
                                  model_params_b=float(m.total_params_b), max_context=float(m.max_context))
        return out


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
        """Compute the result of ``inputs``.

        Parameters
        ----------
        inputs
            The widgets' values.

        Returns
        -------
        bool
            True if the result changed; False if the inputs were refused (``error`` holds the
            one-line reason and ``result`` stays the last good one).
        """
        self.inputs = inputs
        try:
            result = self.calculator.compute(inputs)
        except INPUT_ERRORS as err:
            self.error = one_line(err)
            return False
        self.result, self.error = result, None
        return True


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

