"""Value checks of the fleet problem (one-line :class:`~model.errors.ConfigError`).

Per-field ranges come from the schema (:mod:`optimize.schema`); the rules that tie fields to
the catalogs or to each other are written out here.
"""
from __future__ import annotations

import math
import os

from omegaconf import DictConfig

from model.errors import ConfigError
from model.fields import CHECKS, passes
from model.validate import check_fields
from optimize.schema import DemandProfile, DiurnalSpec, FleetSpec, IslDistribution, IslKind, SolverSpec, TraceShape

BUCKET_WEIGHT_TOLERANCE = 1e-6
DEMAND_RULE = "[0, 1e6]"  # the same rule as fleet.demand_default's


def _check_names(mapping, key: str, allowed: list[str], kind: str) -> None:
    """Every name of ``mapping`` (a per-model or per-hardware table at ``key``) is in ``allowed``."""
    for name, value in mapping.items():
        if name not in allowed:
            raise ConfigError(f"{key}.{name}", value, f"unknown {kind}; allowed: {', '.join(allowed)}")


def _check_values(mapping, key: str, ok, allowed: str) -> None:
    """Every non-null value of ``mapping`` at ``key`` passes ``ok`` (else one line: ``allowed``)."""
    for name, value in mapping.items():
        if value is not None and not ok(value):
            raise ConfigError(f"{key}.{name}", value, allowed)


def _check_prefill_hardware(names, catalog_hardware: list[str]) -> None:
    if names is None:
        return
    names = list(names)
    if not names:
        raise ConfigError("fleet.prefill_hardware", names, "list at least one hardware, or null (the hardware "
                                                           "on offer)")
    for name in names:
        if name not in catalog_hardware:
            raise ConfigError("fleet.prefill_hardware", name,
                              f"unknown hardware; allowed: {', '.join(catalog_hardware)}")
    if len(set(names)) != len(names):
        raise ConfigError("fleet.prefill_hardware", names, "each hardware at most once")


def _check_isl(d) -> None:
    check_fields(d, IslDistribution, "fleet.isl")
    if d.kind != IslKind.buckets:
        return
    if not d.explicit:
        raise ConfigError("fleet.isl.explicit", [], "kind=buckets needs at least one {isl, weight}")
    for b in d.explicit:
        if not passes("[1, 1e9]", b.isl) or not (math.isfinite(b.weight) and b.weight > 0):
            raise ConfigError("fleet.isl.explicit", f"{{isl: {b.isl}, weight: {b.weight}}}",
                              "each bucket needs isl >= 1 and weight > 0")
    total = sum(b.weight for b in d.explicit)
    if abs(total - 1) > BUCKET_WEIGHT_TOLERANCE:
        raise ConfigError("fleet.isl.explicit", total, "bucket weights must sum to 1")


def validate_fleet(cfg: DictConfig) -> None:
    """Value checks of ``fleet`` (one-line :class:`ConfigError`)."""
    f = cfg.fleet
    catalog_models, catalog_hardware = list(cfg.models.keys()), list(cfg.hardware.keys())
    _check_names(f.demand, "fleet.demand", catalog_models, "model")
    _check_values(f.demand, "fleet.demand", lambda v: passes(DEMAND_RULE, v), f"requests/s {CHECKS[DEMAND_RULE]}")
    check_fields(f, FleetSpec, "fleet")
    demands = [f.demand_default if f.demand.get(m) is None else f.demand[m] for m in cfg.select.models]
    if sum(demands) <= 0:  # nothing to serve: not a plan to search for
        raise ConfigError("fleet.demand_default", f.demand_default,
                          "every selected model has zero demand; give at least one a demand > 0 "
                          "(fleet.demand.<model> or fleet.demand_default)")
    _check_names(f.sla, "fleet.sla", catalog_models, "model")
    _check_values(f.sla, "fleet.sla", lambda v: math.isfinite(v) and v >= 0, "must be a finite tok/s >= 0")
    _check_names(f.max_ttft_s, "fleet.max_ttft_s", catalog_models, "model")
    _check_values(f.max_ttft_s, "fleet.max_ttft_s", lambda v: math.isfinite(v) and v > 0,
                  "must be a finite number of seconds > 0, or null")
    _check_prefill_hardware(f.prefill_hardware, catalog_hardware)
    _check_names(f.inventory, "fleet.inventory", catalog_hardware, "hardware")
    _check_values(f.inventory, "fleet.inventory", lambda v: v >= 0, "must be a whole number of systems >= 0, or null")
    _check_isl(f.isl)
    check_fields(f.solver, SolverSpec, "fleet.solver")
    cores = os.cpu_count() or 1
    if f.solver.threads is not None and f.solver.threads > cores:  # HiGHS would start them all (it ran 210 s)
        raise ConfigError("fleet.solver.threads", f.solver.threads,
                          f"at most this machine's {cores} cores, or null for HiGHS' default")
    validate_day(cfg)
    check_fleet_memory(cfg)
    from optimize.inputs import isl_buckets  # numpy and scipy: loaded once the values above have passed

    isl_buckets(cfg)  # a lognormal whose buckets leave the token range is refused by name


def _check_diurnal(d, catalog_models: list[str]) -> None:
    check_fields(d, DiurnalSpec, "fleet.diurnal")
    rules = {"peak_to_trough": (lambda v: math.isfinite(v) and v >= 1,
                                "must be a finite ratio >= 1 (peak over trough)"),
             "peak_hour": (lambda v: math.isfinite(v) and 0 <= v < 24, "must be an hour of the day in [0, 24)")}
    for key, (ok, allowed) in rules.items():
        by_model = d[f"{key}_by_model"]
        _check_names(by_model, f"fleet.diurnal.{key}_by_model", catalog_models, "model")
        if d[key] is not None and not ok(d[key]):
            raise ConfigError(f"fleet.diurnal.{key}", d[key], allowed)
        _check_values(by_model, f"fleet.diurnal.{key}_by_model", ok, allowed)


def _check_trace(f) -> None:
    if DemandProfile(f.demand_profile) == DemandProfile.trace and not f.trace:
        raise ConfigError("fleet.trace", f.trace, "demand_profile=trace needs a request log: fleet.trace=PATH "
                                                  "(an Azure 2023 CSV or a Mooncake JSONL)")
    if f.replay and (DemandProfile(f.demand_profile) != DemandProfile.trace
                     or TraceShape(f.trace_shape) != TraceShape.as_is):
        raise ConfigError("fleet.replay", f.replay, "the replay needs a trace as it came: fleet.demand_profile=trace "
                                                    "and fleet.trace_shape=as_is")


def validate_day(cfg: DictConfig) -> None:
    """Value checks of the demand profile, the tiers and the power cap (docs/model.md §11; one-line errors)."""
    f = cfg.fleet
    catalog_models = list(cfg.models.keys())
    if f.burst < 1:
        raise ConfigError("fleet.burst", f.burst, "must be >= 1 (the P99 one-minute rate is at least the mean)")
    if f.pue < 1:
        raise ConfigError("fleet.pue", f.pue, "must be >= 1 (power at the wall over IT power)")
    if f.period_s < 60:
        raise ConfigError("fleet.period_s", f.period_s, "must be >= 60 s (the burst is measured on one-minute bins)")
    _check_diurnal(f.diurnal, catalog_models)
    _check_trace(f)
    tiers = [str(getattr(t, "value", t)) for t in f.tiers]
    if not tiers:
        raise ConfigError("fleet.tiers", tiers, "offer at least one of reserved, on_demand, spot")
    if len(set(tiers)) != len(tiers):
        raise ConfigError("fleet.tiers", tiers, "each tier at most once")
    if f.power_cap_mw is not None:
        from optimize.inputs import grid_hardware

        for name in grid_hardware(cfg):
            if cfg.hardware[name].get("power_kw") is None:
                raise ConfigError(f"hardware.{name}.power_kw", None,
                                  "fleet.power_cap_mw needs the power per system of every hardware on offer")


def check_fleet_memory(cfg: DictConfig) -> None:
    """Refuse, before any work, a fleet grid (models x hardware x ISL buckets x concurrencies)
    larger than ``grid.max_memory_fraction`` of the available memory: one line naming its size
    and what to do (fewer ``fleet.isl.buckets``, a smaller concurrency grid).

    Parameters
    ----------
    cfg
        A composed optimizer config whose values are checked.
    """
    # the grid's code (numpy, xarray, scipy) loads only once the values above have passed
    from model.evaluate import check_memory, result_bytes
    from model.parameters import grid_sizes
    from model.quantities import CELL_OUTPUTS
    from optimize.inputs import COLUMN_VARIABLES, grid_hardware

    d = cfg.fleet.isl
    buckets = {IslKind.p50: 1, IslKind.lognormal: int(d.buckets), IslKind.buckets: len(d.explicit)}[IslKind(d.kind)]
    sizes = {"model": len(cfg.select.models), "hardware": len(grid_hardware(cfg)), "bucket": buckets,
             "concurrency": grid_sizes(cfg)["concurrency"]}
    check_memory(result_bytes(sizes, {v: CELL_OUTPUTS[v] for v in COLUMN_VARIABLES if v in CELL_OUTPUTS}),
                 float(cfg.grid.max_memory_fraction))
