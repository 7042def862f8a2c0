"""Text of the optimizer's results (pure: returns strings).

:func:`summary_text` is the answer, printed first (at most 100 columns, about a dozen lines); the
other functions are the detailed tables printed with ``output.detail=true`` (also in the run
directory's files), fitted to the terminal's width.
"""
from __future__ import annotations

import math

import numpy as np
import xarray as xr

from model.app.tables import fit_lines, render, summary_width
from optimize.constants import SolveStatus
from optimize.plan import FleetPlan

# the plan table's columns printed with output.detail=true, and their headers (plan.csv has them all)
DETAIL_COLUMNS = {"model": "model", "bucket_isl": "ISL", "phase": "phase", "hardware": "hardware",
                  "concurrency": "N", "replicas": "replicas", "systems": "systems", "cost_per_hour": "$/h",
                  "utilization": "util.", "interactivity": "tok/s", "ttft_s": "TTFT s"}


def systems_text(systems: dict[str, int]) -> str:
    """``74 cerebras_wse3 + 50 b200``: every hardware type the plan uses, largest first."""
    used = sorted(((n, h) for h, n in systems.items() if n), key=lambda x: (-x[0], x[1]))
    return " + ".join(f"{n:,} {h}" for n, h in used) or "no systems"


def sla_text(sla: xr.DataArray, ttft: xr.DataArray | None = None) -> str:
    """The SLA in one phrase: the least tok/s per request (and the longest TTFT), per model where
    they differ.

    Parameters
    ----------
    sla
        Least output tok/s per request by model (:func:`optimize.concurrency.sla_by_model`).
    ttft
        Longest TTFT by model, ``inf`` for none (:func:`optimize.concurrency.ttft_by_model`).
    """
    def per_model(values: xr.DataArray, fmt) -> str:
        distinct = sorted({float(v) for v in values.values})
        if len(distinct) == 1:
            return fmt(distinct[0])
        return ", ".join(f"{m} {fmt(float(v))}" for m, v in zip(values.model.values, values.values))

    text = "at least " + per_model(sla, lambda v: f"{v:,.0f}") + " output tok/s per request"
    if ttft is not None and np.isfinite(ttft.values).any():
        text += "; TTFT at most " + per_model(ttft, lambda v: f"{v:g} s" if math.isfinite(v) else "no limit")
    else:
        text += "; no TTFT limit"
    return text


def model_rows(plan: FleetPlan) -> list[dict]:
    """One row per model of the plan: its systems by phase, $/hour, worst TTFT, least tok/s."""
    rows = []
    table = plan.plan
    for m in dict.fromkeys(table["model"]):
        part = table[table["model"] == m]
        phases = []
        for phase in ("aggregated", "prefill", "decode"):
            on = part[part["phase"] == phase]
            if len(on):
                by_hw = on.groupby("hardware", sort=False)["systems"].sum()
                phases.append(f"{phase} " + " + ".join(f"{int(n):,} {h}" for h, n in by_hw.items()))
        served = part[part["phase"] != "prefill"]["interactivity"]
        rows.append({"model": m, "systems by phase": "; ".join(phases),
                     "$/h": float(part["cost_per_hour"].sum()),
                     "tok/s": float(served.min()) if served.notna().any() else float("nan"),
                     "TTFT s": float(part["ttft_s"].max())})
    return rows


def summary_text(plan: FleetPlan, aggregated_only: FleetPlan | None, sla: xr.DataArray,
                 ttft: xr.DataArray | None, workload: str,
                 alternatives: dict[str, FleetPlan] | None = None) -> str:
    """The answer first (at most 100 columns): the fleet's $/hour, its systems by hardware and by
    phase, the saving from disaggregation, the SLA, then one line per model; or, without a plan,
    what demand cannot be served.

    Parameters
    ----------
    plan
        :func:`optimize.plan_fleet`.
    aggregated_only
        The best aggregated-only plan (``None``: disaggregation was not allowed).
    sla, ttft
        The SLA by model (:func:`sla_text`).
    workload
        What the demand is, e.g. ``ISL 96,300 tokens, 10 requests/s per model``.
    alternatives
        Label -> the plan under another assumption (e.g. the wafer's other prefill mode).
    """
    totals = plan.totals
    lines = []
    if totals.cost_per_hour is None:
        lines.append(f"No fleet plan ({plan.status.value}): demand that cannot be served (below)")
    else:
        lines.append(f"Fleet plan: ${totals.cost_per_hour:,.2f}/h for {systems_text(totals.systems)} "
                     f"({plan.status.value})")
        phases = []
        for phase, cost in totals.cost_per_hour_by_phase.items():
            used = totals.systems_by_phase.get(phase, {})
            if any(used.values()):
                phases.append(f"{phase} {systems_text(used)} ${cost:,.2f}/h")
        lines.append("  by phase: " + "; ".join(phases))
        if totals.cost_per_mtok is not None:
            lines.append(f"  ${totals.cost_per_mtok:.4f}/Mtok over {totals.tokens_per_second:,.0f} tok/s of demand "
                         f"at utilization <= {totals.target_utilization:g}")
    if aggregated_only is not None:
        other = aggregated_only.totals.cost_per_hour
        if totals.cost_per_hour is not None and other is not None:
            saved = other - totals.cost_per_hour
            share = saved / other if other else 0.0
            lines += [f"  saving from disaggregation: ${saved:,.2f}/h ({share:.1%} of the aggregated-only plan)",
                      f"  aggregated-only plan: ${other:,.2f}/h for {systems_text(aggregated_only.totals.systems)}"]
        elif totals.cost_per_hour is not None:
            lines.append("  saving from disaggregation: only the disaggregated plan serves all demand")
    lines.append(f"  SLA: {sla_text(sla, ttft)}")
    lines.append(f"  demand: {workload}")
    for label, alt in (alternatives or {}).items():
        cost = (f"${alt.totals.cost_per_hour:,.2f}/h for {systems_text(alt.totals.systems)}"
                if alt.totals.cost_per_hour is not None else f"no plan ({alt.status.value})")
        lines.append(f"  {label}: {cost}")
    if totals.cost_per_hour is not None and len(plan.plan):
        lines += ["", render(model_rows(plan), formats={"$/h": lambda v: f"{v:,.2f}",
                                                         "tok/s": lambda v: "-" if v != v else f"{v:,.0f}",
                                                         "TTFT s": lambda v: f"{v:.3f}"},
                             max_width=summary_width())]
    if len(plan.shortfalls):
        for r in plan.shortfalls.itertuples():
            lines.append(f"  {r.model} at ISL {r.bucket_isl:,}: {r.kind}, short {r.shortfall_rps:,.3g} of "
                         f"{r.demand_rps:,.3g} requests/s: {r.detail}")
    return fit_lines("\n".join(lines), summary_width())


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
    rows = []
    for m in at.model.values:
        for h in at.hardware.values:
            c = at.sel(model=m, hardware=h)
            row = {"model": str(m), "hardware": str(h), "SLA tok/s": float(c.sla)}
            if bool(c.sla_met):
                row.update({"N": int(c.concurrency), "$/Mtok": float(c.cost_per_mtok),
                            "tok/s": float(c.interactivity), "systems": int(c.systems), "why not": ""})
            else:
                best_rate = float(c.max_interactivity)
                reach = f"; best reachable {best_rate:,.0f} tok/s" if np.isfinite(best_rate) else ""
                row.update({"N": None, "$/Mtok": None, "tok/s": None, "systems": None,
                            "why not": f"{c.reason.values}{reach}"})
            rows.append(row)
    return (f"Cheapest concurrency meeting the SLA at ISL {isl:,} tokens (best_concurrency.nc has every grid ISL):\n"
            + render(rows, formats={"SLA tok/s": lambda v: f"{v:,.0f}",
                                    "$/Mtok": lambda v: "-" if v is None else f"{v:.4f}",
                                    "tok/s": lambda v: "-" if v is None else f"{v:,.0f}"}))


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
        shown = [c for c in DETAIL_COLUMNS if c in plan.plan.columns]
        table = render(plan.plan.to_dict(orient="records"), columns=shown, headers=DETAIL_COLUMNS,
                       formats={"cost_per_hour": lambda v: f"{v:,.2f}", "utilization": lambda v: f"{v:.3f}",
                                "ttft_s": lambda v: f"{v:.3f}"})
        if len(shown) < len(plan.plan.columns):
            table += "\n(plan.csv has every column: " + ", ".join(c for c in plan.plan.columns if c not in shown) + ")"
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
    return fit_lines("\n".join(lines), summary_width())


def prefill_modes_text(hardware: str, modes: tuple[str, str], best: tuple[xr.Dataset, xr.Dataset],
                       plans: tuple[FleetPlan, FleetPlan], isl: int) -> str:
    """The wafer's answer under both prefill modes (docs/model.md §8): cheapest concurrency per model at
    ``isl`` and the fleet plan's $/hour with all its systems, the config's mode first."""
    rows = []
    at = [b.sel(isl=isl, hardware=hardware) for b in best]
    for m in at[0].model.values:
        row: dict = {"model": str(m)}
        for mode, b in zip(modes, at):
            c = b.sel(model=m)
            met = bool(c.sla_met)
            row.update({f"{mode} N": int(c.concurrency) if met else None,
                        f"{mode} $/Mtok": float(c.cost_per_mtok) if met else None,
                        f"{mode} tok/s": float(c.interactivity) if met else None,
                        f"{mode} TTFT s": float(c.ttft) if met else None})
        rows.append(row)
    formats = {}
    for mode in modes:
        formats[f"{mode} $/Mtok"] = lambda v: "-" if v is None else f"{v:.4f}"
        formats[f"{mode} tok/s"] = lambda v: "-" if v is None else f"{v:,.0f}"
        formats[f"{mode} TTFT s"] = lambda v: "-" if v is None else f"{v:.3f}"
    costs = [f"{mode}: " + (f"${p.totals.cost_per_hour:,.2f}/hour, {systems_text(p.totals.systems)}"
                            if p.totals.cost_per_hour is not None else f"no plan ({p.status.value})")
             for mode, p in zip(modes, plans)]
    return "\n".join([f"{hardware} under both prefill modes (docs/model.md §8: ratio is the seed's assumption, "
                      f"physical times prefill from the wafer's compute; both uncertain), cheapest concurrency at "
                      f"ISL {isl:,}:",
                      render(rows, formats=formats), "Fleet plan, " + "; ".join(costs)])


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
    return fit_lines("\n".join(lines), summary_width())
