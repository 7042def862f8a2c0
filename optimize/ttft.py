"""The TTFT limit on disaggregated pairs (docs/model.md §9): which prefill column may feed which
decode column, as nested tiers.

A TTFT limit (``fleet.max_ttft_s``, else ``sla.max_ttft_s``) couples a prefill column to the
decode columns it may feed: p may feed d iff ``TTFT_p + a_p <= limit`` (a filter on p alone) and
``TTFT_p <= limit - a_d`` (``allowance_d``).  :func:`ttft_filter` drops the columns no partner
can use and ranks the rest in *tiers* per (model, bucket): the prefill columns' distinct TTFTs
``tau_1 < ... < tau_K``; a decode column's tier is the number of them within its allowance, a
prefill column's level the rank of its own.  p may feed d iff ``level_p <= tier_d``, so the sets
of usable prefill columns are nested and :class:`optimize.coverage.CoverageMatrix` makes the
coupling exact with one Hall row per decode tier present.  Without a limit there is one tier.
"""
from __future__ import annotations

from typing import Protocol, Self, TypeVar

import numpy as np

from optimize.constants import Phase
from optimize.milp import positions_by_key


class PairColumns(Protocol):
    """What the TTFT coupling reads of a set of columns (:class:`optimize.columns.Columns`, which
    imports this module: the coupling names no class of its own)."""

    row: np.ndarray
    ttft: np.ndarray
    t_kv: np.ndarray

    def take(self, keep: np.ndarray) -> Self: ...

    def assign(self, **values: np.ndarray) -> Self: ...

    def phase(self, kind: Phase) -> np.ndarray: ...

    def __len__(self) -> int: ...


Columns = TypeVar("Columns", bound=PairColumns)


def row_tiers(prefill_row: np.ndarray, prefill_ttft: np.ndarray, decode_row: np.ndarray,
              decode_allowance: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Per prefill column its level and per decode column its tier within its row (module
    docstring): with ``tau`` the row's sorted distinct prefill TTFTs, ``level = rank of TTFT_p``
    (1-based) and ``tier = #{tau <= allowance_d}``; p may feed d iff ``level_p <= tier_d``."""
    level = np.zeros(len(prefill_row), dtype=np.int64)
    tier = np.zeros(len(decode_row), dtype=np.int64)
    by_row_p, by_row_d = positions_by_key(prefill_row, n_rows), positions_by_key(decode_row, n_rows)
    for p, d in zip(by_row_p, by_row_d):
        if len(p) == 0:
            continue
        tau = np.unique(prefill_ttft[p])
        level[p] = np.searchsorted(tau, prefill_ttft[p], side="left") + 1
        tier[d] = np.searchsorted(tau, decode_allowance[d], side="right")
    return level, tier


def ttft_filter(prefill: Columns, decode: Columns, max_ttft_of_row: np.ndarray) -> tuple[Columns, Columns]:
    """Drop the disaggregated columns that no partner can use within the TTFT limit, and set
    their tiers (the pruning groups).

    A prefill column stays if ``TTFT_p + a_p <= limit`` and some decode column of its row has
    ``allowance_d = limit - a_d >= TTFT_p``; a decode column stays if some remaining prefill
    column of its row has ``TTFT_p <= allowance_d``.  Decode tiers are those of
    :func:`row_tiers`; a prefill column's tier is the least decode tier present that may use it,
    so that two prefill columns of one tier feed the same decode columns.

    Parameters
    ----------
    prefill, decode
        From :func:`disaggregated_columns`.
    max_ttft_of_row
        The TTFT limit of each demand row, s (``inf``: none).
    """
    n_rows = len(max_ttft_of_row)
    prefill = prefill.take(prefill.ttft + prefill.t_kv <= max_ttft_of_row[prefill.row])
    least = np.full(n_rows, np.inf)
    np.minimum.at(least, prefill.row, prefill.ttft)
    has_prefill = np.zeros(n_rows, dtype=bool)
    has_prefill[prefill.row] = True
    allowance = max_ttft_of_row[decode.row] - decode.t_kv
    keep_d = has_prefill[decode.row] & (allowance >= least[decode.row])
    decode, allowance = decode.take(keep_d), allowance[keep_d]
    most = np.full(n_rows, -np.inf)
    np.maximum.at(most, decode.row, allowance)
    keep_p = prefill.ttft <= most[prefill.row]
    prefill = prefill.take(keep_p)
    level, tier = row_tiers(prefill.row, prefill.ttft, decode.row, allowance, n_rows)
    # a prefill column's tier: the least decode tier of its row that it may feed (level_p <= tier;
    # one exists, as the row's decode column of most allowance may use it)
    span = int(tier.max(initial=0)) + 1
    present = np.unique(decode.row.astype(np.int64) * span + tier)  # sorted by (row, tier)
    key = prefill.row.astype(np.int64) * span + level
    prefill_tier = present[np.searchsorted(present, key)] % span if len(prefill) else level
    return prefill.assign(tier=prefill_tier), decode.assign(tier=tier)


def column_tiers(cols: PairColumns, max_ttft_of_row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column its prefill level and decode tier (:func:`row_tiers`; 0 for other kinds)."""
    pre, dec = np.flatnonzero(cols.phase(Phase.prefill)), np.flatnonzero(cols.phase(Phase.decode))
    allowance = max_ttft_of_row[cols.row[dec]] - cols.t_kv[dec]
    level, tier = row_tiers(cols.row[pre], cols.ttft[pre], cols.row[dec], allowance, len(max_ttft_of_row))
    level_of, tier_of = np.zeros(len(cols), dtype=np.int64), np.zeros(len(cols), dtype=np.int64)
    level_of[pre], tier_of[dec] = level, tier
    return level_of, tier_of
