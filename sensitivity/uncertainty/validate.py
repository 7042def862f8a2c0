"""Value checks of the uncertainty app (one-line :class:`~model.errors.ConfigError`)."""
from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from model.errors import ConfigError
from model.overrides import override_target
from model.parameters import raw_parameters
from model.validate import check_fields, check_known
from sensitivity.sobol import is_integer
from sensitivity.uncertainty.schema import ErrorSpread
from sensitivity.validate import check_distribution, is_finite

SCENARIOS = {"uncertainty.n": (16, 65536), "uncertainty.robust.n": (16, 4096)}  # allowed range of each count
ALLOWED_KEYS = ("hardware.<name>.<numeric field>, models.<name>.<numeric field>, "
                "models.<name>.interactivity.<hardware>.tok_s, workload.osl, workload.price_sheet.<type>")


def check_scenarios(key: str, value: Any) -> None:
    """A scenario count: a power of two within :data:`SCENARIOS`' range for ``key``.

    Parameters
    ----------
    key
        ``uncertainty.n`` or ``uncertainty.robust.n``.
    value
        The count.
    """
    low, high = SCENARIOS[key]
    if not (is_integer(value) and low <= value <= high and value & (value - 1) == 0):
        raise ConfigError(key, value, f"must be a power of two from {low:,} to {high:,} (scrambled Sobol points)")


def validate_parameters(cfg: DictConfig) -> None:
    """Each declared distribution: a known key, a valid distribution, values in the key's range.

    Parameters
    ----------
    cfg
        An uncertainty config whose cost-model part is validated.
    """
    raw = raw_parameters(cfg)
    seen: dict[str, str] = {}
    for name, p in cfg.uncertainty.parameters.items():
        k = f"uncertainty.parameters.{name}"
        if p.key in ("workload.isl", "workload.concurrency", "sla.min_interactivity", "sla.max_ttft_s"):
            raise ConfigError(f"{k}.key", p.key, "not an uncertain input: the bands run over uncertainty.isl, "
                              "the cost at workload.concurrency and at the optimum, the SLA is the requirement")
        if p.key.startswith("workload.mix."):
            raise ConfigError(f"{k}.key", p.key, "sampling one token fraction breaks their sum to 1; sample "
                              "workload.osl, or sweep whole mixes with --multirun")
        try:
            variable = override_target(p.key, raw)[0]
        except ConfigError:
            raise ConfigError(f"{k}.key", p.key, f"unknown key; allowed: {ALLOWED_KEYS}") from None
        if not str(p.source).strip():
            raise ConfigError(f"{k}.source", p.source, "say where the range comes from (a catalog source, "
                              "docs/model.md, the seed), or that it is assumed")
        if p.key in seen:
            raise ConfigError(f"{k}.key", p.key, f"already declared by uncertainty.parameters.{seen[p.key]}")
        seen[p.key] = name
        check_distribution(cfg, k, p, variable, points=True)


def validate_uncertainty(cfg: DictConfig) -> None:
    """Value checks of ``uncertainty`` (one-line :class:`ConfigError`).

    Parameters
    ----------
    cfg
        A composed uncertainty config whose cost-model and fleet parts are validated.

    Raises
    ------
    ConfigError
        The first bad value, named by its dotted key.
    """
    u = cfg.uncertainty
    check_scenarios("uncertainty.n", u.n)
    if not (is_integer(u.seed) and u.seed >= 0):
        raise ConfigError("uncertainty.seed", u.seed, "must be a whole number >= 0")
    for value in u.isl:
        if not (is_integer(value) and value >= 1):
            raise ConfigError("uncertainty.isl", value, "each ISL must be a whole number of tokens >= 1")
    levels = list(u.quantiles)
    in_unit = all(is_finite(v) and 0 < v < 1 for v in levels)
    if len(levels) != 3 or not in_unit or not levels[0] < levels[1] < levels[2]:
        raise ConfigError("uncertainty.quantiles", levels, "must be three increasing levels in (0, 1): the lower "
                          "edge, the middle and the upper edge of the bands")
    hardware = list(cfg.select.hardware)
    if len(hardware) < 2:
        raise ConfigError("select.hardware", hardware, "compare at least two hardware types (win probabilities and "
                          "the price to beat are against the others)")
    e = u.model_error
    for factor in ("interactivity", "ttft"):
        check_fields(e[factor], ErrorSpread, f"uncertainty.model_error.{factor}")
    for name in e.hardware:
        check_known("uncertainty.model_error.hardware", name, cfg.hardware, "hardware")
    r = u.robust
    if not (is_finite(r.q) and 0 < r.q < 1):
        raise ConfigError("uncertainty.robust.q", r.q, "must be in (0, 1)")
    check_scenarios("uncertainty.robust.n", r.n)
    slas = list(u.price_to_beat.min_interactivity)
    if not slas:
        raise ConfigError("uncertainty.price_to_beat.min_interactivity", slas, "list at least one SLA (tok/s)")
    for value in slas:
        if not (is_finite(value) and value >= 0):
            raise ConfigError("uncertainty.price_to_beat.min_interactivity", value, "each must be a finite tok/s >= 0")
    for name in u.price_to_beat.hardware:
        if name not in hardware:
            raise ConfigError("uncertainty.price_to_beat.hardware", name,
                              f"not among select.hardware; allowed: {', '.join(hardware)}")
    validate_parameters(cfg)
