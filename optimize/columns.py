"""Candidate columns of the fleet MILP: the replica configurations a plan may buy (docs/model.md §5, §9).

A column is one (model, ISL bucket, hardware, concurrency) cell of the evaluated grid, of one of
three kinds (:class:`optimize.constants.Phase`), flattened into :class:`Columns` (pure numpy
masking, no Python loop over cells):

- ``aggregated``: a replica that prefills and decodes its own requests (docs/model.md §8), where the cell
  meets its model's SLA (interactivity and TTFT, ``meets_sla``), on hardware on offer;
- ``prefill``: a replica of the cell's size ``S_p`` (the systems that hold the cell's N requests)
  on prefill hardware, which only prefills and hands each request's KV to a decode replica.
  Requests/s ``min(prefill_capacity, S_p * link_p / bytes)``: its compute (``prefill_capacity``,
  ``1 / busy`` in physical mode, ``N / t_pf`` in ratio mode) or its KV link, whichever is slower;
- ``decode``: a replica at concurrency N on hardware on offer that only decodes.  Requests/s
  ``min(N / (O * step + t_kv), S_d * link_d / bytes)`` with ``t_kv = bytes / (S_d * link_d)``
  (the decode slot is held while the KV arrives); interactivity ``1 / step`` (no prefill
  interference), which must meet the model's SLA.

``bytes`` is one request's KV (``kv_bytes_per_request``), less the cached prefix's
(``prefix_kv_bytes``) when ``fleet.decode_keeps_prefix``; ``link`` is ``interconnect_gb_s`` per
system (hardware without it makes no disaggregated columns).

**TTFT** of a disaggregated request served by prefill column p and decode column d::

    TTFT = TTFT_p + max(a_p, a_d)           a_p = bytes / (S_p link_p), a_d = bytes / (S_d link_d)
    TTFT_p = t_pf + W_q                     t_pf = prefill_time (overhead + busy, or L / R)
    W_q = u s / (2 (1 - u))                 s = 1 / capacity_p, u = fleet.target_utilization

The KV moves at the slower of the two links, so the transfer takes ``max(a_p, a_d)``.  ``W_q``
is the Pollaczek–Khinchine mean wait of an M/D/1 queue (Poisson arrivals, deterministic
service ``s``) at utilization ``u``, the most load the plan lets a replica carry.  The prefill
replica is a tandem of its compute and its link; for deterministic servers in tandem the wait is
that of the slowest stage alone, whose service time is ``s = 1 / capacity_p``.  In ratio mode a
replica prefills N requests at once; treating it as one server N times as fast gives the
``s = t_pf / N`` above, which bounds the wait of N parallel servers from above.

A TTFT limit (``fleet.max_ttft_s``, else ``sla.max_ttft_s``) couples a prefill column to the
decode columns it may feed: p may feed d iff ``TTFT_p + a_p <= limit`` (a filter on p alone) and
``TTFT_p <= limit - a_d`` (``allowance_d``).  :func:`ttft_filter` drops the columns no partner
can use and ranks the rest in *tiers* per (model, bucket): the prefill columns' distinct TTFTs
``tau_1 < ... < tau_K``; a decode column's tier is the number of them within its allowance, a
prefill column's level the rank of its own.  p may feed d iff ``level_p <= tier_d``, so the sets
of usable prefill columns are nested and :func:`covering` makes the coupling exact with one
Hall row per decode tier present.  Without a limit there is one tier.

Other pieces: :func:`prune_dominated` drops the columns that other columns of the same row,
kind and tier replace at no more cost (one column with no more systems and as many requests/s,
one on uncapped hardware with no more $/hour, or ``k >= 2`` copies of a cheaper one); :func:`covering` turns
columns into the MILP's sparse coverage triplets, with one continuous flow variable per
(row, decode tier): the requests/s of that tier's decode columns that are served.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import xarray as xr

from model import serving
from optimize.constants import PHASE_CODE, Phase
from optimize.inputs import ColumnOptions, DemandRows
from optimize.milp import Coverage

AGGREGATED, PREFILL, DECODE = (PHASE_CODE[p] for p in Phase)
CELL_ORDER = ("model", "bucket", "hardware", "concurrency")


@dataclass(frozen=True)
class Columns:
    """Candidate replica configurations, flattened: one entry per (model, bucket, hardware, N, kind).

    Attributes
    ----------
    model, bucket, hardware
        Index into the grid's coordinate of the same name.
    concurrency
        Concurrency N (requests in flight per replica); a physical-mode prefill column stands
        for the replica size ``systems`` of the cell, whose capacity does not depend on N.
    row
        Index of the demand row of the column's (model, bucket).
    requests_per_second, systems, cost_per_hour, interactivity
        Of one replica: requests/s at full use (its capacity), systems occupied, $/hour,
        output tok/s per request (``1 / step`` for decode, NaN for prefill columns).
    kind
        :data:`optimize.constants.PHASE_CODE` of the column's phase (default: aggregated).
    ttft
        Aggregated: the cell's TTFT (s).  Prefill: ``TTFT_p``, its own part of a request's TTFT
        (prefill time and queueing wait).  Decode: NaN (the TTFT depends on the prefill partner).
    t_kv
        Disaggregated: the seconds this side's link takes to move one request's KV (``a_p`` or
        ``a_d``); aggregated: NaN.
    tier
        The TTFT tier (decode) or level (prefill) of :func:`ttft_filter`, the pruning group.
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
    kind: np.ndarray | None = None
    ttft: np.ndarray | None = None
    t_kv: np.ndarray | None = None
    tier: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.model)
        defaults = {"kind": np.full(n, AGGREGATED, dtype=np.int8), "ttft": np.full(n, np.nan),
                    "t_kv": np.full(n, np.nan), "tier": np.zeros(n, dtype=np.int64)}
        for name, value in defaults.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)

    def take(self, keep: np.ndarray) -> Columns:
        """The columns selected by a boolean mask or an index array."""
        return Columns(**{f.name: getattr(self, f.name)[keep] for f in fields(self)})

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
        return len(self.model)


def concat(*parts: Columns) -> Columns:
    """The columns of ``parts``, one after the other."""
    return Columns(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Columns)})


def cells(grid: xr.Dataset, name: str) -> np.ndarray:
    """A grid variable as a numpy array on (model, bucket, hardware, concurrency), broadcast
    where it has fewer dims (the light terms: KV bytes per request, OSL)."""
    var = grid[name]
    if set(var.dims) != set(CELL_ORDER):
        var = var.broadcast_like(grid.systems)
    return var.transpose(*CELL_ORDER).values


def positions_by_key(keys: np.ndarray, n_keys: int) -> list[np.ndarray]:
    """Positions of each key value ``0 .. n_keys - 1`` in ``keys``, in their original order."""
    order = np.argsort(keys, kind="stable")
    edges = np.searchsorted(keys[order], np.arange(n_keys + 1))
    return [order[edges[i]:edges[i + 1]] for i in range(n_keys)]


def _flatten(grid: xr.Dataset, rows: DemandRows, ok: np.ndarray, kind: int, values: dict[str, np.ndarray]) -> Columns:
    """The cells where ``ok`` holds as columns of one kind (values: 4-d arrays by field name)."""
    m, b, h, n = np.nonzero(ok)
    levels = grid.concurrency.values
    return Columns(model=m, bucket=b, hardware=h, concurrency=levels[n], row=rows.row_of_cell[m, b],
                   requests_per_second=values["requests_per_second"][ok],
                   systems=cells(grid, "systems")[ok].astype(float),
                   cost_per_hour=cells(grid, "cost_per_hour")[ok],
                   interactivity=values["interactivity"][ok], kind=np.full(len(m), kind, dtype=np.int8),
                   ttft=values["ttft"][ok], t_kv=values["t_kv"][ok], tier=np.zeros(len(m), dtype=np.int64))


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
    ttft = at_sla_percentile(grid, options.sla_quantile, options.physical)[1] if "ttft" in grid else nan
    if np.isfinite(options.max_ttft).any():
        ok &= ttft <= options.max_ttft[:, None, None, None]
    return _flatten(grid, rows, ok, AGGREGATED, {"requests_per_second": cells(grid, "requests_per_second"),
                                                 "interactivity": cells(grid, "interactivity"), "ttft": ttft,
                                                 "t_kv": nan})


def at_sla_percentile(grid: xr.Dataset, quantile: float,
                      physical: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Interactivity and TTFT of every aggregated cell at ``sla.percentile`` (docs/model.md §10), as
    the kernel's ``meets_sla`` judges them (:func:`model.equations.at_percentile`): the TTFT adds
    ``(2q - 1)`` times the mean wait behind the other prefills, the TPOT ``z_q b sqrt(lam) / O``
    for the prefills interrupting a decode.  ``physical`` says per grid hardware whether it has a
    prefill queue (``ColumnOptions.physical``); cells in ratio mode, and p50, keep their values."""
    interactivity, ttft = cells(grid, "interactivity"), cells(grid, "ttft")
    q = quantile
    if q <= 0.5 or physical is None:
        return interactivity, ttft
    with np.errstate(divide="ignore", invalid="ignore"):
        busy = 1.0 / cells(grid, "prefill_capacity")
        n = cells(grid, "admitted_requests").astype(float)
        queue = busy * (n - 1.0) * busy / (2.0 * n / cells(grid, "requests_per_second"))
        request_time = n / cells(grid, "requests_per_second")
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
    c = serving.plan_columns(cells(grid, "step_time"), cells(grid, "prefill_time"), cells(grid, "prefill_capacity"),
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
        return _flatten(grid, rows, empty, PREFILL, none), _flatten(grid, rows, empty, DECODE, none)
    c = disaggregated_cells(grid, options)
    base = cells(grid, "feasible") & (rows.row_of_cell >= 0)[:, :, None, None]
    ok_p = base & wanted_p[None, None, :, None] & np.isfinite(c["prefill_rate"]) & (c["prefill_rate"] > 0)
    meets = c["decode_interactivity"] >= options.min_interactivity[:, None, None, None]
    ok_d = (base & wanted_d[None, None, :, None] & meets & np.isfinite(c["decode_rate"])
            & (c["decode_rate"] > 0))
    nan = np.full(ok_p.shape, np.nan)
    prefill = _flatten(grid, rows, ok_p, PREFILL, {"requests_per_second": c["prefill_rate"], "interactivity": nan,
                                                   "ttft": c["prefill_ttft"], "t_kv": c["link_time"]})
    decode = _flatten(grid, rows, ok_d, DECODE, {"requests_per_second": c["decode_rate"],
                                                 "interactivity": c["decode_interactivity"], "ttft": nan,
                                                 "t_kv": c["link_time"]})
    return prefill, decode


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
    return replace(prefill, tier=prefill_tier), replace(decode, tier=tier)


def candidate_columns(grid: xr.Dataset, rows: DemandRows, options: ColumnOptions | None = None) -> Columns:
    """Every candidate column: aggregated, then prefill and decode (after :func:`ttft_filter`).

    Parameters
    ----------
    grid
        A :func:`optimize.inputs.bucket_grid`.
    rows
        Its demand rows (:func:`optimize.inputs.demand_rows`).
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


@dataclass(frozen=True)
class Covering:
    """The covering rows of the MILP over its columns and flow variables.

    Rows: the ``R`` demand rows, then one capacity row per flow, then one Hall row per flow.
    Variables: the columns (integer replicas), then the flows (continuous requests/s).

    Attributes
    ----------
    coverage
        Sparse (row, variable, coefficient) triplets.
    demand
        Right-hand side per row: requests/s of the demand rows, 0 for the others.
    flows
        Number of flow variables, one per (demand row, decode tier present).
    flow_row, flow_tier
        Per flow: its demand row and decode tier.
    """

    coverage: Coverage
    demand: np.ndarray
    flows: int
    flow_row: np.ndarray
    flow_tier: np.ndarray


def _expand(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges ``[starts[i], ends[i])``: (i, position) for every position of every range."""
    counts = np.maximum(ends - starts, 0)
    owner = np.repeat(np.arange(len(starts)), counts)
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, np.repeat(starts, counts) + within


def column_tiers(cols: Columns, max_ttft_of_row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column its prefill level and decode tier (:func:`row_tiers`; 0 for other kinds)."""
    pre, dec = np.flatnonzero(cols.phase(Phase.prefill)), np.flatnonzero(cols.phase(Phase.decode))
    allowance = max_ttft_of_row[cols.row[dec]] - cols.t_kv[dec]
    level, tier = row_tiers(cols.row[pre], cols.ttft[pre], cols.row[dec], allowance, len(max_ttft_of_row))
    level_of, tier_of = np.zeros(len(cols), dtype=np.int64), np.zeros(len(cols), dtype=np.int64)
    level_of[pre], tier_of[dec] = level, tier
    return level_of, tier_of


def covering(cols: Columns, target_utilization: float, demand: np.ndarray,
             max_ttft_of_row: np.ndarray | None = None) -> Covering:
    """The MILP's covering rows (docs/model.md §9), with ``x`` the replicas, ``z`` the flows, ``u`` the
    target utilization and ``c`` a replica's requests/s::

        demand row r:            Σ_agg c u x + Σ_{tiers t of r} z_rt      >= demand_r
        capacity row (r, t):     Σ_{decode d of tier t} c_d u x_d - z_rt  >= 0
        Hall row (r, t):         Σ_{prefill p, level_p <= t} c_p u y_p - Σ_{t' <= t} z_rt' >= 0

    The flow ``z_rt`` is the requests/s the decode columns of tier t serve; prefill capacity
    must cover the flows of every set of tiers it may feed (Hall's condition, which for nested
    sets needs only the prefixes).  Decode capacity bought beyond what demand needs draws no
    prefill capacity.  With aggregated columns only this is one row per demand row.

    Parameters
    ----------
    cols
        The columns of the MILP, in variable order.
    target_utilization
        Largest share of a replica's requests/s that demand may use.
    demand
        Requests/s per demand row.
    max_ttft_of_row
        TTFT limit per demand row, s (default: none).
    """
    n_rows, n_cols = len(demand), len(cols)
    max_ttft_of_row = np.full(n_rows, np.inf) if max_ttft_of_row is None else max_ttft_of_row
    carry = cols.requests_per_second * target_utilization
    agg = np.flatnonzero(cols.phase(Phase.aggregated))
    dec, pre = np.flatnonzero(cols.phase(Phase.decode)), np.flatnonzero(cols.phase(Phase.prefill))
    if len(dec) == 0:
        cover = Coverage(row=cols.row[agg], column=agg, coefficient=carry[agg])
        return Covering(coverage=cover, demand=np.asarray(demand, dtype=float), flows=0,
                        flow_row=np.zeros(0, dtype=np.int64), flow_tier=np.zeros(0, dtype=np.int64))
    level, tier = column_tiers(cols, max_ttft_of_row)
    span = int(max(tier.max(), level.max())) + 2
    flow_key = np.unique(cols.row[dec].astype(np.int64) * span + tier[dec])  # sorted by (row, tier)
    flow_row, flow_tier = flow_key // span, flow_key % span
    n_flows = len(flow_key)
    capacity_row, hall_row = n_rows + np.arange(n_flows), n_rows + n_flows + np.arange(n_flows)
    row_end = np.searchsorted(flow_key, (flow_row + 1) * span, side="left")  # end of each flow's row
    flow_var = n_cols + np.arange(n_flows)
    # decode columns: into their tier's capacity row
    dec_flow = np.searchsorted(flow_key, cols.row[dec].astype(np.int64) * span + tier[dec])
    # prefill columns: into the Hall rows of every tier of their row that they may feed
    pre_start = np.searchsorted(flow_key, cols.row[pre].astype(np.int64) * span + level[pre], side="left")
    pre_end = np.searchsorted(flow_key, (cols.row[pre].astype(np.int64) + 1) * span, side="left")
    pre_owner, pre_flow = _expand(pre_start, pre_end)
    # flows: +1 in their demand row, -1 in their capacity row, -1 in the Hall rows of their tier and above
    hall_owner, hall_flow = _expand(np.arange(n_flows), row_end)
    rows = [cols.row[agg], flow_row, capacity_row[dec_flow], capacity_row, hall_row[pre_flow], hall_row[hall_flow]]
    columns = [agg, flow_var, dec, flow_var, pre[pre_owner], flow_var[hall_owner]]
    coefficients = [carry[agg], np.ones(n_flows), carry[dec], -np.ones(n_flows), carry[pre[pre_owner]],
                    -np.ones(len(hall_owner))]
    cover = Coverage(row=np.concatenate(rows).astype(np.int64), column=np.concatenate(columns).astype(np.int64),
                     coefficient=np.concatenate(coefficients).astype(float))
    rhs = np.concatenate([np.asarray(demand, dtype=float), np.zeros(2 * n_flows)])
    return Covering(coverage=cover, demand=rhs, flows=n_flows, flow_row=flow_row, flow_tier=flow_tier)


def coverage(cols: Columns, target_utilization: float) -> Coverage:
    """The coverage triplets of :func:`covering` for demand rows ``0 .. max(cols.row)`` (an
    aggregated column covers its own demand row by the requests/s it may carry at the target
    utilization).

    Parameters
    ----------
    cols
        The columns of the MILP, in variable order.
    target_utilization
        Largest share of a replica's requests/s that demand may use.
    """
    n_rows = int(cols.row.max()) + 1 if len(cols) else 0
    return covering(cols, target_utilization, np.zeros(n_rows)).coverage


def disaggregated_capacity(cols: Columns, replicas: np.ndarray, target_utilization: float,
                           max_ttft_of_row: np.ndarray) -> np.ndarray:
    """Most requests/s the bought prefill and decode replicas can serve together, per demand row.

    The maximum flow from prefill to decode capacity (both at the target utilization) where p
    may feed d iff ``level_p <= tier_d``: for nested sets the least cut is a prefix of tiers,
    ``min(Σ_t C_t, min_t (P_{<=t} + Σ_{t' > t} C_t'))`` with ``C_t`` the decode capacity of tier
    t and ``P_{<=t}`` the prefill capacity that tier t may use.

    Parameters
    ----------
    cols
        The columns of the MILP.
    replicas
        Whole replicas per column.
    target_utilization
        Largest share of a replica's requests/s that demand may use.
    max_ttft_of_row
        TTFT limit per demand row, s (``inf``: none).
    """
    n_rows = len(max_ttft_of_row)
    level, tier = column_tiers(cols, max_ttft_of_row)
    bought = cols.requests_per_second * target_utilization * replicas
    dec, pre = cols.phase(Phase.decode) & (replicas > 0), cols.phase(Phase.prefill) & (replicas > 0)
    flow = np.zeros(n_rows)
    for r in np.unique(cols.row[dec]):
        in_row_d, in_row_p = dec & (cols.row == r), pre & (cols.row == r)
        tiers = np.unique(tier[in_row_d])
        decode_cap = np.array([bought[in_row_d & (tier == t)].sum() for t in tiers])
        prefill_cap = np.array([bought[in_row_p & (level <= t)].sum() for t in tiers])
        above = np.concatenate([np.cumsum(decode_cap[::-1])[::-1][1:], [0.0]])
        flow[r] = min(decode_cap.sum(), float(np.min(prefill_cap + above)))
    return flow
