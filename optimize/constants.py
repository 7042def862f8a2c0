"""Constants shared by the optimizer's modules; the status enums are at the bottom.

Laid out as linopy's ``constants.py``: plain values first, then the enums that name outcomes,
so that every module reads outcomes from one place and no module compares raw strings.
"""
from __future__ import annotations

import enum

# Columns of a shortfall report (``FleetPlan.shortfalls``), in the order plan.json lists them.
SHORTFALL_COLUMNS = ["model", "bucket_isl", "kind", "demand_rps", "shortfall_rps", "detail"]


class NoAnswer(enum.Enum):
    """Why a (model, hardware, ISL) cell has no cost-minimizing concurrency."""

    none = ""
    isl_beyond_context = "isl_beyond_context"
    no_buildable_size = "no_buildable_size"
    sla_unreachable = "sla_unreachable"


class ShortfallKind(enum.Enum):
    """Why a (model, ISL bucket) with demand cannot be served by the fleet.

    The first three are the :class:`NoAnswer` reasons, holding on every hardware type on offer;
    ``ttft_unreachable`` means configurations reach the interactivity SLA but none (aggregated,
    or a disaggregated prefill + decode pair) reaches the TTFT SLA; ``inventory`` means columns
    exist but the inventory caps leave demand unmet.
    """

    isl_beyond_context = NoAnswer.isl_beyond_context.value
    no_buildable_size = NoAnswer.no_buildable_size.value
    sla_unreachable = NoAnswer.sla_unreachable.value
    ttft_unreachable = "ttft_unreachable"
    inventory = "inventory"


class Phase(enum.Enum):
    """What a column of the fleet MILP does with a request (docs/model.md §9).

    ``aggregated``: prefill and decode on the same replica (§8); ``prefill``: prefill only, the
    KV then moves to a decode replica; ``decode``: decode only, fed by prefill replicas.
    The order is the plan table's order within a (model, bucket).
    """

    aggregated = "aggregated"
    prefill = "prefill"
    decode = "decode"


# Integer code of each phase in :attr:`optimize.columns.Columns.kind` (its position in Phase).
PHASE_CODE = {phase: code for code, phase in enumerate(Phase)}


class SolveStatus(enum.Enum):
    """Normalized outcome of a solve (never the solver's raw strings)."""

    optimal = "optimal"            # proven optimal within the configured gap
    time_limit = "time_limit"      # stopped by the time limit with a feasible plan
    infeasible = "infeasible"      # no plan meets demand under the constraints
    no_solution = "no_solution"    # stopped (time limit, error) without a feasible plan
    unverified = "unverified"      # the solver's plan, rounded to whole replicas, misses some demand
