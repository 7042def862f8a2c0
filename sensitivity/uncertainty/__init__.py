"""Decisions under uncertainty (issue 14): how sure is the answer?

The steps mirror the Sobol analysis': :mod:`~sensitivity.uncertainty.scenarios` (the uncertain
inputs as a scrambled Sobol design, the GPU model error among them), :mod:`~sensitivity.uncertainty.bands`
(the cost model on every scenario in one vectorized pass, then quantiles) and
:mod:`~sensitivity.uncertainty.win` (how often each hardware type is the cheapest meeting the
SLA); :mod:`~sensitivity.uncertainty.analysis` composes them.  The robust fleet plan is
:mod:`optimize.robust`, the price to beat :mod:`model.price_to_beat`.  ``python -m
sensitivity.uncertainty`` (``serving-uncertainty``) runs it all.
"""
from __future__ import annotations

from model.app.loading import app_config_api
from model.exports import lazy_exports
from sensitivity.uncertainty.schema import register_schemas

# the cost model's checks, then the fleet's and the uncertainty app's
validate, load_config = app_config_api("uncertainty", register_schemas, (
    "optimize.validate:validate_fleet", "sensitivity.uncertainty.validate:validate_uncertainty"))

__all__ = ["analyze", "draw", "scenario_params", "win_probability", "isl_values", "load_config", "validate",
           "register_schemas"]

lazy_exports(__name__, {"analyze": "sensitivity.uncertainty.analysis", "isl_values": "sensitivity.uncertainty.analysis",
                        "draw": "sensitivity.uncertainty.scenarios",
                        "scenario_params": "sensitivity.uncertainty.scenarios",
                        "win_probability": "sensitivity.uncertainty.win"})
