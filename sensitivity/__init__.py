"""Global (Sobol) sensitivity of $/Mtok to the toolkit's assumptions, with SALib (docs/model.md §6).

The steps mirror SALib's modules: :mod:`sensitivity.sample` (the SALib problem of the declared
parameters and its Sobol design), :mod:`sensitivity.evaluate` (the cost model on all samples in
one call), :mod:`sensitivity.sobol` (the generic estimators, which need no cost model) and
:mod:`sensitivity.analysis` (:func:`analyze`, the three composed).  ``sample`` and
``evaluate_design`` are not re-exported here, so that ``sensitivity.sample`` and
``sensitivity.evaluate`` stay the modules.
"""
from __future__ import annotations

from model.app.loading import app_config_api
from model.exports import lazy_exports
from sensitivity.schema import register_schemas

# the cost model's checks, then the app's own
validate, load_config = app_config_api("sensitivity", register_schemas, ("sensitivity.validate:validate_sensitivity",))

__all__ = ["sobol", "estimate", "indices", "problem", "analyze", "load_config", "validate", "register_schemas"]

lazy_exports(__name__, {"sobol": "sensitivity.sobol", "estimate": "sensitivity.sobol", "indices": "sensitivity.sobol",
                        "problem": "sensitivity.sample", "analyze": "sensitivity.analysis"})
