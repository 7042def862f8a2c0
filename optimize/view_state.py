"""The fleet tab's state and callback, without Panel: inputs -> overrides -> :func:`optimize.plan_fleet`.

The config is composed with :func:`optimize.load_config` from the Hydra overrides of the
inputs (those differing from ``conf/optimize.yaml``), exactly as ``serving-optimize`` would.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

import optimize
from model.app.view.callbacks import AppCallbacks, AppResult, Inputs
from model.app.view.cli import override
from optimize.schema import IslKind

ISL_KINDS = tuple(kind.value for kind in IslKind)


@dataclass(frozen=True)
class FleetInputs(Inputs):
    """What the fleet tab's widgets hold (``fleet.*`` keys of conf/fleet/default.yaml; ``set``:
    :class:`~model.app.view.callbacks.Inputs`, ``demand.<model>`` / ``inventory.<hw>`` for one entry).
    No defaults here: :meth:`Fleet.defaults` reads every one from the composed config.

    Attributes
    ----------
    models
        Models with demand (``select.models``).
    hardware
        Hardware on offer (``select.hardware``).
    demand
        Requests/s per model (``fleet.demand.<model>``; ``None``: ``fleet.demand_default``).
    isl_kind
        ``fleet.isl.kind``: p50, lognormal or buckets.
    isl_median
        ``fleet.isl.median``, tokens (``None``: ``workload.isl``).
    isl_sigma
        ``fleet.isl.sigma``.
    isl_buckets
        ``fleet.isl.buckets`` (lognormal).
    isl_explicit
        ``fleet.isl.explicit`` as (isl, weight) pairs (buckets).
    inventory
        Most systems per hardware type (``fleet.inventory.<hw>``; ``None``: no cap).
    target_utilization
        ``fleet.target_utilization``.
    disaggregation
        ``fleet.disaggregation``.
    min_interactivity
        ``sla.min_interactivity``, tok/s.
    """

    models: tuple[str, ...]
    hardware: tuple[str, ...]
    demand: Mapping[str, float | None]
    isl_kind: str
    isl_median: float | None
    isl_sigma: float
    isl_buckets: int
    isl_explicit: tuple[tuple[int, float], ...]
    inventory: Mapping[str, int | None]
    target_utilization: float
    disaggregation: bool
    min_interactivity: float


@dataclass(frozen=True)
class FleetResult(AppResult):
    """A fleet plan as the page shows it; the :class:`~model.app.view.callbacks.AppResult` holds
    the inputs, the overrides and the ``serving-optimize`` command.

    Attributes
    ----------
    status
        ``optimal``, ``time_limit``, ``infeasible`` or ``no_solution``.
    plan
        The plan table (:attr:`optimize.FleetPlan.plan`; empty without a plan).
    totals
        :meth:`optimize.FleetTotals.as_dict`.
    shortfalls
        The infeasibility report (empty with a plan).
    summary
        :meth:`optimize.FleetPlan.summary` (status, MIP gap, timings, column counts, notes).
    aggregated_only_plan, aggregated_only_totals
        The best aggregated-only plan (``fleet.disaggregation=false`` on the same grid), as
        ``serving-optimize`` prints it beside a disaggregated plan; the plan itself when
        disaggregation is off.
    """

    status: str
    plan: pd.DataFrame
    totals: dict[str, Any]
    shortfalls: pd.DataFrame
    summary: dict[str, Any]
    aggregated_only_plan: pd.DataFrame = field(default_factory=pd.DataFrame)
    aggregated_only_totals: dict[str, Any] = field(default_factory=dict)
    app = "optimize"

    def cost_by_hardware_phase(self) -> pd.DataFrame:
        """$/hour of this plan and of the aggregated-only plan by (hardware, phase).

        Returns
        -------
        pandas.DataFrame
            Index ``plan`` ("plan", "aggregated only"), one column per ``"<hardware> <phase>"``
            present in either plan ($/h; 0 where a plan has none of it); a plan without rows
            (infeasible) has no row here.  Each row sums to its plan's total $/hour.
        """
        parts = {}
        for label, table in (("plan", self.plan), ("aggregated only", self.aggregated_only_plan)):
            if len(table):
                key = table["hardware"].astype(str) + " " + table["phase"].astype(str)
                parts[label] = table["cost_per_hour"].groupby(key).sum()
        out = pd.DataFrame(parts).T.fillna(0.0)
        out.index.name = "plan"
        return out.reindex(columns=sorted(out.columns))


class Fleet(AppCallbacks):
    """Inputs -> fleet plan; no Panel (the config: ``optimize.load_config``)."""

    load = staticmethod(optimize.load_config)
    app = "optimize"

    def default_demand(self, name: str) -> float:
        """Requests/s of a model in the default config (``fleet.demand_default`` where null)."""
        value = self.base.fleet.demand.get(name)
        return float(self.base.fleet.demand_default if value is None else value)

    def defaults(self) -> FleetInputs:
        """The inputs of ``conf/optimize.yaml``."""
        f = self.base.fleet
        return FleetInputs(
            models=tuple(str(m) for m in self.base.select.models),
            hardware=tuple(str(h) for h in self.base.select.hardware),
            demand={m: self.default_demand(m) for m in self.models},
            isl_kind=str(getattr(f.isl.kind, "value", f.isl.kind)),
            isl_median=None if f.isl.median is None else float(f.isl.median),
            isl_sigma=float(f.isl.sigma), isl_buckets=int(f.isl.buckets),
            isl_explicit=tuple((int(b.isl), float(b.weight)) for b in f.isl.explicit),
            inventory={h: (None if f.inventory.get(h) is None else int(f.inventory[h])) for h in self.hardware},
            target_utilization=float(f.target_utilization), disaggregation=bool(f.disaggregation),
            min_interactivity=float(self.base.sla.min_interactivity))

    def overrides(self, inputs: FleetInputs) -> tuple[str, ...]:
        """The overrides of the equivalent command: every key differing from the defaults
        (demand and inventory of the selected models and hardware only)."""
        d, out = self.defaults(), []
        if list(inputs.models) != list(d.models):
            out.append(override("select.models", list(inputs.models)))
        if list(inputs.hardware) != list(d.hardware):
            out.append(override("select.hardware", list(inputs.hardware)))
        for m in inputs.models:
            value = inputs.demand.get(m)
            if value is not None and value != self.default_demand(m):
                out.append(override(f"fleet.demand.{m}", float(value)))
        if inputs.isl_kind != d.isl_kind:
            out.append(override("fleet.isl.kind", inputs.isl_kind))
        if inputs.isl_kind == "lognormal":
            for key, value, default in (("median", inputs.isl_median, d.isl_median),
                                        ("sigma", inputs.isl_sigma, d.isl_sigma),
                                        ("buckets", inputs.isl_buckets, d.isl_buckets)):
                if value != default:
                    out.append(override(f"fleet.isl.{key}", value))
        if inputs.isl_kind == "buckets" and inputs.isl_explicit != d.isl_explicit:
            out.append(override("fleet.isl.explicit",
                                [{"isl": int(i), "weight": float(w)} for i, w in inputs.isl_explicit]))
        for h in inputs.hardware:
            value = inputs.inventory.get(h)
            if value != d.inventory.get(h):
                out.append(override(f"fleet.inventory.{h}", None if value is None else int(value)))
        if inputs.target_utilization != d.target_utilization:
            out.append(override("fleet.target_utilization", float(inputs.target_utilization)))
        if inputs.disaggregation != d.disaggregation:
            out.append(override("fleet.disaggregation", bool(inputs.disaggregation)))
        if inputs.min_interactivity != d.min_interactivity:
            out.append(override("sla.min_interactivity", float(inputs.min_interactivity)))
        return tuple(out)

    def plan(self, inputs: FleetInputs) -> FleetResult:
        """:func:`optimize.plan_fleet` of the inputs' config, and the best aggregated-only plan
        beside a disaggregated one (``model.ConfigError``: a refused input, one line)."""
        from model.app.config import with_values
        from optimize.inputs import bucket_grid

        cfg = self.config(inputs)
        grid = bucket_grid(cfg)
        plan = optimize.plan_fleet(cfg, grid=grid)
        aggregated = plan
        if cfg.fleet.disaggregation:  # docs/model.md §9: the plan against the best aggregated-only one
            aggregated = optimize.plan_fleet(with_values(cfg, {"fleet.disaggregation": False}, optimize.validate),
                                             grid=grid)
        return FleetResult(inputs=inputs, overrides=self.overrides(inputs), status=plan.status.value,
                           plan=plan.plan.copy(), totals=plan.totals.as_dict(), shortfalls=plan.shortfalls.copy(),
                           summary=plan.summary(), aggregated_only_plan=aggregated.plan.copy(),
                           aggregated_only_totals=aggregated.totals.as_dict())


def parse_buckets(text: str) -> tuple[tuple[int, float], ...]:
    """Explicit ISL buckets from ``"32000:0.5, 200000:0.5"``.

    Parameters
    ----------
    text
        Comma-separated ``isl:weight`` pairs.

    Returns
    -------
    tuple
        (isl, weight) pairs.

    Raises
    ------
    model.ConfigError
        A pair that is not ``whole number:number``.
    """
    from model import ConfigError

    pairs = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        try:
            isl, weight = item.split(":")
            pairs.append((int(isl), float(weight)))
        except ValueError:
            raise ConfigError("fleet.isl.explicit", item, "write buckets as isl:weight, comma-separated, "
                                                          "e.g. 32000:0.5, 200000:0.5") from None
    return tuple(pairs)


def format_buckets(pairs: tuple[tuple[int, float], ...]) -> str:
    """The text :func:`parse_buckets` reads back.

    Parameters
    ----------
    pairs
        (isl, weight) pairs.

    Returns
    -------
    str
    """
    return ", ".join(f"{i}:{w:g}" for i, w in pairs)
