"""The interactive view (issue 13): a HoloViz Panel app over the toolkit's public API.

Three tabs: the calculator (one model on the compared hardware at a chosen ISL and
concurrency), the fleet plan (:func:`optimize.plan_fleet`) and the Sobol analysis
(:func:`sensitivity.analyze`).  Each shows the equivalent command line and offers its results
for download.  ``serving-view`` (:mod:`model.app.view.server`) serves it; in a notebook,
``create_app()`` returns the layout.  The core (``model/*.py``) never imports this package.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Panel is imported when the app is made, not with the pure modules (state, cli, ...)
    import panel as pn

TITLE = "LLM serving economics: interactive view"
HEADER = (
    '<div style="font-family:system-ui,-apple-system,\'Segoe UI\',sans-serif;padding:6px 4px 2px 4px">'
    '<span style="font-size:20px;font-weight:700;color:#111827">LLM serving economics</span>'
    '<span style="font-size:14px;color:#6b7280;margin-left:12px">systems, $/Mtok and the SLA for a model on '
    'Cerebras WSE-3 and GPUs; fleet plans; which assumptions matter</span></div>'
)


def create_app() -> pn.Column:
    """The view's layout: a header and the calculator, fleet and sensitivity tabs.

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

    calculator, fleet, sensitivity = CalculatorTab(), FleetTab(), SensitivityTab()
    tabs = pn.Tabs(("Calculator", calculator.panel), ("Fleet plan", fleet.panel),
                   ("Sensitivity", sensitivity.panel), css_classes=["view-tabs"], sizing_mode="stretch_width",
                   margin=(0, 5))
    app = pn.Column(pn.pane.HTML(HEADER, sizing_mode="stretch_width", margin=(4, 10)), tabs,
                    sizing_mode="stretch_width")
    app.tabs = {"calculator": calculator, "fleet": fleet, "sensitivity": sensitivity}  # for tests and notebooks
    return app


__all__ = ["create_app", "TITLE"]
