"""Text and tables of the uncertainty app (pure: nothing is printed or written here).

:func:`summary_text` is printed first (at most 100 columns): the robust plan with the models it
covers and why the others are out, then the chance each hardware is the cheapest at the workload's
ISL.  The other tables follow with ``output.detail=true``."""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from model.app.tables import fit_lines, render, summary_width
from optimize.robust import RobustComparison
from sensitivity.uncertainty.win import win_table

PLAN_COLUMNS = {  # robust_plan.csv: column -> units
    "plan": "", "row": "", "model": "", "bucket_isl": "tokens", "phase": "", "hardware": "", "concurrency": "requests",
    "replicas": "replicas", "systems_per_replica": "systems", "systems": "systems", "cost_per_hour": "$/h",
    "capacity_rps": "1/s", "interactivity": "tok/s", "ttft_s": "s", "status": "", "q": "1",
    "column_confidence": "1", "capacity_margin": "1", "scenarios": "scenarios", "share_meets_demand_and_sla": "1",
    "share_meets_sla": "1", "share_meets_demand": "1", "share_serves_demand_at_full_load": "1",
    "holdout_scenarios": "scenarios",
    "holdout_share_meets_demand_and_sla": "1", "cost_per_hour_p5": "$/h", "cost_per_hour_p50": "$/h",
    "cost_per_hour_p95": "$/h", "premium": "1", "dropped_models": "",
}


def _money(value: float) -> str:
    if not np.isfinite(value):
        return "-" if np.isnan(value) else "any"
    return f"{value:,.4g}" if abs(value) < 100 else f"{value:,.0f}"


def bands_table(ds: xr.Dataset, isl: int, variable: str = "optimal_cost_per_mtok") -> str:
    """A band per (model, hardware) at one ISL: catalog value, the three quantiles, share with a value.

    Parameters
    ----------
    ds
        :func:`sensitivity.uncertainty.analyze`'s result.
    isl
        An ISL of ``ds``.
    variable
        A banded variable.

    Returns
    -------
    str
    """
    levels = [float(v) for v in ds["quantile"].values]
    head = ["model", "hardware", "catalog"] + [f"P{100 * v:g}" for v in levels] + ["SLA met" if "optimal" in variable
                                                                                   else "defined"]
    lines = []
    for model in ds.model.values:
        for hw in ds.hardware.values:
            cell = ds.sel(model=model, hardware=hw, isl=isl)
            values = [_money(float(cell[f"{variable}_point"]))] + [_money(float(cell[variable].sel(quantile=v)))
                                                                   for v in levels]
            lines.append([str(model), str(hw)] + values + [f"{float(cell[f'{variable}_defined']):.0%}"])
    widths = [max(len(str(r[i])) for r in [head] + lines) + 2 for i in range(len(head))]

    def fmt(row: list) -> str:
        return "".join(str(c).ljust(w) if i < 2 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths)))

    units = ds[variable].attrs.get("units", "")
    return "\n".join([f"{variable} ({units}) at ISL {isl:,} over {ds.attrs.get('scenarios', '?')} scenarios "
                      f"(quantiles where the SLA is met):", fmt(head)] + [fmt(r) for r in lines])


def win_text(ds: xr.Dataset) -> str:
    """The win probabilities as a table, in percent.

    Parameters
    ----------
    ds
        :func:`sensitivity.uncertainty.analyze`'s result (``win_probability``).

    Returns
    -------
    str
    """
    table = win_table(ds.win_probability)
    shown = table.map(lambda v: f"{100 * v:.1f}%")
    return (f"Probability of being the cheapest hardware meeting the SLA ({ds.attrs.get('sla_min_interactivity', 0):g}"
            f" tok/s; none: no hardware meets it):\n" + shown.to_string())


def robust_text(comparison: RobustComparison) -> str:
    """The robust and the point plan of ``comparison`` (:func:`optimize.robust.compare_plans`' result) side
    by side: cost, shares of scenarios met, premium."""
    s = comparison.summary()
    lines = [f"Robust fleet plan at q = {comparison.q:g} (columns at their {comparison.column_confidence:.3f} "
             f"order statistic, capacity for {comparison.capacity_margin:.3g}x the demand) against the plan on "
             "the catalog values:"]
    for name in s.index:
        r = s.loc[name]
        cost = "no plan" if np.isnan(r.cost_per_hour) else f"${r.cost_per_hour:,.2f}/hour at catalog prices"
        line = (f"  {name:<7}{r.status:<11}{cost}; meets demand and SLA in {r.share_meets_demand_and_sla:.1%} "
                f"of {int(r.scenarios)} scenarios (SLA {r.share_meets_sla:.1%}, demand {r.share_meets_demand:.1%}; "
                f"at 100% utilization {r.share_serves_demand_at_full_load:.1%})")
        if "holdout_share_meets_demand_and_sla" in r:
            line += f", {r.holdout_share_meets_demand_and_sla:.1%} of {int(r.holdout_scenarios)} held-out ones"
        line += (f"; $/hour P5-P50-P95 {_money(r.cost_per_hour_p5)} / {_money(r.cost_per_hour_p50)} / "
                 f"{_money(r.cost_per_hour_p95)}")
        lines.append(line)
    premium = comparison.premium
    lines.append(f"  premium of the robust plan: {premium:+.1%}" if np.isfinite(premium) else
                 "  premium of the robust plan: - (no plan to compare)")
    planned = comparison.robust.status.value in ("optimal", "time_limit")
    for model, reason in comparison.dropped.items():
        lines.append(f"  {'left out of both plans' if planned else 'no robust plan'}: {model} ({reason})")
    return "\n".join(lines)


def robust_table(comparison: RobustComparison) -> pd.DataFrame:
    """``robust_plan.csv`` from ``comparison`` (:func:`optimize.robust.compare_plans`' result): each plan's
    rows, then its total row with the scenario evaluation; columns :data:`PLAN_COLUMNS` (those present),
    ``row`` is ``column`` or ``total``."""
    summary = comparison.summary()
    parts = []
    for name, plan in (("robust", comparison.robust), ("point", comparison.point)):
        if not plan.plan.empty:
            rows = plan.plan[[c for c in PLAN_COLUMNS if c in plan.plan.columns]].copy()
            rows.insert(0, "row", "column")
            rows.insert(0, "plan", name)
            parts.append(rows)
        total = {"plan": name, "row": "total", **summary.loc[name].to_dict()}
        parts.append(pd.DataFrame([total]))
    table = pd.concat(parts, ignore_index=True)
    return table[[c for c in PLAN_COLUMNS if c in table.columns]]


def table_csv(table: pd.DataFrame, units: dict[str, str]) -> str:
    """CSV text with each column's units in its header (``cost_per_hour [$/h]``).

    Parameters
    ----------
    table
        The table.
    units
        Column -> units ("" or absent: none).

    Returns
    -------
    str
    """
    header = [f"{c} [{units[c]}]" if units.get(c) else c for c in table.columns]
    return table.to_csv(index=False, header=header, float_format="%.10g")


def price_to_beat_text(ptb: xr.Dataset, switches: xr.Dataset, isl: int, sla: float) -> str:
    """The price to beat of every hardware at one (ISL, SLA), and the SLAs where the cheapest changes.

    Parameters
    ----------
    ptb
        :func:`model.price_to_beat.price_to_beat`'s result (with ``isl`` and ``sla`` among its values).
    switches
        :func:`model.price_to_beat.sla_switch_points`' result.
    isl
        ISL, tokens.
    sla
        Least interactivity, tok/s.

    Returns
    -------
    str
    """
    at = ptb.sel(isl=isl, min_interactivity=sla)
    lines = [f"Price to beat at ISL {isl:,}, SLA {sla:g} tok/s ($/hour per system at which the hardware's least "
             "SLA-meeting $/Mtok equals the best other's; any: no other meets the SLA; -: it does not):"]
    for model in at.model.values:
        cell = at.sel(model=model)
        parts = [f"{hw} {_money(float(cell.price_to_beat.sel(hardware=hw)))} "
                 f"(catalog {_money(float(ptb.price_per_hour.sel(hardware=hw)))})" for hw in at.hardware.values]
        lines.append(f"  {model:<14}cheapest: {str(cell.cheapest_hardware.values)}; price to beat: " + "; ".join(parts))
    here = switches.isl.values == isl
    lines.append(f"Cheapest hardware by SLA at ISL {isl:,} (exact on the concurrency grid):")
    for model in at.model.values:
        mine = here & (switches.model.values == model)
        steps = [f"{switches.cheapest_up_to.values[i]} up to {switches.min_interactivity.values[i]:,.1f} tok/s"
                 for i in np.flatnonzero(mine)]
        lines.append(f"  {model:<14}" + (", then ".join(steps) + ", then none" if steps else "none at any SLA"))
    return "\n".join(lines)


def robust_headline(comparison: RobustComparison, models: list[str]) -> list[str]:
    """The robust plan in a few lines, its scope first: the models it covers, why the others are
    out, $/hour and premium over the plan on catalog values, and the shares of scenarios met.

    Parameters
    ----------
    comparison
        :func:`optimize.robust.compare_plans`' result.
    models
        The selected models.
    """
    covered = [m for m in models if m not in comparison.dropped]
    s = comparison.summary()
    robust, point = s.loc["robust"], s.loc["point"]
    scope = (f"all {len(models)} models" if not comparison.dropped
             else f"{len(covered)} of {len(models)} models ({', '.join(covered) or 'none'})")
    if np.isfinite(comparison.premium):
        lines = [f"Robust fleet plan (q = {comparison.q:g}) for {scope}: ${robust.cost_per_hour:,.2f}/h, "
                 f"premium {comparison.premium:+.1%} over the plan on catalog values (${point.cost_per_hour:,.2f}/h)"]
    else:
        lines = [f"No robust fleet plan (q = {comparison.q:g}) for {scope} ({robust.status}); the plan on catalog "
                 f"values: " + ("no plan" if np.isnan(point.cost_per_hour) else f"${point.cost_per_hour:,.2f}/h")]
    for model, reason in comparison.dropped.items():
        lines.append(f"  left out of both plans: {model} (at the q = {comparison.q:g} quantile: {reason})")
    for name, r in (("robust plan", robust), ("catalog-value plan", point)):
        if np.isnan(r.cost_per_hour):
            continue
        held = (f" ({r.holdout_share_meets_demand_and_sla:.1%} of {int(r.holdout_scenarios)} held out)"
                if "holdout_share_meets_demand_and_sla" in r else "")
        lines.append(f"  {name} meets demand and SLA in {r.share_meets_demand_and_sla:.1%} of "
                     f"{int(r.scenarios)} scenarios{held}")
    return lines


def summary_text(ds: xr.Dataset, comparison: RobustComparison | None, models: list[str], isl: int) -> str:
    """The answer first: the robust plan's scope, cost and premium (:func:`robust_headline`), then
    per model the chance each hardware is the cheapest meeting the SLA at ISL ``isl`` and the
    middle band of the least $/Mtok.

    Parameters
    ----------
    ds
        :func:`sensitivity.uncertainty.analyze`'s result.
    comparison
        The robust plan comparison (None: not run).
    models
        The selected models.
    isl
        The workload's ISL (one of ``ds``'s).
    """
    lines = robust_headline(comparison, models) + [""] if comparison is not None else []
    table = win_table(ds.win_probability).xs(isl, level="isl")
    middle = float(ds["quantile"].values[1])
    rows = []
    for model in table.index:
        row = {"model": str(model)}
        row.update({(f"P({w} cheapest)" if w != "none" else "P(none meets SLA)"): float(table.loc[model, w])
                    for w in table.columns})
        bands = ds.optimal_cost_per_mtok.sel(model=model, isl=isl, quantile=middle)
        best = bands.where(np.isfinite(bands))
        row[f"P{100 * middle:g} $/Mtok"] = float(best.min()) if np.isfinite(best).any() else float("nan")
        rows.append(row)
    formats = {c: (lambda v: f"{100 * v:.1f}%") for c in rows[0] if c.startswith("P(")} if rows else {}
    lines.append(f"Cheapest hardware meeting the SLA ({ds.attrs.get('sla_min_interactivity', 0):,.0f} tok/s) at "
                 f"ISL {isl:,}, over {ds.attrs.get('scenarios', '?')} scenarios:")
    lines.append(render(rows, formats=formats, max_width=summary_width()))
    return fit_lines("\n".join(lines), summary_width())
