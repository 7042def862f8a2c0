"""Value checks of the fleet problem (one-line :class:`~model.errors.ConfigError`).

Per-field ranges come from the schema (:mod:`optimize.schema`); the rules that tie fields to
the catalogs or to each other are written out here.
"""
from __future__ import annotations

import math

from omegaconf import DictConfig

from model.errors import ConfigError
from model.validate import check_fields
from optimize.schema import FleetSpec, IslDistribution, IslKind, SolverSpec

BUCKET_WEIGHT_TOLERANCE = 1e-6


def validate_fleet(cfg: DictConfig) -> None:
    """Value checks of ``fleet`` (one-line :class:`ConfigError`)."""
    f = cfg.fleet
    catalog_models, catalog_hardware = list(cfg.models.keys()), list(cfg.hardware.keys())
    for name, value in f.demand.items():
        if name not in catalog_models:
            raise ConfigError(f"fleet.demand.{name}", value,
                              f"unknown model; allowed: {', '.join(catalog_models)}")
        if value is not None and (not math.isfinite(value) or value < 0):
            raise ConfigError(f"fleet.demand.{name}", value, "must be a finite number of requests/s >= 0")
    check_fields(f, FleetSpec, "fleet")
    demands = [f.demand_default if f.demand.get(m) is None else f.demand[m] for m in cfg.select.models]
    if sum(demands) <= 0:  # nothing to serve: not a plan to search for
        raise ConfigError("fleet.demand_default", f.demand_default,
                          "every selected model has zero demand; give at least one a demand > 0 "
                          "(fleet.demand.<model> or fleet.demand_default)")
    for name, value in f.sla.items():
        if name not in catalog_models:
            raise ConfigError(f"fleet.sla.{name}", value, f"unknown model; allowed: {', '.join(catalog_models)}")
        if value is not None and (not math.isfinite(value) or value < 0):
            raise ConfigError(f"fleet.sla.{name}", value, "must be a finite tok/s >= 0")
    for name, value in f.max_ttft_s.items():
        if name not in catalog_models:
            raise ConfigError(f"fleet.max_ttft_s.{name}", value,
                              f"unknown model; allowed: {', '.join(catalog_models)}")
        if value is not None and (not math.isfinite(value) or value <= 0):
            raise ConfigError(f"fleet.max_ttft_s.{name}", value, "must be a finite number of seconds > 0, or null")
    if f.prefill_hardware is not None:
        names = list(f.prefill_hardware)
        if not names:
            raise ConfigError("fleet.prefill_hardware", names, "list at least one hardware, or null (the hardware "
                                                               "on offer)")
        for name in names:
            if name not in catalog_hardware:
                raise ConfigError("fleet.prefill_hardware", name,
                                  f"unknown hardware; allowed: {', '.join(catalog_hardware)}")
        if len(set(names)) != len(names):
            raise ConfigError("fleet.prefill_hardware", names, "each hardware at most once")
    for name, value in f.inventory.items():
        if name not in catalog_hardware:
            raise ConfigError(f"fleet.inventory.{name}", value,
                              f"unknown hardware; allowed: {', '.join(catalog_hardware)}")
        if value is not None and value < 0:
            raise ConfigError(f"fleet.inventory.{name}", value, "must be a whole number of systems >= 0, or null")
    d = f.isl
    check_fields(d, IslDistribution, "fleet.isl")
    if d.kind == IslKind.buckets:
        if not d.explicit:
            raise ConfigError("fleet.isl.explicit", [], "kind=buckets needs at least one {isl, weight}")
        for b in d.explicit:
            if b.isl < 1 or not b.weight > 0:
                raise ConfigError("fleet.isl.explicit", f"{{isl: {b.isl}, weight: {b.weight}}}",
                                  "each bucket needs isl >= 1 and weight > 0")
        total = sum(b.weight for b in d.explicit)
        if abs(total - 1) > BUCKET_WEIGHT_TOLERANCE:
            raise ConfigError("fleet.isl.explicit", total, "bucket weights must sum to 1")
    check_fields(f.solver, SolverSpec, "fleet.solver")
    check_fleet_memory(cfg)


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
    from model.parameters import grid_concurrency
    from model.results import CELL_OUTPUTS
    from optimize.inputs import COLUMN_VARIABLES, grid_hardware

    d = cfg.fleet.isl
    buckets = {IslKind.p50: 1, IslKind.lognormal: int(d.buckets), IslKind.buckets: len(d.explicit)}[IslKind(d.kind)]
    sizes = {"model": len(cfg.select.models), "hardware": len(grid_hardware(cfg)), "bucket": buckets,
             "concurrency": len(grid_concurrency(cfg))}
    check_memory(result_bytes(sizes, {v: CELL_OUTPUTS[v] for v in COLUMN_VARIABLES if v in CELL_OUTPUTS}),
                 float(cfg.grid.max_memory_fraction))
