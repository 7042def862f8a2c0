"""Config types of the Sobol analysis: parameters declared by dotted config key, each field declared once."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Dict, List, Optional

from omegaconf import MISSING

from model.app.schema import ModelAppConfig, schema_registrar
from model.fields import Section, spec


class Distribution(enum.Enum):
    uniform = "uniform"          # bounds [low, high]
    loguniform = "loguniform"    # bounds [low, high], both > 0
    triangular = "triangular"    # bounds [low, high], peak at `mode` (default: the midpoint)
    normal = "normal"            # mean and sd


@dataclass
class ParameterSpec:
    key: str = spec(MISSING, doc="dotted config key, e.g. hardware.cerebras_wse3.price_per_hour")
    distribution: Distribution = spec(Distribution.uniform,
                                      doc="uniform, loguniform, triangular or normal")
    bounds: Optional[List[float]] = spec(None, unit="key's unit", doc="[low, high] (not for normal)")
    relative: bool = spec(False, unit="bool", doc="bounds, mode, mean and sd are multiples of the key's config value")
    mode: Optional[float] = spec(None, unit="key's unit", doc="triangular peak (null: the midpoint)")
    mean: Optional[float] = spec(None, unit="key's unit", doc="normal mean")
    sd: Optional[float] = spec(None, unit="key's unit", doc="normal standard deviation")
    source: str = spec("", doc="where the range comes from")


# the ``parameters`` table of the Sobol analysis and of the uncertainty app: one ParameterSpec per name
PARAMETERS_DOC = ("name: {key, distribution (uniform, loguniform, triangular, normal), bounds [low, high], relative, "
                  "mode, mean, sd, source}")


@dataclass
class SensitivitySpec:
    n: int = spec(4096, unit="samples",
                  doc="base sample size N, a power of two: N (2D + 2) model runs with second order")
    seed: int = spec(1, doc="seed of the Sobol scrambling and the bootstrap, >= 1")
    second_order: bool = spec(True, unit="bool", doc="estimate second-order indices S2")
    conf_level: float = spec(0.95, unit="1", doc="confidence level of the bootstrap intervals")
    num_resamples: int = spec(100, unit="resamples", doc="bootstrap resamples")
    all_models: bool = spec(False, unit="bool",
                            doc="analyse every catalog model (a model dim) instead of select.models")
    convergence_tolerance: float = spec(0.05, unit="1", check="> 0",
                                        doc="warn when an ST moves more than this between N/2 and N")
    parameters: Dict[str, ParameterSpec] = spec(factory=dict, doc=PARAMETERS_DOC)


@dataclass
class SensitivityAppConfig(ModelAppConfig):
    sensitivity: SensitivitySpec = spec(factory=SensitivitySpec, doc="the Sobol analysis")


register_schemas = schema_registrar("sensitivity_schema", SensitivityAppConfig)


SENSITIVITY_SECTION = Section(order=20, config_name="sensitivity", prefix="sensitivity", schema=SensitivitySpec,
                              title="`python -m sensitivity` (conf/sensitivity.yaml, conf/sensitivity/default.yaml; "
                                    "`select` picks the model(s) and the one hardware type, default gpt_oss_120b "
                                    "on cerebras_wse3):",
                              register=register_schemas)
