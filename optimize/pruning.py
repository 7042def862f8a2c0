"""Dominance pruning of the fleet MILP's candidate columns (docs/model.md §9).

:func:`prune_dominated` drops the columns that other columns of the same demand row, kind and
TTFT tier replace at no more cost (one column with no more systems and as many requests/s, one on
uncapped hardware with no more $/hour, or ``k >= 2`` copies of a cheaper one); the optimum is
unchanged.  Vectorized over groups (:func:`undominated`), pairwise within a group in blocks
(:func:`dominated_by_multiples`).
"""
from __future__ import annotations

import numpy as np

from optimize.columns import Columns
from optimize.constants import Phase
from optimize.milp import positions_by_key


def undominated(group: np.ndarray, size: np.ndarray, rps: np.ndarray,
                can_dominate: np.ndarray | None = None) -> np.ndarray:
    """Mask of the entries no other entry of their group dominates: no larger ``size`` and at
    least as many requests/s, and ``can_dominate`` (of equal pairs the first is kept).

    Sort each group by size (ascending), then requests/s (descending); an entry survives if it
    serves strictly more requests/s than every entry before it that may dominate.  Vectorized:
    a cumulative maximum over groups offset so that each group starts above all earlier ones
    (entries that may not dominate enter it just below their group's range).
    """
    if len(group) == 0:
        return np.zeros(0, dtype=bool)
    order = np.lexsort((-rps, size, group))
    g, r = group[order], rps[order]
    _, dense = np.unique(g, return_inverse=True)
    offset = dense * 2.0 * (r.max() + 1.0)
    value = r + offset
    feed = value if can_dominate is None else np.where(can_dominate[order], value, offset - 1.0)
    running = np.maximum.accumulate(feed)
    previous = np.concatenate([[-np.inf], running[:-1]])
    keep = np.zeros(len(group), dtype=bool)
    keep[order[value > previous]] = True
    return keep


def dominated_by_multiples(group: np.ndarray, cost: np.ndarray, rps: np.ndarray, hardware: np.ndarray,
                           uncapped_hardware: np.ndarray | None = None, block: int = 512) -> np.ndarray:
    """Mask of the entries that ``k >= 2`` copies of another entry of their group replace at no
    more cost: ``k = floor(cost_j / cost_i) >= 2`` and ``k * rps_i >= rps_j``, where i is on the
    same hardware as j (then ``k`` copies use no more systems) or on hardware without an
    inventory cap.  Dominance by strictly cheaper entries is acyclic, so every dominated entry
    can go at once.  Pairwise within each group, in blocks of ``block`` dominated entries."""
    drop = np.zeros(len(group), dtype=bool)
    if len(group) == 0:
        return drop
    free = np.zeros(int(hardware.max()) + 1, dtype=bool) if uncapped_hardware is None else \
        np.asarray(uncapped_hardware, dtype=bool)
    _, dense = np.unique(group, return_inverse=True)
    for idx in positions_by_key(dense, int(dense.max()) + 1):
        if len(idx) < 2:
            continue
        c, r, h = cost[idx], rps[idx], hardware[idx]
        for lo in range(0, len(idx), block):
            j = slice(lo, lo + block)
            k = np.floor(c[None, j] / c[:, None])
            may = free[h][:, None] | (h[:, None] == h[None, j])
            drop[idx[j]] = (may & (k >= 2) & (k * r[:, None] >= r[None, j])).any(0)
    return drop


def prune_dominated(cols: Columns, uncapped_hardware: np.ndarray | None = None) -> Columns:
    """Drop the columns that other columns replace at no more cost and no more capped inventory
    (of equal pairs the first is kept).

    1. Within a dominance group (:meth:`Columns.dominance_group`: one row, kind, hardware and
       TTFT tier): no more systems and at least as many requests/s.
    2. With ``uncapped_hardware`` (per hardware: no inventory cap), across hardware within one
       row, kind and tier: no more $/hour and at least as many requests/s, where only a column
       on uncapped hardware may dominate (replacing a column by it uses no capped inventory).
    3. Multiples (:func:`dominated_by_multiples`): ``k >= 2`` replicas of a cheaper column of the
       same row, kind and tier that cost no more and carry at least as much (same hardware, or
       uncapped hardware).  On the wafer, where any number of systems makes a replica, this
       drops most large replicas.

    A column of one kind and tier serves the same MILP rows as any other of that kind and tier
    in its row, with coefficients proportional to its requests/s, so a replacement serves every
    row at least as well; the optimum is unchanged.

    Parameters
    ----------
    cols
        Candidate columns.
    uncapped_hardware
        Per grid hardware: True where it has no inventory cap (default: all capped, so steps 2
        and 3 compare columns of one hardware only).

    Returns
    -------
    Columns
        The undominated columns, in their original order.
    """
    if len(cols) == 0:
        return cols
    cols = cols.take(undominated(cols.dominance_group(), cols.systems, cols.requests_per_second))
    n_tier = int(cols.tier.max()) + 1
    group = (cols.row.astype(np.int64) * len(Phase) + cols.kind) * n_tier + cols.tier
    if uncapped_hardware is not None:
        keep = undominated(group, cols.cost_per_hour, cols.requests_per_second,
                           np.asarray(uncapped_hardware)[cols.hardware])
        cols, group = cols.take(keep), group[keep]
    drop = dominated_by_multiples(group, cols.cost_per_hour, cols.requests_per_second, cols.hardware,
                                  uncapped_hardware)
    return cols.take(~drop)
