"""The interactive view (issue 13): a HoloViz Panel app over the toolkit's public API.

Each app owns its tab and registers it by entry point (:mod:`model.app.view.tabs`): the
calculator (one model on the compared hardware at a chosen ISL and concurrency, here in
:mod:`model.app.view.calculator`), the fleet plan (:mod:`optimize.view_tab`), the Sobol analysis
(:mod:`sensitivity.view_tab`) and the uncertainty bands (:mod:`sensitivity.uncertainty.view_tab`).
This package never imports ``optimize`` or ``sensitivity``.  Each tab shows the equivalent
command line and offers its results for download once they exist.
In a server session the page's main inputs live in the URL's query (:func:`url_keys`,
:func:`keep_in_url`), so a link reopens the same view.  ``serving-view``
(:mod:`model.app.view.server`) serves it; in a notebook, ``create_app()`` returns the layout.
The core (``model/*.py``) never imports this package.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from model.app.view.tabs import LazyTabs, installed_tab, installed_tabs, url_tabs

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


def tab_url_keys(name: str, tab: Any) -> dict[str, tuple[object, str]]:
    """Query key -> (widget, parameter) of one built tab's inputs kept in the URL (see :func:`url_keys`)."""
    return installed_tab(name).url_widgets(tab)


def url_keys(app: pn.Column) -> dict[str, tuple[object, str]]:
    """Query key -> (widget, parameter) of the inputs kept in the page's URL.

    Parameters
    ----------
    app
        :func:`create_app`'s layout.

    Returns
    -------
    dict
        ``tab`` (the open tab) and each registered tab's ``url_keys`` (every tab is built): the
        calculator's model, hardware, ISL, concurrency and SLA, the fleet tab's utilization,
        disaggregation and SLA, the sensitivity tab's model, hardware, N and SLA, and the
        uncertainty tab's hardware, SLA and scenarios.
    """
    out: dict[str, tuple[object, str]] = {"tab": (app.tab_widget, "active")}
    for name in app.tabs:
        out.update(tab_url_keys(name, app.tabs[name]))
    return out


def create_app() -> pn.Column:
    """The view's layout: a header and the calculator, fleet, sensitivity and uncertainty tabs.

    Returns
    -------
    panel.Column
        Serve it (``pn.serve``, ``serving-view``) or display it in a notebook after
        ``pn.extension()``.
    """
    import panel as pn

    specs = installed_tabs()
    names = [spec.name for spec in specs]
    holders = {name: pn.Column(sizing_mode="stretch_width", margin=0) for name in names}
    lazy = LazyTabs({spec.name: spec.make for spec in specs}, holders)
    tabs = pn.Tabs(*[(spec.title, holders[spec.name]) for spec in specs],
                   css_classes=["view-tabs"], sizing_mode="stretch_width", margin=(0, 5))
    lazy[names[0]]  # the first tab is built with the page; the others when first opened
    tabs.param.watch(lambda event: lazy[names[event.new]] if 0 <= event.new < len(names) else None, "active")
    app = pn.Column(pn.pane.HTML(HEADER, sizing_mode="stretch_width", margin=(4, 10)), tabs,
                    sizing_mode="stretch_width")
    app.tabs = lazy  # for tests and notebooks: app.tabs["fleet"] builds the fleet tab if it is not yet
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
    not wait for the browser's history).  Tabs not built yet (:class:`LazyTabs`) hold their
    defaults, so they add nothing to the URL; each one's inputs join when it is built, and a link
    naming one of its inputs builds it.

    Parameters
    ----------
    app
        :func:`create_app`'s layout.
    location
        The session's ``pn.state.location``.
    doc
        The session's Bokeh document.
    """
    keys: dict[str, tuple[object, str]] = {}
    defaults: dict[str, str] = {}
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

    def follow(new: dict[str, tuple[object, str]]) -> None:
        for key, (widget, name) in new.items():
            keys[key] = (widget, name)
            defaults[key] = url_value(getattr(widget, name))
            widget.param.watch(schedule, name)

    follow({"tab": (app.tab_widget, "active")})
    tabs = app.tabs
    for tab_name in (tabs.built() if isinstance(tabs, LazyTabs) else list(tabs)):
        follow(tab_url_keys(tab_name, tabs[tab_name]))
    if isinstance(tabs, LazyTabs):
        tabs.on_build.append(lambda tab_name, tab: follow(tab_url_keys(tab_name, tab)))
    query = location.query_params
    owners = url_tabs()
    for key in query:
        if key in owners:
            tabs[owners[key]]  # build the tab whose input the link names (its defaults recorded first)
    for key, (widget, name) in list(keys.items()):
        if key in query:
            try:
                widget.param.update(**{name: query[key]})
            except Exception:  # noqa: BLE001 - a stale or hand-edited link: that input keeps its default
                pass


__all__ = ["create_app", "url_keys", "tab_url_keys", "keep_in_url", "LazyTabs", "TITLE"]
