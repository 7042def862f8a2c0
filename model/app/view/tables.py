"""The calculator's HTML tables (no Panel): the readouts per compared hardware, and the token spend.

Each number cell carries its exact value as ``data-value`` (``repr``), so that tests read what
:func:`model.evaluate` gave.
"""
from __future__ import annotations

import html

from model.app.view.readouts import READOUTS, format_number, readout_text
from model.app.view.state import CalculatorResult

SECTIONS = (
    ("Replica", ("systems", "weights_gb", "kv_gb", "layers_per_system", "capex")),
    ("Speed per request", ("interactivity", "cache_read_throughput", "ttft")),
    ("Cost", ("cost_per_mtok", "cost_per_output_mtok", "price_per_mtok", "margin_per_mtok", "meets_sla")),
    ("Cheapest concurrency meeting the SLA", ("best_concurrency", "best_cost_per_mtok", "best_interactivity")),
)
BY_NAME = {r.name: r for r in READOUTS}


def readout_html(result: CalculatorResult, colors: dict[str, str]) -> str:
    """The readout table of a result.

    Each number cell carries ``data-var``, ``data-hw`` and ``data-value`` (the exact number, as
    ``repr``), so that tests read what :func:`model.evaluate` gave.

    Parameters
    ----------
    result
        The calculator's result.
    colors
        Color per hardware type.

    Returns
    -------
    str
    """
    i = result.inputs
    sla = i.values.get("sla.min_interactivity")
    ttft = i.values.get("sla.max_ttft_s")
    sla_text = f"SLA ≥ {format_number(float(sla))} tok/s" + (f", TTFT ≤ {ttft:g} s" if ttft is not None else "")
    head = "".join(f'<th><span class="sw" style="background:{colors[h]}"></span>{html.escape(h)}</th>'
                   for h in i.hardware)
    rows = []
    for title, names in SECTIONS:
        rows.append(f'<tr class="s"><td colspan="{2 + len(i.hardware)}">{html.escape(title)}</td></tr>')
        for name in names:
            r = BY_NAME[name]
            cells = []
            for h in i.hardware:
                value = result.values[h].get(name)
                text = readout_text(r, value)
                cls = ""
                if name == "meets_sla" and value is not None:
                    cls = ' class="yes"' if value else ' class="no"'
                raw = "" if value is None else repr(float(value))
                cells.append(f'<td data-var="{name}" data-hw="{h}" data-value="{raw}"{cls}>{text}</td>')
            rows.append(f'<tr><td class="l">{html.escape(r.label)}</td><td class="u">{html.escape(r.unit)}</td>'
                        f'{"".join(cells)}</tr>')
    caption = (f"{html.escape(i.model)} at ISL {i.isl:,} tokens, N = <span data-n=\"{i.concurrency}\">"
               f"{i.concurrency:,}</span> requests / replica<br><span class=\"note\">{html.escape(sla_text)}</span>")
    return (f'<table class="vt" data-model="{html.escape(i.model)}" data-isl="{i.isl}" data-n="{i.concurrency}">'
            f'<caption>{caption}</caption><thead><tr><th class="l"></th><th class="l">unit</th>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def spend_html(result: CalculatorResult) -> str:
    """The token-spend table (docs/model.md §2.8) of a calculator result: tokens, price, spend and share per type."""
    s = result.spend
    if s is None:
        return '<p class="note">No price sheet in the workload: no token-spend table.</p>'
    rows = []
    for t in s.token_type.values:
        c = s.sel(token_type=t)
        rows.append(f'<tr><td class="l">{html.escape(str(t))}</td><td>{float(c.tokens):,.0f}</td>'
                    f'<td>{float(c.price):,.2f}</td><td>{float(c.spend):.4f}</td><td>{float(c.share):.1%}</td></tr>')
    rows.append(f'<tr><td class="l"><b>all</b></td><td><b>{float(s.total_tokens):,.0f}</b></td>'
                f'<td><b>{float(s.price_per_mtok):,.3f}</b></td><td><b>{float(s.total_spend):.4f}</b></td>'
                f'<td><b>100%</b></td></tr>')
    return (f'<table class="vt"><caption>Token spend per request at ISL {result.inputs.isl:,} '
            f'(the price sheet)</caption><thead><tr><th class="l">token type</th><th>tokens</th>'
            f'<th>$/Mtok</th><th>$ / request</th><th>share</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')
