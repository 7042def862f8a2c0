"""Candidate columns of the fleet MILP: the replica configurations a plan may buy (docs/model.md §5, §9).

A column is one (model, ISL bucket, hardware, concurrency) cell of the evaluated grid, of one of
three kinds (:class:`optimize.constants.Phase`): a row of the labelled table :class:`Columns`,
built once from the pre-masked cells (pure numpy masking, no Python loop over cells):

- ``aggregated``: a replica that prefills and decodes its own requests (docs/model.md §8), where the cell
  meets its model's SLA (interactivity and TTFT, ``meets_sla``), on hardware on offer;
- ``prefill``: a replica of the cell's size ``S_p`` (the systems that hold the cell's N requests)
  on prefill hardware, which only prefills and hands each request's KV to a decode replica.
  Requests/s ``min(pool_prefill_capacity, S_p * link_p / bytes)``: its compute
  (``pool_prefill_capacity``, ``1 / busy`` in physical mode at ``prefill_stack_speed``, ``N / t_pf``
  in ratio mode) or its KV link, whichever is slower;
- ``decode``: a replica at concurrency N on hardware on offer that only decodes.  Requests/s
  ``min(N / (O * step + t_kv), S_d * link_d / bytes)`` with ``t_kv = bytes / (S_d * link_d)``
  (the decode slot is held while the KV arrives); interactivity ``1 / step`` (no prefill
  interference), which must meet the model's SLA.

``bytes`` is one request's KV (``kv_bytes_per_request``), less the cached prefix's
(``prefix_kv_bytes``) when ``fleet.decode_keeps_prefix``; ``link`` is ``interconnect_gb_s`` per
system (hardware without it makes no disaggregated columns).

**TTFT** of a disaggregated request served by prefill column p and decode column d::

    TTFT = TTFT_p + max(a_p, a_d)           a_p = bytes / (S_p link_p), a_d = bytes / (S_d link_d)
    TTFT_p = t_pf + W_q                     t_pf = pool_prefill_time (share x overhead + busy, or L / R)
    W_q = u s / (2 (1 - u))                 s = 1 / capacity_p, u = fleet.target_utilization

The KV moves at the slower of the two links, so the transfer takes ``max(a_p, a_d)``.  ``W_q``
is the Pollaczek–Khinchine mean wait of an M/D/1 queue (Poisson arrivals, deterministic
service ``s``) at utilization ``u``, the most load the plan lets a replica carry.  The prefill
replica is a tandem of its compute and its link; for deterministic servers in tandem the wait is
that of the slowest stage alone, whose service time is ``s = 1 / capacity_p``.  In ratio mode a
replica prefills N requests at once; treating it as one server N times as fast gives the
``s = t_pf / N`` above, which bounds the wait of N parallel servers from above.

The TTFT limit on pairs is :mod:`optimize.ttft`, the dominance pruning :mod:`optimize.pruning`;
the coverage matrix the MILP, the plan and the robust check read is :mod:`optimize.coverage`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from model import serving
from optimize.constants import PHASE_CODE, Phase
from optimize.inputs import ColumnOptions, DemandRows
from optimize.ttft import ttft_filter

AGGREGATED, PREFILL, DECODE = (PHASE_CODE[p] for p in Phase)
PHASES = [p.value for p in Phase]
CELL_ORDER = ("model", "bucket", "hardware", "concurrency")


LABELS = ("model", "bucket_isl", "phase", "hardware", "concurrency")  # the table's index, the plan's order
VALUES = ("row", "requests_per_second", "systems", "cost_per_hour", "interactivity", "ttft", "t_kv", "tier")


class TableColumn:
    """A column of :attr:`Columns.table` read as a numpy array (``cols.systems``)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Columns, owner: type | None = None) -> np.ndarray:
        return obj.table[self.name].to_numpy()


class LabelCodes:
    """The codes of one label of :attr:`Columns.table`'s index: each column's position in the grid's
    coordinate (``cols.model``, ``cols.hardware``)."""

    def __init__(self, label: str) -> None:
        self.position = LABELS.index(label)

    def __get__(self, obj: Columns, owner: type | None = None) -> np.ndarray:
        return obj.table.index.codes[self.position].astype(np.int64)


@dataclass(frozen=True)
class Columns:
    """Candidate replica configurations: a table with one row per (model, bucket_isl, phase,
    hardware, concurrency), built once from the grid's pre-masked cells (:func:`flatten`).

    The index (:data:`LABELS`) is a ``pandas.MultiIndex`` whose levels are the grid's whole
    coordinates (and the phases, in :class:`optimize.constants.Phase` order), so that its codes
    are the cells' grid positions: the numpy steps (pruning, coverage, the MILP) read the codes,
    the plan table reads the labels, and nothing is flattened or rebuilt in between.

    Columns of :attr:`table` (:data:`VALUES`)
    ------------------------------------------
    row
        Index of the demand row of the column's (model, bucket).
    requests_per_second, systems, cost_per_hour, interactivity
        Of one replica: requests/s at full use (its capacity), systems occupied, $/hour,
        output tok/s per request (``1 / step`` for decode, NaN for prefill columns).
    ttft
        Aggregated: the cell's TTFT (s).  Prefill: ``TTFT_p``, its own part of a request's TTFT
        (prefill time and queueing wait).  Decode: NaN (the TTFT depends on the prefill partner).
    t_kv
        Disaggregated: the seconds this side's link takes to move one request's KV (``a_p`` or
        ``a_d``); aggregated: NaN.
    tier
        The TTFT tier (decode) or level (prefill) of :func:`optimize.ttft.ttft_filter`, the
        pruning group.

    A physical-mode prefill column's ``concurrency`` is the grid level it was read at; its
    capacity does not depend on N (it stands for the replica size ``systems`` of the cell).
    """

    table: pd.DataFrame
    model = LabelCodes("model")
    bucket = LabelCodes("bucket_isl")
    kind = LabelCodes("phase")  # the PHASE_CODE of each column's phase
    hardware = LabelCodes("hardware")
    row = TableColumn()
    requests_per_second = TableColumn()
    systems = TableColumn()
    cost_per_hour = TableColumn()
    interactivity = TableColumn()
    ttft = TableColumn()
    t_kv = TableColumn()
    tier = TableColumn()

    @classmethod
    def from_codes(cls, levels: Mapping[str, Sequence[Any]], codes: Mapping[str, np.ndarray],
                   values: Mapping[str, np.ndarray]) -> Columns:
        """The table of columns at ``codes`` (positions into ``levels``, per label of
        :data:`LABELS`) with ``values`` (per name of :data:`VALUES`; ``ttft``, ``t_kv`` default
        to NaN, ``tier`` to 0)."""
        n = len(codes["model"])
        defaults = {"ttft": np.full(n, np.nan), "t_kv": np.full(n, np.nan), "tier": np.zeros(n, dtype=np.int64)}
        index = pd.MultiIndex(levels=[list(levels[k]) for k in LABELS],
                              codes=[np.asarray(codes[k], dtype=np.int64) for k in LABELS], names=list(LABELS),
                              verify_integrity=False)
        data = {k: np.asarray(values[k]) if k in values else defaults[k] for k in VALUES}
        return cls(pd.DataFrame(data, index=index))

    @classmethod
    def from_arrays(cls, *, model: np.ndarray, bucket: np.ndarray, hardware: np.ndarray, concurrency: np.ndarray,
                    kind: np.ndarray | None = None, levels: Mapping[str, Sequence[Any]] | None = None,
                    **values: np.ndarray) -> Columns:
        """Columns of grid positions ``model``, ``bucket``, ``hardware``, phase code ``kind``
        (default: aggregated) and concurrency values, labelled by ``levels`` (per label; by
        default the positions themselves): a table without a grid, e.g. a worked example."""
        n = len(model)
        kind = np.full(n, AGGREGATED, dtype=np.int64) if kind is None else kind
        levels_n, codes_n = np.unique(np.asarray(concurrency), return_inverse=True)

        def positions(codes: np.ndarray) -> range:
            return range(int(np.max(codes, initial=0)) + 1)

        levels = {"model": positions(model), "bucket_isl": positions(bucket), "phase": PHASES,
                  "hardware": positions(hardware), "concurrency": levels_n, **(levels or {})}
        codes = {"model": model, "bucket_isl": bucket, "phase": kind, "hardware": hardware, "concurrency": codes_n}
        return cls.from_codes(levels, codes, values)

    @property
    def concurrency(self) -> np.ndarray:
        """Per column: concurrency N (requests in flight per replica)."""
        return self.table.index.get_level_values("concurrency").to_numpy()

    def labels(self) -> pd.DataFrame:
        """The columns' labels (:data:`LABELS`) as a frame, one row per column."""
        return self.table.index.to_frame(index=False)

    def take(self, keep: np.ndarray) -> Columns:
        """The columns selected by a boolean mask or an index array."""
        return Columns(self.table.iloc[keep])

    def assign(self, **values: np.ndarray) -> Columns:
        """The columns with some :data:`VALUES` replaced."""
        return Columns(self.table.assign(**values))

    def relabel(self, label: str, names: Sequence[Any], codes: np.ndarray) -> Columns:
        """The columns with one label's level replaced by ``names`` and its codes by ``codes``."""
        index = self.table.index.set_levels(list(names), level=label, verify_integrity=False)
        index = index.set_codes(np.asarray(codes, dtype=np.int64), level=label, verify_integrity=False)
        return Columns(self.table.set_axis(index, axis=0))

    def dominance_group(self) -> np.ndarray:
        """An integer key per column, equal for columns that may dominate one another: same row
        (model and bucket), kind, hardware and TTFT tier."""
        if len(self) == 0:
            return np.zeros(0, dtype=np.int64)
        n_hw, n_tier = int(self.hardware.max()) + 1, int(self.tier.max()) + 1
        key = (self.row.astype(np.int64) * len(Phase) + self.kind) * n_hw + self.hardware
        return key * n_tier + self.tier

    def phase(self, kind: Phase) -> np.ndarray:
        """Boolean mask of the columns of one phase."""
        return self.kind == PHASE_CODE[kind]

    def __len__(self) -> int:
        return len(self.table)


def concat(*parts: Columns) -> Columns:
    """The columns of ``parts``, one after the other (each label's level: the first part's,
    then the labels the others add, so that every column keeps its labels)."""
    levels, codes = {}, {}
    for i, label in enumerate(LABELS):
        level = parts[0].table.index.levels[i]
        for p in parts[1:]:
            level = level.append(p.table.index.levels[i].difference(level, sort=False))
        levels[label] = level
        codes[label] = np.concatenate([level.get_indexer(p.table.index.levels[i])[p.table.index.codes[i]]
                                       if len(p) else np.zeros(0, dtype=np.int64) for p in parts])
    values = {k: np.concatenate([p.table[k].to_numpy() for p in parts]) for k in VALUES}
    return Columns.from_codes(levels, codes, values)


def cells(grid: xr.Dataset, name: str) -> np.ndarray:
    """A grid variable as a numpy array on (model, bucket, hardware, concurrency), broadcast
    where it has fewer dims (the light terms: KV bytes per request, OSL)."""
    var = grid[name]
    if set(var.dims) != set(CELL_ORDER):
        var = var.broadcast_like(grid.systems)
    return var.transpose(*CELL_ORDER).values


def grid_levels(grid: xr.Dataset) -> dict[str, Sequence[Any]]:
    """The levels of a grid's columns: its coordinates, by label of :data:`LABELS`."""
    return {"model": grid.model.values, "bucket_isl": grid.bucket_isl.values, "phase": PHASES,
            "hardware": grid.hardware.values, "concurrency": grid.concurrency.values}


def flatten(grid: xr.Dataset, rows: DemandRows, ok: np.ndarray, kind: int, values: dict[str, np.ndarray]) -> Columns:
    """The cells where ``ok`` holds as columns of one kind (values: 4-d arrays by field name)."""
    m, b, h, n = np.nonzero(ok)
    codes = {"model": m, "bucket_isl": b, "phase": np.full(len(m), kind), "hardware": h, "concurrency": n}
    return Columns.from_codes(grid_levels(grid), codes, {
        "row": rows.row_of_cell[m, b], "requests_per_second": values["requests_per_second"][ok],
        "systems": cells(grid, "systems")[ok].astype(float), "cost_per_hour": cells(grid, "cost_per_hour")[ok],
        "interactivity": values["interactivity"][ok], "ttft": values["ttft"][ok], "t_kv": values["t_kv"][ok]})


def aggregated_columns(grid: xr.Dataset, rows: DemandRows, options: ColumnOptions | None = None) -> Columns:
    """Cells on hardware on offer that meet the SLA (``meets_sla``) and their model's TTFT limit
    for a (model, bucket) with demand.

    Parameters
    ----------
    grid
        A :func:`optimize.inputs.bucket_grid`.
    rows
        Its demand rows (:func:`optimize.inputs.demand_rows`).
    options
        Which hardware is on offer (default: all of the grid's).
    """
    options = ColumnOptions.aggregated_only(grid) if options is None else options
    ok = cells(grid, "meets_sla") & (rows.row_of_cell >= 0)[:, :, None, None] & options.offered[None, None, :, None]
    nan = np.full(ok.shape, np.nan)
    ttft = (at_sla_percentile(grid, options.sla_quantile, options.physical, options.data_parallel)[1]
            if "ttft" in grid else nan)
    if np.isfinite(options.max_ttft).any():
        ok &= ttft <= options.max_ttft[:, None, None, None]
    return flatten(grid, rows, ok, AGGREGATED, {"requests_per_second": cells(grid, "requests_per_second"),
                                                 "interactivity": cells(grid, "interactivity"), "ttft": ttft,
                                                 "t_kv": nan})


def at_sla_percentile(grid: xr.Dataset, quantile: float, physical: np.ndarray | None,
                      data_parallel: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Interactivity and TTFT of every aggregated cell at ``sla.percentile`` (docs/model.md §10), as
    the kernel's ``meets_sla`` judges them (:func:`model.equations.at_percentile`): the TTFT adds
    ``(2q - 1)`` times the mean wait behind the other prefills (and, where the hardware runs
    attention-DP, for its round of ranks, :func:`model.serving.rank_balance_wait`), the TPOT
    ``z_q b sqrt(lam) / O`` for the prefills interrupting a decode.  ``physical`` and
    ``data_parallel`` say per grid hardware whether it has a prefill queue and whether it runs
    attention-DP (``ColumnOptions``); cells in ratio mode, and p50, keep their values."""
    interactivity, ttft = cells(grid, "interactivity"), cells(grid, "ttft")
    q = quantile
    if q <= 0.5 or physical is None:
        return interactivity, ttft
    with np.errstate(divide="ignore", invalid="ignore"):
        busy = 1.0 / cells(grid, "prefill_capacity")
        n = cells(grid, "admitted_requests").astype(float)
        queue = busy * (n - 1.0) * busy / (2.0 * n / cells(grid, "requests_per_second"))
        request_time = n / cells(grid, "requests_per_second")
        if data_parallel is not None and data_parallel.any():  # the wait for a round of ranks is a queue too
            ranks = np.where(data_parallel[None, None, :, None], cells(grid, "systems"), 1.0)
            queue = queue + serving.rank_balance_wait(ranks, n / request_time, n)
        tpot = serving.tpot_percentile(1.0 / interactivity, busy, serving.interruptions(n, busy, request_time),
                                       cells(grid, "osl"), q)
        spread = physical[None, None, :, None]
        return (np.where(spread, 1.0 / tpot, interactivity),
                np.where(spread, serving.ttft_percentile(ttft, queue, q), ttft))


def transfer_bytes(grid: xr.Dataset, options: ColumnOptions) -> np.ndarray:
    """Bytes of KV one disaggregated request moves, per cell: its context's KV, less the cached
    prefix's when the decode side keeps it."""
    kv = cells(grid, "kv_bytes_per_request")
    return kv - cells(grid, "prefix_kv_bytes") if options.decode_keeps_prefix else kv


def disaggregated_cells(grid: xr.Dataset, options: ColumnOptions) -> dict[str, np.ndarray]:
    """Per cell (model, bucket, hardware, concurrency) the numbers of a prefill and a decode
    column at that cell, unmasked (NaN where the hardware has no link or the cell is infeasible).

    Returns
    -------
    dict of numpy.ndarray
        ``link_time`` (``a``, s: this cell's replica moves one request's KV), ``prefill_rate``
        and ``prefill_ttft`` (requests/s and ``TTFT_p`` of a prefill replica), ``decode_rate``
        and ``decode_interactivity`` (requests/s and tok/s of a decode replica).
    """
    link = options.link_bytes_per_s
    systems = cells(grid, "systems").astype(float)
    moved = transfer_bytes(grid, options)
    with np.errstate(divide="ignore", invalid="ignore"):
        link_time = moved / (systems * link[None, None, :, None])  # a = bytes / (S * link)
    # the same function model.calibration predicts the disaggregated benchmark runs with
    # a prefill replica as a disaggregated pool runs it (docs/model.md §10: its stack's speed and latency share)
    c = serving.plan_columns(cells(grid, "step_time"), cells(grid, "pool_prefill_time"),
                             cells(grid, "pool_prefill_capacity"),
                             link_time, cells(grid, "osl"), cells(grid, "admitted_requests").astype(float),
                             options.target_utilization, options.sla_quantile)
    return {"link_time": link_time, **c}


def disaggregated_columns(grid: xr.Dataset, rows: DemandRows, options: ColumnOptions) -> tuple[Columns, Columns]:
    """The prefill and decode columns of every (model, bucket) with demand, before any TTFT
    limit (see the module docstring for their requests/s and TTFT).

    Parameters
    ----------
    grid
        A :func:`optimize.inputs.bucket_grid` (with ``step_time``, ``prefill_time``,
        ``prefill_capacity``, ``admitted_requests`` and the light KV terms).
    rows
        Its demand rows.
    options
        Which hardware prefills and decodes, the links, SLA and utilization.

    Returns
    -------
    tuple of Columns
        Prefill columns (``ttft`` = ``TTFT_p``, ``t_kv`` = ``a_p``) and decode columns
        (``t_kv`` = ``a_d``), each in (model, bucket, hardware, concurrency) order.
    """
    link = options.link_bytes_per_s
    wanted_p, wanted_d = options.prefill & np.isfinite(link), options.offered & np.isfinite(link)
    if not (wanted_p.any() and wanted_d.any()):  # no link on one side: no disaggregated pair
        shape = tuple(grid.sizes[d] for d in CELL_ORDER)
        none = {k: np.zeros(shape) for k in ("requests_per_second", "interactivity", "ttft", "t_kv")}
        empty = np.zeros(shape, dtype=bool)
        return flatten(grid, rows, empty, PREFILL, none), flatten(grid, rows, empty, DECODE, none)
    c = disaggregated_cells(grid, options)
    base = cells(grid, "feasible") & (rows.row_of_cell >= 0)[:, :, None, None]
    ok_p = base & wanted_p[None, None, :, None] & np.isfinite(c["prefill_rate"]) & (c["prefill_rate"] > 0)
    meets = c["decode_interactivity"] >= options.min_interactivity[:, None, None, None]
    ok_d = (base & wanted_d[None, None, :, None] & meets & np.isfinite(c["decode_rate"])
            & (c["decode_rate"] > 0))
    nan = np.full(ok_p.shape, np.nan)
    prefill = flatten(grid, rows, ok_p, PREFILL, {"requests_per_second": c["prefill_rate"], "interactivity": nan,
                                                   "ttft": c["prefill_ttft"], "t_kv": c["link_time"]})
    decode = flatten(grid, rows, ok_d, DECODE, {"requests_per_second": c["decode_rate"],
                                                 "interactivity": c["decode_interactivity"], "ttft": nan,
                                                 "t_kv": c["link_time"]})
    return prefill, decode


def candidate_columns(grid: xr.Dataset, rows: DemandRows, options: ColumnOptions | None = None) -> Columns:
    """Every candidate column: aggregated, then prefill and decode (after :func:`ttft_filter`).

    Parameters
    ----------
    grid, rows
        As :func:`aggregated_columns`.
    options
        :func:`optimize.inputs.column_options` (default: aggregated columns on every grid hardware).

    Returns
    -------
    Columns
        Aggregated columns, then prefill, then decode, each in (model, bucket, hardware,
        concurrency) order.
    """
    options = ColumnOptions.aggregated_only(grid) if options is None else options
    aggregated = aggregated_columns(grid, rows, options)
    if not options.prefill.any():
        return aggregated
    prefill, decode = disaggregated_columns(grid, rows, options)
    prefill, decode = ttft_filter(prefill, decode, options.max_ttft[rows.model])
    return concat(aggregated, prefill, decode)
