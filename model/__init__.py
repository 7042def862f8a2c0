"""Vectorized xarray cost model of LLM serving (docs/model.md §2): the pure core.

The public API: :func:`load_config` (compose and validate ``conf/``) and :func:`validate`, both
the app layer's (:mod:`model.app.config`, :mod:`model.app.validate`: Hydra stays out of the core),
:func:`evaluate` (the grid as an ``xarray.Dataset``), :func:`cheapest_concurrency` /
:func:`cheapest_under_sla` (the cheapest concurrency meeting the SLA), the interactivity power
law, and :class:`ConfigError`.  The core's functions take typed inputs (:class:`model.schema.ModelConfig`,
which a composed config is field for field).  Nothing in this package but ``model.app`` (the
Hydra application layer) writes files.

The names load lazily (:mod:`model.exports`): ``import model`` loads no xarray, so the apps'
``--help`` and their refusals of bad input start fast.
"""
from model.exports import lazy_exports

__all__ = ["__version__", "load_config", "evaluate", "VARIABLES", "cheapest_concurrency", "cheapest_under_sla",
           "fit_power_law", "power_law_interactivity", "ConfigError", "validate"]

lazy_exports(__name__, {
    "__version__": "model.version",
    "load_config": "model.app.config", "evaluate": "model.evaluate", "VARIABLES": "model.evaluate",
    "cheapest_concurrency": "model.cheapest", "cheapest_under_sla": "model.cheapest",
    "fit_power_law": "model.interactivity", "power_law_interactivity": "model.interactivity",
    "ConfigError": "model.errors", "validate": "model.app.validate",
})
