"""Small Panel pieces the tabs share: catalog-sourced inputs, the error alert, the command box, styles."""
from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import panel as pn

from model.app.view.sources import Note
from model.fields import field_docs
from model.schema import GridSpec, HardwareSpec, ModelSpec, SlaSpec, WorkloadSpec

TABLE_CSS = """
table.vt {border-collapse: collapse; font-family: system-ui, -apple-system, "Segoe UI", sans-serif;
          font-size: 13px; color: #1f2937;}
table.vt caption {text-align: left; font-weight: 600; font-size: 14px; padding: 2px 0 8px 0; color: #111827;}
table.vt th {text-align: right; padding: 4px 10px; border-bottom: 2px solid #d1d5db; font-weight: 600;
             white-space: nowrap;}
table.vt th.l, table.vt td.l {text-align: left;}
table.vt td {text-align: right; padding: 3px 9px; border-bottom: 1px solid #eef0f3; white-space: nowrap;
             font-variant-numeric: tabular-nums;}
table.vt td.u {text-align: left; color: #6b7280; font-size: 12px;}
table.vt tr.s td {background: #f3f4f6; font-weight: 600; text-align: left; color: #374151; font-size: 12.5px;
                  padding-top: 5px;}
table.vt td.no {color: #b91c1c; font-weight: 600;}
table.vt td.wrap {white-space: normal; text-align: left; min-width: 280px; max-width: 520px;}
table.vt td.yes {color: #15803d; font-weight: 600;}
.sw {display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px;}
.note {color: #6b7280; font-size: 12px;}
"""

ALERT_CSS = """
.err {background: #fdecea; color: #8a1c1c; border: 1px solid #f5c2c0; border-radius: 6px; padding: 8px 12px;
      font-family: system-ui, sans-serif; font-size: 13.5px;}
.err code {font-size: 13px;}
"""

CLI_CSS = """
.cli {font-family: system-ui, sans-serif; font-size: 12.5px; color: #374151;}
.cli code {display: block; background: #111827; color: #e5e7eb; padding: 8px 12px; border-radius: 6px;
           font-size: 12.5px; white-space: pre-wrap; word-break: break-all; margin-top: 3px;}
"""


def session_doc() -> Any:
    """The Bokeh document of the current server session (``None`` outside one: a notebook, a test)."""
    doc = pn.state.curdoc
    return doc if doc is not None and doc.session_context is not None else None


def on_loop(doc: Any, callback: Callable[[], None]) -> None:
    """Run ``callback`` on the session's event loop (Bokeh models may only change there), or now
    when there is no session.  Safe to call from a worker thread.

    Parameters
    ----------
    doc
        :func:`session_doc` as captured on the event loop.
    callback
        What to run.
    """
    if doc is None:
        callback()
    else:
        doc.add_next_tick_callback(callback)


class ErrorAlert:
    """A one-line error shown above a tab's results (hidden when there is none).

    Parameters
    ----------
    css_class
        The pane's CSS class (the browser tests find it by it).
    """

    def __init__(self, css_class: str = "view-error") -> None:
        self.pane = pn.pane.HTML("", visible=False, css_classes=[css_class], stylesheets=[ALERT_CSS],
                                 sizing_mode="stretch_width", margin=(5, 10))

    def show(self, line: str | None) -> None:
        """Show ``line`` (``None``: hide)."""
        if line is None:
            self.pane.visible = False
            self.pane.object = ""
            return
        self.pane.object = (f'<div class="err" data-error="{html.escape(line)}"><b>Input refused</b> '
                            f'(the previous results stay): <code>{html.escape(line)}</code></div>')
        self.pane.visible = True


class CommandBox:
    """The equivalent command line of a tab's state.

    Parameters
    ----------
    css_class
        The pane's CSS class.
    """

    def __init__(self, css_class: str) -> None:
        self.pane = pn.pane.HTML("", css_classes=[css_class], stylesheets=[CLI_CSS], sizing_mode="stretch_width",
                                 margin=(5, 10))

    def show(self, line: str, note: str = "") -> None:
        """Show the command ``line`` (with a short ``note`` above it)."""
        extra = f" {html.escape(note)}" if note else ""
        self.pane.object = (f'<div class="cli">Equivalent command (keys that differ from the defaults){extra}:'
                            f'<code data-command="{html.escape(line)}">{html.escape(line)}</code></div>')


def declared(key: str, label: str, note: str = "", schema: type | None = None) -> dict[str, str]:
    """A widget's ``label`` (with the field's declared unit) and ``description`` (the dotted key and the
    field's declared meaning, then ``note``), from the field's one declaration (:func:`model.fields.spec`).

    Parameters
    ----------
    key
        The dotted config key, e.g. ``sla.min_interactivity``.
    label
        The label's text before the unit.
    note
        Appended to the description.
    schema
        The dataclass declaring the field (default: the cost model's section the key starts with).
    """
    parts = key.split(".")
    cls = schema or {"sla": SlaSpec, "workload": WorkloadSpec, "grid": GridSpec, "hardware": HardwareSpec,
                     "models": ModelSpec}[parts[0]]
    doc = field_docs(cls)[parts[-1]]
    unit = f" ({doc.unit})" if doc.unit and label else ""
    return {"label": label + unit, "description": f"{key}: {doc.doc}{note}"}


def sourced_float(label: str, value: Any, note: Note, css_class: str, on_change: Callable[[Any], None],
                  width: int = 150, **params: Any) -> pn.widgets.FloatInput:
    """A number input of a catalog value: its source in the tooltip, ⚠ on uncertain values.

    Parameters
    ----------
    label
        The label (the uncertain mark is appended where it applies).
    value
        Initial value.
    note
        The key's provenance.
    css_class
        The widget's CSS class.
    on_change
        Called with the new value.
    width
        Pixels.
    **params
        Further ``FloatInput`` parameters.

    Returns
    -------
    panel.widgets.FloatInput
    """
    widget = pn.widgets.FloatInput(label=note.label(label), value=value, description=note.tooltip(),
                                   css_classes=[css_class], width=width, **params)
    widget.param.watch(lambda event: on_change(event.new), "value")
    return widget


def section(title: str, note: str = "") -> pn.pane.HTML:
    """A small section heading in a sidebar.

    Parameters
    ----------
    title
        Heading text.
    note
        Smaller text after it.

    Returns
    -------
    panel.pane.HTML
    """
    small = f' <span style="font-weight:400;color:#6b7280;font-size:12px">{html.escape(note)}</span>' if note else ""
    return pn.pane.HTML(f'<div style="font:600 14px system-ui,sans-serif;color:#111827;border-bottom:1px solid '
                        f'#e5e7eb;padding-bottom:3px">{html.escape(title)}{small}</div>',
                        sizing_mode="stretch_width", margin=(12, 10, 2, 10))
