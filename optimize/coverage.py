"""The coverage matrix of the fleet MILP (docs/model.md §9): which column serves which demand row,
and with what capacity.

:meth:`CoverageMatrix.of` makes it once per set of columns; every step that asks whether
replicas cover demand reads it:

- the MILP build: :meth:`CoverageMatrix.milp_rows`, the covering rows as sparse triplets for
  :func:`optimize.milp.build_model` (and :func:`optimize.periods.solve_day`);
- the plan table (:func:`optimize.plan.assign_solution`): what the disaggregated path of each
  demand row carries (:meth:`CoverageMatrix.disaggregated`) and which prefill and decode columns
  pair (:attr:`CoverageMatrix.level`, :attr:`CoverageMatrix.tier`);
- the robust plan's per-scenario check (:func:`optimize.evaluation.evaluate_plan`): the plan's
  matrix at each scenario's capacities (:meth:`CoverageMatrix.served`).

With ``x`` the replicas, ``z`` the flows, ``u`` the target utilization and ``c`` a replica's
requests/s, the covering rows are::

    demand row r:            Σ_agg c u x + Σ_{tiers t of r} z_rt      >= demand_r
    capacity row (r, t):     Σ_{decode d of tier t} c_d u x_d - z_rt  >= 0
    Hall row (r, t):         Σ_{prefill p, level_p <= t} c_p u y_p - Σ_{t' <= t} z_rt' >= 0

The flow ``z_rt`` is the requests/s the decode columns of tier t serve; prefill capacity must
cover the flows of every set of tiers it may feed (Hall's condition, which for nested sets needs
only the prefixes; the levels and tiers are :func:`optimize.ttft.row_tiers`').  Decode capacity
bought beyond what demand needs draws no prefill capacity.  With aggregated columns only this
is one row per demand row.  For bought replicas the same rows give what a demand row is served:
its aggregated capacity plus the maximum flow from its prefill to its decode capacity.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from optimize.columns import Columns
from optimize.constants import PHASE_CODE, Phase
from optimize.milp import Coverage
from optimize.ttft import column_tiers

AGGREGATED, PREFILL, DECODE = (PHASE_CODE[p] for p in Phase)


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


@dataclass(frozen=True)
class CoverageMatrix:
    """Per column: the demand row it serves, how (its phase, TTFT level and tier) and by how much.

    Attributes
    ----------
    row
        Demand row of each column.
    kind
        :data:`optimize.constants.PHASE_CODE` of each column's phase.
    level, tier
        Prefill columns: their TTFT level; decode columns: their TTFT tier (0 for the others).
        Prefill column p may feed decode column d of its row iff ``level_p <= tier_d``.
    capacity
        Requests/s one replica of each column may carry: its requests/s times the target
        utilization.
    target_utilization
        Largest share of a replica's requests/s that demand may use.
    n_rows
        Demand rows.
    """

    row: np.ndarray
    kind: np.ndarray
    level: np.ndarray
    tier: np.ndarray
    capacity: np.ndarray
    target_utilization: float
    n_rows: int

    @classmethod
    def of(cls, cols: Columns, target_utilization: float, max_ttft_of_row: np.ndarray) -> CoverageMatrix:
        """The coverage of ``cols`` (in variable order) at ``target_utilization``, under the TTFT
        limit of each demand row (s, ``inf``: none; its length is the number of demand rows)."""
        level, tier = column_tiers(cols, max_ttft_of_row)
        return cls(row=cols.row, kind=cols.kind, level=level, tier=tier,
                   capacity=cols.requests_per_second * target_utilization,
                   target_utilization=target_utilization, n_rows=len(max_ttft_of_row))

    def take(self, keep: np.ndarray) -> CoverageMatrix:
        """The coverage of some columns (a boolean mask or an index array), e.g. a plan's."""
        return replace(self, row=self.row[keep], kind=self.kind[keep], level=self.level[keep],
                       tier=self.tier[keep], capacity=self.capacity[keep])

    def milp_rows(self, demand: np.ndarray) -> Covering:
        """The MILP's covering rows (module docstring) for ``demand`` requests/s per demand row."""
        n_rows, n_cols = len(demand), len(self.row)
        carry, row, level, tier = self.capacity, self.row, self.level, self.tier
        agg = np.flatnonzero(self.kind == AGGREGATED)
        dec, pre = np.flatnonzero(self.kind == DECODE), np.flatnonzero(self.kind == PREFILL)
        if len(dec) == 0:
            cover = Coverage(row=row[agg], column=agg, coefficient=carry[agg])
            return Covering(coverage=cover, demand=np.asarray(demand, dtype=float), flows=0,
                            flow_row=np.zeros(0, dtype=np.int64), flow_tier=np.zeros(0, dtype=np.int64))
        span = int(max(tier.max(), level.max())) + 2
        flow_key = np.unique(row[dec].astype(np.int64) * span + tier[dec])  # sorted by (row, tier)
        flow_row, flow_tier = flow_key // span, flow_key % span
        n_flows = len(flow_key)
        capacity_row, hall_row = n_rows + np.arange(n_flows), n_rows + n_flows + np.arange(n_flows)
        row_end = np.searchsorted(flow_key, (flow_row + 1) * span, side="left")  # end of each flow's row
        flow_var = n_cols + np.arange(n_flows)
        # decode columns: into their tier's capacity row
        dec_flow = np.searchsorted(flow_key, row[dec].astype(np.int64) * span + tier[dec])
        # prefill columns: into the Hall rows of every tier of their row that they may feed
        pre_start = np.searchsorted(flow_key, row[pre].astype(np.int64) * span + level[pre], side="left")
        pre_end = np.searchsorted(flow_key, (row[pre].astype(np.int64) + 1) * span, side="left")
        pre_owner, pre_flow = _expand(pre_start, pre_end)
        # flows: +1 in their demand row, -1 in their capacity row, -1 in the Hall rows of their tier and above
        hall_owner, hall_flow = _expand(np.arange(n_flows), row_end)
        rows = [row[agg], flow_row, capacity_row[dec_flow], capacity_row, hall_row[pre_flow], hall_row[hall_flow]]
        columns = [agg, flow_var, dec, flow_var, pre[pre_owner], flow_var[hall_owner]]
        coefficients = [carry[agg], np.ones(n_flows), carry[dec], -np.ones(n_flows), carry[pre[pre_owner]],
                        -np.ones(len(hall_owner))]
        cover = Coverage(row=np.concatenate(rows).astype(np.int64),
                         column=np.concatenate(columns).astype(np.int64),
                         coefficient=np.concatenate(coefficients).astype(float))
        rhs = np.concatenate([np.asarray(demand, dtype=float), np.zeros(2 * n_flows)])
        return Covering(coverage=cover, demand=rhs, flows=n_flows, flow_row=flow_row, flow_tier=flow_tier)

    def _bought(self, replicas: np.ndarray, capacity: np.ndarray | None) -> np.ndarray:
        """Requests/s the replicas of each column may carry (along the trailing dims of ``capacity``)."""
        capacity = self.capacity if capacity is None else capacity
        return capacity * np.reshape(replicas, np.shape(replicas) + (1,) * (np.ndim(capacity) - 1))

    def disaggregated(self, replicas: np.ndarray, capacity: np.ndarray | None = None) -> np.ndarray:
        """Most requests/s the bought prefill and decode replicas serve together, per demand row.

        The maximum flow from prefill to decode capacity where p may feed d iff ``level_p <=
        tier_d``: for nested sets the least cut is a prefix of tiers, ``min(Σ_t C_t, min_t
        (P_{<=t} + Σ_{t' > t} C_t'))`` with ``C_t`` the decode capacity of tier t and ``P_{<=t}``
        the prefill capacity that tier t may use.

        Parameters
        ----------
        replicas
            Whole replicas per column.
        capacity
            Requests/s one replica of each column may carry, with any trailing dims (e.g. one
            per scenario); default :attr:`capacity`.

        Returns
        -------
        numpy.ndarray
            Shape (demand rows, *trailing dims of capacity).
        """
        bought = self._bought(replicas, capacity)
        dec, pre = (self.kind == DECODE) & (replicas > 0), (self.kind == PREFILL) & (replicas > 0)
        flow = np.zeros((self.n_rows,) + bought.shape[1:])
        for r in np.unique(self.row[dec]):
            in_row_d, in_row_p = dec & (self.row == r), pre & (self.row == r)
            tiers = np.unique(self.tier[in_row_d])
            decode_cap = np.array([bought[in_row_d & (self.tier == t)].sum(axis=0) for t in tiers])
            prefill_cap = np.array([bought[in_row_p & (self.level <= t)].sum(axis=0) for t in tiers])
            above = np.concatenate([np.cumsum(decode_cap[::-1], axis=0)[::-1][1:], np.zeros((1,) + bought.shape[1:])])
            flow[r] = np.minimum(decode_cap.sum(axis=0), np.min(prefill_cap + above, axis=0))
        return flow

    def served(self, replicas: np.ndarray, capacity: np.ndarray | None = None) -> np.ndarray:
        """Requests/s the bought replicas serve per demand row: the aggregated capacity plus
        :meth:`disaggregated` (arguments and shape as there)."""
        bought = self._bought(replicas, capacity)
        aggregated = np.zeros((self.n_rows,) + bought.shape[1:])
        on = np.flatnonzero(self.kind == AGGREGATED)
        np.add.at(aggregated, self.row[on], bought[on])
        return aggregated + self.disaggregated(replicas, capacity)
