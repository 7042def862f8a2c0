"""Capacity tiers per hardware (docs/model.md §11): what a system-hour costs in each tier, how available
it is, and the power it draws.

- ``reserved``: committed for the whole horizon at ``price_per_hour``.  For GPUs that is the
  catalog's TCO per GPU-hour at the neocloud tier (SemiAnalysis InferenceX constants), read as
  the price of committed capacity; for the wafer it is the seed's $/system-hour, its capex
  amortized (owned hardware is a reserved tier only).  So a plan of reserved capacity costs what
  today's plan costs.
- ``on_demand``: bought per period at ``on_demand_price_per_hour`` (GPUs: the retail TCO tier of
  the same source; null for owned hardware: no such tier).
- ``spot``: bought per period at ``spot_price_per_hour``; a spot replica is up with probability
  ``spot_availability`` (both assumptions in the catalog, so spot is opt-in via ``fleet.tiers``).

**Spot rule (how the SLA survives spot loss): N+k.** A spot replica counts for
``spot_availability`` of its requests/s (its expected capacity), and a (demand row, period) that
holds spot replicas must still cover its demand x burst at the target utilization after losing
``fleet.spot_spare`` more replicas of its largest spot configuration than that expected share
(:mod:`optimize.periods`).  With availability 1 nothing is lost: spot is cheap on-demand.  The
replay (:mod:`optimize.replay`) measures the attainment this rule gives.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from omegaconf import DictConfig

from optimize.schema import CapacityTier

TIERS = [t.value for t in CapacityTier]
RESERVED, ON_DEMAND, SPOT = range(3)


@dataclass(frozen=True)
class TierPrices:
    """Per hardware (rows, in the grid's order) and tier (columns: reserved, on_demand, spot).

    Attributes
    ----------
    price
        $ per system-hour, NaN where the hardware has no such tier or the tier is not on offer.
    availability
        Per hardware: the share of its spot capacity that counts (1 for other tiers).
    power_kw
        Per hardware: kW per system at the wall (``power_kw x pue``), NaN where unknown.
    """

    price: np.ndarray
    availability: np.ndarray
    power_kw: np.ndarray

    def offered(self) -> np.ndarray:
        """(hardware, tier): whether the tier can be bought."""
        return np.isfinite(self.price)

    def only(self, tiers: Sequence[int], fallback_reserved: bool = False) -> TierPrices:
        """The same prices with only ``tiers`` on offer; with ``fallback_reserved`` hardware that
        has none of them keeps its reserved tier (owned hardware in an all-on-demand baseline)."""
        price = np.full_like(self.price, np.nan)
        price[:, list(tiers)] = self.price[:, list(tiers)]
        if fallback_reserved:
            none = ~np.isfinite(price).any(axis=1)
            price[none, RESERVED] = self.price[none, RESERVED]
        return TierPrices(price=price, availability=self.availability, power_kw=self.power_kw)


def tier_prices(cfg: DictConfig, hardware: Sequence[str]) -> TierPrices:
    """The :class:`TierPrices` of the config's catalog for ``hardware``, with ``fleet.tiers`` on offer.

    Parameters
    ----------
    cfg
        Validated optimizer config.
    hardware
        Hardware names (the grid's ``hardware`` coordinate).
    """
    wanted = {CapacityTier(t).value for t in cfg.fleet.tiers}
    price = np.full((len(hardware), len(TIERS)), np.nan)
    availability, power = np.ones(len(hardware)), np.full(len(hardware), np.nan)
    for i, name in enumerate(hardware):
        hw = cfg.hardware[name]
        values = [hw.price_per_hour, hw.get("on_demand_price_per_hour"), hw.get("spot_price_per_hour")]
        for k, tier in enumerate(TIERS):
            if tier in wanted and values[k] is not None:
                price[i, k] = float(values[k])
        if hw.get("spot_availability") is not None:
            availability[i] = float(hw.spot_availability)
        elif np.isfinite(price[i, SPOT]):
            price[i, SPOT] = np.nan  # a spot price without an availability is not a tier
        if hw.get("power_kw") is not None:
            power[i] = float(hw.power_kw) * float(cfg.fleet.pue)
    return TierPrices(price=price, availability=availability, power_kw=power)
