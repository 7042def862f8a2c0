"""Vectorized xarray cost model of LLM serving (docs/model.md §2): the pure core.

The public API: :func:`load_config` (compose and validate ``conf/``), :func:`evaluate` (the
grid as an ``xarray.Dataset``), :func:`cheapest_concurrency` / :func:`cheapest_under_sla` (the
cheapest concurrency meeting the SLA), the interactivity power law, and :class:`ConfigError`.
Nothing in this package but ``model.app`` (the Hydra application layer) writes files.
"""
from importlib.metadata import PackageNotFoundError, version

from model.cheapest import cheapest_concurrency, cheapest_under_sla
from model.config import load_config
from model.errors import ConfigError
from model.evaluate import VARIABLES, evaluate
from model.interactivity import fit_power_law, power_law_interactivity
from model.validate import validate

try:
    __version__ = version("llm-serving-economics")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__", "load_config", "evaluate", "VARIABLES", "cheapest_concurrency", "cheapest_under_sla",
           "fit_power_law", "power_law_interactivity", "ConfigError", "validate"]
