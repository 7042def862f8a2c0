"""Replacing catalog values by numbers or arrays, by dotted config key (docs/model.md §2): the
override keys, their allowed ranges and the arrays they become.

:func:`apply_overrides` addresses :func:`model.parameters.raw_parameters`' arrays by config key
(``hardware.b200.price_per_hour``); everything :func:`model.parameters.derive` computes afterwards
broadcasts along the dims the values bring (a design's ``sample``, a swept key).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from model.errors import ConfigError
from model.fields import CHECKS, array_fields, field_docs
from model.quantities import COORDINATES, OVERRIDE_KEYS
from model.ranges import meets
from model.schema import TOKEN_TYPES, HardwareSpec, ModelConfig, ModelSpec

# The catalog numbers that become parameter arrays, as declared in the schema.
HARDWARE_FIELDS = array_fields(HardwareSpec)
MODEL_FIELDS = array_fields(ModelSpec)


def override_target(key: str, ds: xr.Dataset) -> tuple[str, dict[str, str]]:
    """Map a dotted config key to (variable, selection) in :func:`raw_parameters`' Dataset.

    Raises
    ------
    ConfigError
        If the key names no array-valued parameter, or an unknown model or hardware.
    """
    parts = key.split(".")
    allowed = ", ".join(OVERRIDE_KEYS)
    if len(parts) == 3 and parts[0] == "hardware" and parts[2] in HARDWARE_FIELDS:
        if parts[1] not in ds.hardware:
            raise ConfigError(key, parts[1], f"unknown hardware; allowed: {', '.join(ds.hardware.values)}")
        return parts[2], {"hardware": parts[1]}
    if len(parts) == 3 and parts[0] == "models" and parts[2] in MODEL_FIELDS:
        if parts[1] not in ds.model:
            raise ConfigError(key, parts[1], f"unknown model; allowed: {', '.join(ds.model.values)}")
        return parts[2], {"model": parts[1]}
    if len(parts) == 5 and parts[0] == "models" and parts[2] == "interactivity" and parts[4] == "tok_s":
        if parts[1] not in ds.model or parts[3] not in ds.hardware:
            raise ConfigError(key, key, "unknown model or hardware name")
        return "base_interactivity", {"model": parts[1], "hardware": parts[3]}
    for pattern, (variable, _) in OVERRIDE_KEYS.items():  # the workload's and the SLA's keys
        expected = pattern.split(".")
        if expected[0] != "models" and len(parts) == len(expected) and all(
                e == k or (e == "<type>" and k in TOKEN_TYPES) for e, k in zip(expected, parts)):
            return variable.replace("<type>", parts[-1]), {}
    raise ConfigError("params", key, f"not an array-valued parameter; allowed: {allowed}")


# The allowed range of every array-valued parameter besides the catalog fields (their schema's): the
# grid's coordinates and the override keys' fields (model.quantities)
OTHER_CHECKS: dict[str, str] = {
    **{q.name: q.valid for q in COORDINATES if q.valid},
    **{variable.replace("<type>", t): doc.check for variable, doc in OVERRIDE_KEYS.values() if doc.check
       for t in (TOKEN_TYPES if "<type>" in variable else ("",))}}


def dim_name(key: str) -> str:
    """A Python-identifier dim name for a dotted key (``hardware.b200.price_per_hour`` ->
    ``hardware_b200_price_per_hour``), so that ``.sel(**{name: ...})`` works."""
    return "".join(c if c.isalnum() else "_" for c in key)


def as_array(value: Any, dim: str) -> Any:
    """A number stays a number and a DataArray keeps its dims (along ``dim`` itself, a 1-d
    DataArray without a coordinate gets its values as one, so ``isl=xr.DataArray([50000], dims="isl")``
    can be selected by ISL; other dims, such as a design's ``sample``, stay positional); a list,
    tuple or 1-d array becomes a DataArray along ``dim`` with its values as the coordinate."""
    if isinstance(value, xr.DataArray):
        if value.dims == (dim,) and dim not in value.coords:
            return value.assign_coords({dim: value.values})
        return value
    if isinstance(value, (list, tuple, np.ndarray)):
        values = np.asarray(value)
        if values.ndim == 0:
            return values.item()
        if values.ndim != 1:
            raise ConfigError(dim, f"an array of shape {values.shape}", "give a list, a 1-d array or a DataArray")
        return xr.DataArray(values, dims=dim, coords={dim: values})
    return value


def check_catalog_dims(key: str, value: Any, cfg: ModelConfig) -> None:
    """An input along ``model`` or ``hardware`` must label every selected name on that dim.

    Parameters
    ----------
    key
        The input's name in the error (``isl``, or a dotted parameter key).
    value
        A number or DataArray.
    cfg
        The config whose ``select.models`` and ``select.hardware`` make the grid.
    """
    if not isinstance(value, xr.DataArray):
        return
    for dim, selected in (("model", cfg.select.models), ("hardware", cfg.select.hardware)):
        if dim not in value.dims:
            continue
        if dim not in value.coords:
            raise ConfigError(key, f"a DataArray along {dim!r} without labels",
                              f"label it, e.g. coords={{{dim!r}: {list(selected)}}}")
        missing = [name for name in selected if name not in set(value[dim].values.tolist())]
        if missing:
            raise ConfigError(key, f"a DataArray along {dim!r} without {missing}",
                              f"label every selected {dim}: {list(selected)}")


def check_parameter(key: str, var: str, value: Any) -> None:
    """Refuse values outside the parameter's declared range (NaN passes: it marks a cell infeasible)."""
    rule = OTHER_CHECKS.get(var) or next((d.check for cls in (HardwareSpec, ModelSpec)
                                          for name, d in field_docs(cls).items() if name == var), None)
    if rule is None:
        return
    values = np.asarray(value.values if isinstance(value, xr.DataArray) else value, dtype=float).ravel()
    known = values[~np.isnan(values)]
    ok = meets(rule, known)  # the rule's one statement, which model.fields.passes applies to one value
    if not ok.all():
        raise ConfigError(key, float(known[np.argmin(ok)]), CHECKS[rule])


def apply_overrides(ds: xr.Dataset, params: Mapping[str, Any]) -> xr.Dataset:
    """Replace catalog values by numbers, lists, arrays or DataArrays along extra dims, by dotted
    config key; each value checked against the key's declared range (:class:`ConfigError`).

    ``{"hardware.cerebras_wse3.price_per_hour": xr.DataArray(p, dims="sample")}`` makes
    ``price_per_hour`` a (hardware, sample) array: ``p`` on the wafer, the catalog value elsewhere.
    A list becomes a dim named after the key (:func:`dim_name`).
    """
    replaced: dict[str, xr.DataArray] = {}  # assigned at the end: one merge, not one per key
    for key, value in params.items():
        var, where = override_target(key, ds)
        value = as_array(value, dim_name(key))
        try:
            check_parameter(key, var, value)
        except (TypeError, ValueError) as err:
            if isinstance(err, ConfigError):
                raise
            raise ConfigError(key, value, "must be numbers (a scalar, list, array or DataArray)") from None
        if not where:
            replaced[var] = xr.DataArray(value) if not isinstance(value, xr.DataArray) else value
            continue
        mask: Any = True
        for dim, label in where.items():
            mask = mask & (ds.variables[dim] == label)  # a Variable: in the order of ds's labels
        replaced[var] = xr.where(mask, value, replaced[var] if var in replaced else ds[var])
    return ds.assign(replaced)
