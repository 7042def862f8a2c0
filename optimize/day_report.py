"""Text and figure of a day plan (docs/model.md §11); pure: returns strings and matplotlib figures."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from optimize.day import DayPlan
from optimize.tiers import TIERS

TIER_COLOURS = {"reserved": "#1f4e79", "on_demand": "#f28e2b", "spot": "#59a14f"}


def _systems(counts: dict[str, int]) -> str:
    used = [f"{n:,} {h}" for h, n in counts.items() if n]
    return ", ".join(used) if used else "no systems"


def answer_text(day: DayPlan, what: str) -> str:
    """The answer in a few lines under 100 columns: $/day, the reserved base, the peak, the savings."""
    t = day.totals
    n = day.periods.sizes["period"]
    lines = [f"Fleet over {n} period{'s' if n > 1 else ''} ({what}): ${t['cost_per_day']:,.0f}/day, "
             f"${t['cost_per_mtok']:.4f}/Mtok",
             f"  reserved base: ${t['reserved_cost_per_hour']:,.2f}/h ({_systems(t['reserved_systems'])})",
             f"  peak: ${t['peak_cost_per_hour']:,.2f}/h in period {t['peak_period']} "
             f"({_systems(t['peak_systems'])}); {t['peak_power_mw']:,.2f} MW at the wall"]
    for key, label in (("peak_on_demand", "every period sized for the peak at on-demand prices"),
                       ("all_on_demand", "all on-demand")):
        if f"saving_vs_{key}" not in t:
            continue
        if t[f"saving_vs_{key}"] is None:
            lines.append(f"  saving vs {label}: no baseline plan")
            continue
        lines.append(f"  saving vs {label}: ${t[f'saving_vs_{key}']:,.0f}/day "
                     f"({t[f'saving_vs_{key}_share']:.1%} of ${t[f'{key}_cost_per_day']:,.0f})")
    return "\n".join(lines)


def periods_text(day: DayPlan) -> str:
    """One line per period: demand, demand x burst, $/hour by tier, MW, tokens/s per MW, $/Mtok."""
    p = day.periods
    head = (f"{'period':>6}{'start h':>8}{'demand/s':>10}{'x burst':>9}"
            + "".join(f"{t:>12}" for t in TIERS) + f"{'MW':>7}{'tok/s/MW':>11}{'$/Mtok':>9}")
    lines = ["$/hour by tier:", head]
    for i in range(p.sizes["period"]):
        q = p.isel(period=i)
        lines.append(f"{int(q.period):>6}{float(q.period_start_h):>8.2f}{float(q.demand_rps):>10.3f}"
                     f"{float(q.demand_burst_rps):>9.3f}"
                     + "".join(f"{float(q.cost_per_hour.sel(tier=t)):>12,.2f}" for t in TIERS)
                     + f"{float(q.power_mw):>7.3f}{float(q.tokens_per_mw):>11,.0f}{float(q.cost_per_mtok):>9.4f}")
    return "\n".join(lines)


def _number(x: float) -> str:
    """``x`` to three decimals without trailing zeros: 24, 1.574, 12,345.5."""
    return f"{x:,.3f}".rstrip("0").rstrip(".")


def shortfalls_text(day: DayPlan) -> str:
    """Why there is no day plan, answer first: per binding cap, the periods it binds in and the
    largest shortfall, then one line per period and cap (all under 100 columns; the same rows are
    ``shortfalls`` in plan.json); or the (model, bucket) rows no column serves."""
    lines = [f"No plan over the day ({day.status.value}):"]
    s = day.shortfalls
    if "constraint" in s.columns:
        periods = day.profile.sizes["period"]
        known = s[s.shortfall.notna()]
        for constraint, rows in known.groupby("constraint", sort=False):
            worst = rows.loc[rows.shortfall.idxmax()]
            lines.append(f"  {constraint} binding in {len(rows)} of {periods} period{'s' if periods > 1 else ''}: "
                         f"short up to {_number(worst.shortfall)} {worst.units} (cap {_number(worst.cap)}, "
                         f"period {int(worst.period)})")
        lines += [f"  {r.constraint}: {r.detail}" for r in s[s.shortfall.isna()].itertuples()]
        if len(known):
            lines.append("per period (plan.json: shortfalls):")
            lines += [f"  {r.constraint}: short {r.shortfall:,.3f} {r.units}: {r.detail}" for r in known.itertuples()]
    else:
        for r in s.itertuples():
            lines.append(f"  {r.model} at ISL {r.bucket_isl:,}: {r.kind}, short {r.shortfall_rps:,.3g} of "
                         f"{r.demand_rps:,.3g} requests/s: {r.detail}")
    lines += [f"Note: {n}" for n in day.notes]
    return "\n".join(lines)


def day_text(day: DayPlan, what: str) -> str:
    """The report: the answer first, then the periods, or why there is no plan."""
    if not day.solved:
        return shortfalls_text(day)
    return answer_text(day, what) + "\n\n" + periods_text(day)


def demand_vs_capacity(day: DayPlan, target_utilization: float) -> Figure:
    """Demand over the horizon (mean and x burst) against the usable capacity (target utilization
    x requests/s of the serving replicas), stacked by tier."""
    p = day.periods
    start = p.period_start_h.values
    edges = np.concatenate([start, [start[-1] + p.period_hours.values[-1]]])
    panels = [("capacity_rps", "serving replicas (aggregated, decode)")]
    if float(p.prefill_capacity_rps.sum()) > 0:
        panels.append(("prefill_capacity_rps", "prefill replicas (disaggregated)"))
    fig = Figure(figsize=(9, 3.6 * len(panels) + 0.6))
    axes = np.atleast_1d(fig.subplots(len(panels), 1, sharex=True))
    for ax, (name, what) in zip(axes, panels):
        bottom = np.zeros(len(start))
        for tier in TIERS:
            usable = p[name].sel(tier=tier).values * target_utilization
            if not usable.any():
                continue
            ax.stairs(bottom + usable, edges, baseline=bottom, fill=True, color=TIER_COLOURS[tier], alpha=0.75,
                      label=f"{tier} capacity x {target_utilization:g}")
            bottom = bottom + usable
        ax.stairs(p.demand_burst_rps.values, edges, color="black", linewidth=2, label="demand x burst (to cover)")
        ax.stairs(p.demand_rps.values, edges, color="white", linestyle="--", linewidth=1.2, label="mean demand")
        ax.set_ylabel("requests per second (1/s)")
        ax.set_xlim(edges[0], edges[-1])
        ax.set_ylim(bottom=0)
        ax.set_title(f"Capacity of the {what}, stacked by tier", fontsize=10)
        ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("hour of the horizon (h)")
    fig.suptitle(f"Demand over the horizon against capacity: ${day.totals['cost_per_day']:,.0f}/day", fontsize=11)
    fig.tight_layout()
    return fig
