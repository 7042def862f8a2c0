"""Text of the optimizer's results (pure: returns strings)."""
from __future__ import annotations

import numpy as np
import xarray as xr

from optimize.constants import SolveStatus
from optimize.plan import FleetPlan


def best_table(best: xr.Dataset, isl: int) -> str:
    """The cheapest concurrency meeting the SLA per (model, hardware) at one ISL, or why there is none.

    Parameters
    ----------
    best
        :func:`optimize.best_concurrency`.
    isl
        An ISL of ``best``.
    """
    at = best.sel(isl=isl)
    lines = [f"Cheapest concurrency meeting the SLA at ISL {isl:,} tokens (best_concurrency.nc has every grid ISL):",
             f"{'model':<16}{'hardware':<15}{'SLA tok/s':>10}{'N':>7}{'$/Mtok':>10}{'tok/s':>9}{'systems':>9}  why not"]
    for m in at.model.values:
        for h in at.hardware.values:
            c = at.sel(model=m, hardware=h)
            sla = float(c.sla)
            if bool(c.sla_met):
                lines.append(f"{m:<16}{h:<15}{sla:>10,.0f}{int(c.concurrency):>7}{float(c.cost_per_mtok):>10.4f}"
                             f"{float(c.interactivity):>9,.0f}{int(c.systems):>9}")
            else:
                best_rate = float(c.max_interactivity)
                reach = f"; best reachable {best_rate:,.0f} tok/s" if np.isfinite(best_rate) else ""
                lines.append(f"{m:<16}{h:<15}{sla:>10,.0f}{'-':>7}{'-':>10}{'-':>9}{'-':>9}  "
                             f"{str(c.reason.values)}{reach}")
    return "\n".join(lines)


def plan_text(plan: FleetPlan) -> str:
    """The fleet plan: status, column counts and timings, the table and totals, or the shortfalls.

    Parameters
    ----------
    plan
        :func:`optimize.plan_fleet`.
    """
    kinds = ""
    if plan.columns_by_phase:
        kinds = " (" + ", ".join(f"{k} {c:,} -> {kept:,}" for k, (c, kept) in plan.columns_by_phase.items()) + ")"
    head = (f"Fleet plan: status {plan.status.value}; {plan.columns:,} candidate columns, "
            f"{plan.pruned_columns:,} pruned as dominated{kinds}; build {plan.build_seconds:.3f} s, "
            f"solve {plan.solve_seconds:.3f} s")
    if plan.mip_gap is not None:
        head += f", MIP gap {plan.mip_gap:.2e}"
    lines = [head]
    if len(plan.plan):
        table = plan.plan.to_string(index=False, float_format=lambda v: f"{v:,.4g}", na_rep="-")
        totals = plan.totals
        systems = ", ".join(f"{h} {n:,}" for h, n in totals.systems.items())
        lines += [table, f"Totals: ${totals.cost_per_hour:,.2f}/hour; systems: {systems}; "
                         f"fleet ${totals.cost_per_mtok:.4f}/Mtok over {totals.tokens_per_second:,.0f} tok/s of demand "
                         f"(target utilization {totals.target_utilization:g})"]
        if totals.cost_per_hour_by_phase:
            parts = []
            for phase, cost in totals.cost_per_hour_by_phase.items():
                used = ", ".join(f"{n:,} {h}" for h, n in totals.systems_by_phase[phase].items() if n)
                parts.append(f"{phase} ${cost:,.2f}/hour" + (f" ({used})" if used else ""))
            lines.append("By phase: " + "; ".join(parts))
    if plan.status == SolveStatus.time_limit:
        lines.append("Warning: the time limit stopped the solver; the plan is the best found, within the MIP gap "
                     "above.")
    if len(plan.shortfalls):
        lines.append("No plan: demand that cannot be served")
        for r in plan.shortfalls.itertuples():
            lines.append(f"  {r.model} at ISL {r.bucket_isl:,}: {r.kind}, short {r.shortfall_rps:,.3g} of "
                         f"{r.demand_rps:,.3g} requests/s: {r.detail}")
    lines += [f"Note: {n}" for n in plan.notes]
    return "\n".join(lines)


def prefill_modes_text(hardware: str, modes: tuple[str, str], best: tuple[xr.Dataset, xr.Dataset],
                       plans: tuple[FleetPlan, FleetPlan], isl: int) -> str:
    """The wafer's answer under both prefill modes (docs/model.md §8): cheapest concurrency per model at
    ``isl`` and the fleet plan's $/hour, the config's mode first."""
    lines = [f"{hardware} under both prefill modes (docs/model.md §8: ratio is the seed's assumption, physical times "
             f"prefill from the wafer's compute; both uncertain), cheapest concurrency at ISL {isl:,}:",
             f"{'model':<16}" + "".join(f"{m + ' N':>15}{'$/Mtok':>10}{'tok/s':>9}{'TTFT s':>9}" for m in modes)]
    at = [b.sel(isl=isl, hardware=hardware) for b in best]
    for m in at[0].model.values:
        row = f"{m:<16}"
        for b in at:
            c = b.sel(model=m)
            if bool(c.sla_met):
                row += (f"{int(c.concurrency):>15}{float(c.cost_per_mtok):>10.4f}{float(c.interactivity):>9,.0f}"
                        f"{float(c.ttft):>9.3f}")
            else:
                row += f"{'-':>15}{'-':>10}{'-':>9}{'-':>9}"
        lines.append(row)
    costs = [f"{mode}: " + (f"${p.totals.cost_per_hour:,.2f}/hour, {p.totals.systems.get(hardware, 0):,} {hardware}"
                            if p.totals.cost_per_hour is not None else f"no plan ({p.status.value})")
             for mode, p in zip(modes, plans)]
    lines.append("Fleet plan " + "; ".join(costs))
    return "\n".join(lines)



def saving_text(plan: FleetPlan, aggregated_only: FleetPlan) -> str:
    """The disaggregated plan against the best aggregated-only plan (docs/model.md §9): both $/hour and
    the saving, or why one of them has no plan."""
    def cost(p: FleetPlan) -> str:
        if p.totals.cost_per_hour is None:
            return f"no plan ({p.status.value})"
        systems = ", ".join(f"{n:,} {h}" for h, n in p.totals.systems.items() if n)
        return f"${p.totals.cost_per_hour:,.2f}/hour ({systems})"

    lines = [f"Best aggregated-only plan (fleet.disaggregation=false): {cost(aggregated_only)}",
             f"Plan with disaggregated serving: {cost(plan)}"]
    if plan.totals.cost_per_hour is not None and aggregated_only.totals.cost_per_hour is not None:
        saved = aggregated_only.totals.cost_per_hour - plan.totals.cost_per_hour
        share = saved / aggregated_only.totals.cost_per_hour if aggregated_only.totals.cost_per_hour else 0.0
        lines.append(f"Saving from disaggregation: ${saved:,.2f}/hour ({share:.1%} of the aggregated-only plan)")
    elif plan.totals.cost_per_hour is not None:
        lines.append("Saving from disaggregation: only the disaggregated plan serves all demand")
    return "\n".join(lines)
