"""The interactive view (issue 13): a HoloViz Panel app over the toolkit's public API.

Four tabs: the calculator (one model on the compared hardware at a chosen ISL and
concurrency), the fleet plan (:func:`optimize.plan_fleet`), the Sobol analysis
(:func:`sensitivity.analyze`) and the uncertainty bands (:func:`sensitivity.uncertainty.analyze`).
Each shows the equivalent command line and offers its results for download once they exist.
In a server session the page's main inputs live in the URL's query (:func:`url_keys`,
:func:`keep_in_url`), so a link reopens the same view.  ``serving-view``
(:mod:`model.app.view.server`) serves it; in a notebook, ``create_app()`` returns the layout.
The core (``model/*.py``) never imports this package.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

if TYPE_CHECKING:  # Panel is imported when the app is made, not with the pure modules (state, cli, ...)
    import panel as pn

TITLE = "LLM serving economics: interactive view"
URL_DELAY_MS = 400  # the URL follows the inputs once they rest this long (off the slider's critical path)
HEADER = (
    '<div style="font-family:system-ui,-apple-system,\'Segoe UI\',sans-serif;padding:6px 4px 2px 4px">'
    '<span style="font-size:20px;font-weight:700;color:#111827">LLM serving economics</span>'
    '<span style="font-size:14px;color:#6b7280;margin-left:12px">systems, $/Mtok and the SLA for a model on '
    'Cerebras WSE-3 and GPUs; fleet plans; which assumptions matter</span></div>'
)


def url_keys(app: pn.Column) -> dict[str, tuple[object, str]]:
    """Query key -> (widget, parameter) of the inputs kept in the page's URL.

    Parameters
    ----------
    app
        :func:`create_app`'s layout.

    Returns
    -------
    dict
        ``tab`` (the open tab), the calculator's model, hardware, ISL, concurrency and SLA, the
        fleet tab's utilization, disaggregation and SLA, the sensitivity tab's model, hardware, N
        and SLA, and the uncertainty tab's hardware, SLA and scenarios.
    """
    c, f, s, u = (app.tabs[k] for k in ("calculator", "fleet", "sensitivity", "uncertainty"))
    return {
        "tab": (app.tab_widget, "active"),
        "model": (c.model, "value"), "hardware": (c.hardware, "value"), "isl": (c.isl_exact, "value"),
        "n": (c.concurrency, "value"), "sla": (c.min_interactivity, "value"), "ttft": (c.max_ttft, "value"),
        "fleet_utilization": (f.utilization, "value"), "fleet_disaggregation": (f.disaggregation, "value"),
        "fleet_sla": (f.sla, "value"),
        "sens_model": (s.model, "value"), "sens_hardware": (s.hardware, "value"), "sens_n": (s.n, "value"),
        "sens_sla": (s.sla, "value"),
        "unc_hardware": (u.hardware, "value"), "unc_sla": (u.sla, "value"), "unc_n": (u.n, "value"),
    }


def create_app() -> pn.Column:
    """The view's layout: a header and the calculator, fleet, sensitivity and uncertainty tabs.

    Returns
    -------
    panel.Column
        Serve it (``pn.serve``, ``serving-view``) or display it in a notebook after
        ``pn.extension()``.
    """
    import panel as pn

    from model.app.view.calculator import CalculatorTab
    from model.app.view.fleet import FleetTab
    from model.app.view.sensitivity_tab import SensitivityTab
    from model.app.view.uncertainty_tab import UncertaintyTab

    calculator, fleet, sensitivity, uncertainty = CalculatorTab(), FleetTab(), SensitivityTab(), UncertaintyTab()
    tabs = pn.Tabs(("Calculator", calculator.panel), ("Fleet plan", fleet.panel),
                   ("Sensitivity", sensitivity.panel), ("Uncertainty", uncertainty.panel), css_classes=["view-tabs"],
                   sizing_mode="stretch_width", margin=(0, 5))
    app = pn.Column(pn.pane.HTML(HEADER, sizing_mode="stretch_width", margin=(4, 10)), tabs,
                    sizing_mode="stretch_width")
    app.tabs = {"calculator": calculator, "fleet": fleet, "sensitivity": sensitivity,  # for tests and notebooks
                "uncertainty": uncertainty}
    app.tab_widget = tabs
    doc = pn.state.curdoc
    if doc is not None and doc.session_context is not None:  # a served page: a link reopens this view
        keep_in_url(app, pn.state.location, doc)
    return app


def url_value(value: Any) -> str:
    """A widget value as the URL's query holds it (Panel's ``parse_query`` reads it back)."""
    if isinstance(value, str):
        return value
    return json.dumps(list(value) if isinstance(value, tuple) else value)


def keep_in_url(app: pn.Column, location: Any, doc: Any) -> None:
    """Apply the link's query to the inputs of :func:`url_keys`, then write the inputs that differ
    from the defaults back to the URL once they rest for :data:`URL_DELAY_MS` (a slider move does
    not wait for the browser's history).

    Parameters
    ----------
    app
        :func:`create_app`'s layout.
    location
        The session's ``pn.state.location``.
    doc
        The session's Bokeh document.
    """
    keys = url_keys(app)
    defaults = {key: url_value(getattr(widget, name)) for key, (widget, name) in keys.items()}
    query = location.query_params
    for key, (widget, name) in keys.items():
        if key in query:
            try:
                widget.param.update(**{name: query[key]})
            except Exception:  # noqa: BLE001 - a stale or hand-edited link: that input keeps its default
                pass
    generation = [0]

    def write() -> None:
        values = {key: url_value(getattr(widget, name)) for key, (widget, name) in keys.items()
                  if getattr(widget, name) is not None}
        changed = {key: v for key, v in values.items() if v != defaults[key]}
        search = "?" + urlencode(changed) if changed else ""
        if location.search != search:
            location.search = search

    def schedule(*_: Any) -> None:
        generation[0] += 1
        mine = generation[0]
        doc.add_timeout_callback(lambda: write() if mine == generation[0] else None, URL_DELAY_MS)

    for widget, name in keys.values():
        widget.param.watch(schedule, name)


__all__ = ["create_app", "url_keys", "keep_in_url", "TITLE"]
