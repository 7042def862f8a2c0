"""Candidate columns of the fleet MILP: the replica configurations a plan may buy.

A column is one (model, ISL bucket, hardware, concurrency) cell of the evaluated grid that meets
its model's SLA, flattened into :class:`Columns` (pure numpy masking, no Python loop over cells).
:func:`prune_dominated` drops the columns that another column of their group beats on both
systems and requests/s; :func:`coverage` turns columns into the MILP's coverage coefficients.

Where new column kinds plug in (SPEC §9: ``prefill`` and ``decode`` columns beside today's
aggregated ones):

- a column knows the row it serves through the index array :attr:`Columns.row`, not through its
  (model, bucket) labels, so a kind may serve rows other than the demand rows (a prefill column
  serves its (model, bucket)'s prefill row);
- :meth:`Columns.dominance_group` is the group within which columns compare in
  :func:`prune_dominated`; columns of different kinds must not compare, so a kind enters the key;
- :func:`coverage` emits sparse (row, column, coefficient) triplets and the MILP
  (:func:`optimize.milp.build_model`) takes them as they are: a decode column adds a second
  entry drawing on its prefill row, a prefill column covers that row; the prefill rows join the
  demand rows with a right-hand side of 0.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import xarray as xr

from optimize.inputs import DemandRows
from optimize.milp import Coverage


@dataclass(frozen=True)
class Columns:
    """Candidate replica configurations, flattened: one entry per (model, bucket, hardware, N).

    Attributes
    ----------
    model, bucket, hardware
        Index into the grid's coordinate of the same name.
    concurrency
        Concurrency N (requests in flight per replica).
    row
        Index of the MILP row the column serves (its (model, bucket) demand row).
    requests_per_second, systems, cost_per_hour, interactivity
        Of one replica: requests/s at full use, systems occupied, $/hour, output tok/s per request.
    """

    model: np.ndarray
    bucket: np.ndarray
    hardware: np.ndarray
    concurrency: np.ndarray
    row: np.ndarray
    requests_per_second: np.ndarray
    systems: np.ndarray
    cost_per_hour: np.ndarray
    interactivity: np.ndarray

    def take(self, keep: np.ndarray) -> Columns:
        """The columns selected by a boolean mask or an index array."""
        return Columns(**{f.name: getattr(self, f.name)[keep] for f in fields(self)})

    def dominance_group(self) -> np.ndarray:
        """An integer key per column, equal for columns that may dominate one another:
        same row (model and bucket) and same hardware."""
        if len(self) == 0:
            return np.zeros(0, dtype=np.int64)
        return self.row * (self.hardware.max() + 1) + self.hardware

    def __len__(self) -> int:
        return len(self.model)


def candidate_columns(grid: xr.Dataset, rows: DemandRows) -> Columns:
    """Cells that meet the SLA for a (model, bucket) with demand, flattened (pure numpy masking).

    Parameters
    ----------
    grid
        A :func:`optimize.inputs.bucket_grid`.
    rows
        The demand rows (:func:`optimize.inputs.demand_rows`) of the same grid.

    Returns
    -------
    Columns
        In (model, bucket, hardware, concurrency) order.
    """
    g = grid.transpose("model", "bucket", "hardware", "concurrency")
    ok = g.meets_sla.values & (rows.row_of_cell >= 0)[:, :, None, None]
    m, b, h, n = np.nonzero(ok)
    return Columns(model=m, bucket=b, hardware=h, concurrency=g.concurrency.values[n],
                   row=rows.row_of_cell[m, b],
                   requests_per_second=g.requests_per_second.values[ok],
                   systems=g.systems.values[ok].astype(float),
                   cost_per_hour=g.cost_per_hour.values[ok],
                   interactivity=g.interactivity.values[ok])


def prune_dominated(cols: Columns) -> Columns:
    """Drop every column that another column of its dominance group dominates: no more systems
    and at least as many requests/s (of equal pairs the first is kept).

    Sort each group by systems (ascending), then requests/s (descending); a column survives if
    it serves strictly more requests/s than every column before it in its group.  Vectorized:
    a cumulative maximum over groups offset so that each group starts above all earlier ones.

    Parameters
    ----------
    cols
        Candidate columns.

    Returns
    -------
    Columns
        The undominated columns, in their original order.
    """
    if len(cols) == 0:
        return cols
    group = cols.dominance_group()
    order = np.lexsort((-cols.requests_per_second, cols.systems, group))
    g, rps = group[order], cols.requests_per_second[order]
    _, dense = np.unique(g, return_inverse=True)
    offset = dense * 2.0 * (rps.max() + 1.0)
    running = np.maximum.accumulate(rps + offset)
    previous = np.concatenate([[-np.inf], running[:-1]])
    first = np.concatenate([[True], g[1:] != g[:-1]])
    keep_sorted = first | (rps + offset > previous)
    keep = np.zeros(len(cols), dtype=bool)
    keep[order[keep_sorted]] = True
    return cols.take(keep)


def coverage(cols: Columns, target_utilization: float) -> Coverage:
    """The coverage coefficients of the columns in the MILP's covering rows.

    An aggregated column covers its own demand row by the requests/s it may carry at the target
    utilization.  New column kinds add their entries here (see the module docstring).

    Parameters
    ----------
    cols
        The columns of the MILP, in variable order.
    target_utilization
        Largest share of a replica's requests/s that demand may use.
    """
    return Coverage.one_row_per_column(cols.row, cols.requests_per_second * target_utilization)
