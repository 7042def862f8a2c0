"""Value checks of the Sobol analysis (one-line :class:`~model.errors.ConfigError`)."""
from __future__ import annotations

import math
from typing import Any

from omegaconf import DictConfig, OmegaConf

from model.errors import ConfigError
from model.evaluate import available_memory
from model.overrides import check_parameter, override_target
from model.parameters import raw_parameters
from model.validate import check_fields
from sensitivity.schema import Distribution, SensitivitySpec
from sensitivity.sobol import argument_violation, is_real

GRID_KEYS = ("workload.isl", "workload.concurrency")
# sensitivity.<name> values the generic engine checks itself (with a plain ValueError)
ENGINE_ARGUMENTS = ("n", "seed", "conf_level", "num_resamples")


def check_engine_argument(cfg: DictConfig, name: str) -> None:
    """The engine's rule for ``sensitivity.<name>`` of the sensitivity config ``cfg`` (``name`` one of
    :data:`ENGINE_ARGUMENTS`), raised as a :class:`ConfigError` naming the key."""
    value = cfg.sensitivity[name]
    allowed = argument_violation(name, value)
    if allowed is not None:
        raise ConfigError(f"sensitivity.{name}", value, allowed)


# float64 values held per model run: the sample row (one per parameter) and, per model, the outputs
# analysed plus the blocked minimum's working values (measured peak below 4 per model at N = 2**14)
VALUES_PER_OUTPUT = 4


def check_sample_memory(cfg: DictConfig) -> None:
    """Refuse, before sampling, an analysis whose samples and outputs would not fit in memory.

    The Saltelli design has ``N * (2D + 2)`` rows with second order (``N * (D + 2)`` without);
    each holds its D parameters and a few float64 values per model.
    """
    s = cfg.sensitivity
    d = max(len(s.parameters), 1)
    rows = float(s.n) * ((2 * d + 2) if s.second_order else (d + 2))
    needed = rows * 8 * (d + VALUES_PER_OUTPUT * len(cfg.select.models))
    fraction = float(cfg.grid.max_memory_fraction)
    available = available_memory()
    if needed > fraction * available:
        raise ConfigError("sensitivity.n", s.n, f"{rows:,.0f} model runs would take about {needed / 1e9:,.3g} GB, "
                          f"more than grid.max_memory_fraction={fraction:g} of the {available / 1e9:,.1f} GB "
                          "available; use a smaller power of two (the default is 4,096)")


def validate_sensitivity(cfg: DictConfig) -> None:
    """Value checks of ``sensitivity`` (one-line :class:`ConfigError`).

    Parameters
    ----------
    cfg
        A composed sensitivity config whose cost-model part is validated.

    Raises
    ------
    ConfigError
        The first bad value, named by its dotted key.
    """
    s = cfg.sensitivity
    check_fields(s, SensitivitySpec, "sensitivity")
    check_engine_argument(cfg, "n")
    if s.n < 4:
        raise ConfigError("sensitivity.n", s.n, "must be >= 4 (convergence uses N/4)")
    check_sample_memory(cfg)
    for name in ("seed", "conf_level", "num_resamples"):
        check_engine_argument(cfg, name)
    if len(cfg.select.hardware) != 1:
        raise ConfigError("select.hardware", list(cfg.select.hardware), "the analysis takes exactly one hardware type")
    if not s.parameters:
        raise ConfigError("sensitivity.parameters", {}, "declare at least one parameter")
    raw = raw_parameters(cfg)
    for name, p in s.parameters.items():
        check_sampled_parameter(cfg, f"sensitivity.parameters.{name}", p, raw)


def check_sampled_parameter(cfg: DictConfig, k: str, p, raw) -> None:
    """One declared parameter ``p`` at ``k``: a key the analysis can set, a distribution whose
    samples stay in that key's allowed range (one-line :class:`ConfigError`)."""
    if p.key not in GRID_KEYS:
        try:
            override_target(p.key, raw)
        except ConfigError:
            raise ConfigError(f"{k}.key", p.key, "unknown key; allowed: workload.isl, workload.concurrency, "
                              "hardware.<name>.<numeric field>, models.<name>.<numeric field>, "
                              "models.<name>.interactivity.<hardware>.tok_s, workload.mix.<type>, "
                              "workload.price_sheet.<type>, workload.osl, sla.min_interactivity") from None
    if p.key.startswith("workload.mix."):
        raise ConfigError(f"{k}.key", p.key, "sampling one token fraction breaks their sum to 1; "
                          "sample workload.osl, or sweep whole mixes with --multirun")
    variable = p.key.split(".")[-1] if p.key in GRID_KEYS else override_target(p.key, raw)[0]
    check_distribution(cfg, k, p, variable)


def is_finite(value: Any) -> bool:
    """A finite real number (Python or numpy), not a bool."""
    return is_real(value) and math.isfinite(value)


def check_distribution(cfg: DictConfig, k: str, p: Any, variable: str, points: bool = False) -> None:
    """A declared parameter ``p`` at ``k`` (config key ``p.key``, the cost model's ``variable``): its
    distribution's parameters, and samples that stay in the key's allowed range (one-line
    :class:`ConfigError`).  ``points``: a zero sd or equal bounds are a point (the uncertainty app);
    without, they are refused (the Sobol analysis needs a spread)."""
    value = OmegaConf.select(cfg, p.key)
    if p.relative and not is_finite(value):
        raise ConfigError(f"{k}.relative", True, f"{p.key} has no numeric value ({value}) to scale")
    scale = float(value) if p.relative else 1.0
    distribution = Distribution(p.distribution)
    if distribution == Distribution.normal:
        if not (is_finite(p.mean) and is_finite(p.sd) and (p.sd >= 0 if points else p.sd > 0)):
            raise ConfigError(f"{k}.sd", p.sd, "normal needs a mean and an sd >= 0 (0: a point)" if points
                              else "normal needs mean and sd > 0")
        # samples are truncated at mean ± 3 sd (uncertainty) or checked to three standard deviations (Sobol):
        # that reach must stay in the key's allowed range
        reach = [(p.mean - 3 * p.sd) * scale, (p.mean + 3 * p.sd) * scale]
        check_range(f"{k} (mean ± 3 sd)", p.key, variable, reach)
        return
    if p.bounds is None or len(p.bounds) != 2:
        raise ConfigError(f"{k}.bounds", p.bounds, "must be [low, high]")
    low, high = p.bounds
    if not (is_finite(low) and is_finite(high)) or (low > high if points else low >= high):
        raise ConfigError(f"{k}.bounds", list(p.bounds), "must be finite with low <= high (equal: a point)" if points
                          else "lower bound must be < upper bound")
    if distribution == Distribution.loguniform and low <= 0:
        raise ConfigError(f"{k}.bounds", list(p.bounds), "loguniform needs bounds > 0")
    if distribution == Distribution.triangular and p.mode is not None and not low <= p.mode <= high:
        raise ConfigError(f"{k}.mode", p.mode, f"must lie within the bounds [{low:g}, {high:g}]")
    check_range(f"{k}.bounds", p.key, variable, [low * scale, high * scale])


def check_range(where: str, key: str, variable: str, values: list[float]) -> None:
    """Refuse sampled values outside the range the key allows in the config (a negative price,
    an efficiency above 1): the analysis would otherwise evaluate impossible inputs."""
    try:
        check_parameter(key, variable, values)
    except ConfigError as err:
        raise ConfigError(where, values, f"reaches {key}={err.value:g}, outside its range: {err.allowed}") from None
