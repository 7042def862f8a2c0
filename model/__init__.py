"""Vectorized xarray cost model of LLM serving (SPEC §2)."""
from model.config import load_config
from model.evaluate import VARIABLES, evaluate
from model.interactivity import fit_power_law, power_law_interactivity
from model.validate import ConfigError, validate

__all__ = ["load_config", "evaluate", "VARIABLES", "fit_power_law", "power_law_interactivity",
           "ConfigError", "validate"]
