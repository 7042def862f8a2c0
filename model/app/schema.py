"""The apps' settings and Hydra's registration of every schema of the cost model's apps.

The cost model's own inputs are :class:`model.schema.ModelConfig`; here are what only the
applications read: plots, the dask cluster, result files, and the GPU calibration command (its
benchmark files and the catalog files it may replace).  :func:`register_schemas` puts the primary
configs in Hydra's ConfigStore; :mod:`model.app.config` composes them.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore

from model.fields import Section, spec
from model.schema import ModelConfig


@dataclass
class PlotSpec:
    enabled: bool = spec(True, unit="bool", doc="save PNG plots")
    feasibility_hardware: str = spec("cerebras_wse3", doc="hardware of the feasibility diagram")
    feasibility_reference_model: str = spec(
        "deepseek_v3", doc="model whose bytes per parameter and KV per token fill the diagram")
    feasibility_params_b: List[float] = spec(factory=lambda: [10.0, 10_000.0], unit="B params",
                                             doc="parameter range of the diagram")


@dataclass
class DaskSpec:
    """Grids larger than memory: evaluate lazily in chunks on a dask cluster, write chunk by chunk."""

    enabled: bool = spec(False, unit="bool",
                         doc="python -m model: evaluate lazily in chunks on dask, write grid.nc chunk by chunk")
    # every dim is a key (null: the default length), so that dask.chunks.isl=8 needs no '+'
    chunks: Dict[str, Optional[int]] = spec(factory=lambda: {"model": None, "hardware": None, "isl": None,
                                                             "concurrency": None}, unit="cells",
                                            doc="chunk length per dim (model, hardware, isl, concurrency); "
                                                "null: the default")
    address: Optional[str] = spec(None, doc="dask scheduler address, e.g. tcp://127.0.0.1:8786 (null: a local cluster)")
    connect_timeout_s: float = spec(10.0, unit="s", check="> 0",
                                    doc="how long to wait for the scheduler at dask.address before refusing")
    n_workers: int = spec(2, unit="workers", check=">= 1", doc="local cluster worker processes")


@dataclass
class OutputSpec:
    """How result files are written."""

    compression: bool = spec(True, unit="bool", doc="zlib-compress netCDF variables (lossless)")
    float32: bool = spec(False, unit="bool", doc="store float64 variables of grid.nc as float32 (~7 digits)")
    detail: bool = spec(False, unit="bool", doc="print the detailed tables after the summary (they are always "
                        "in the run directory's files)")


@dataclass
class ModelAppConfig(ModelConfig):
    """``python -m model``'s config: the cost model's inputs and the app's settings."""

    plots: PlotSpec = spec(factory=PlotSpec, doc="plots")
    dask: DaskSpec = spec(factory=DaskSpec, doc="out-of-core evaluation")
    output: OutputSpec = spec(factory=OutputSpec, doc="result files")


@dataclass
class CalibrationSpec:
    """The GPU calibration command: fit the GPU decode model to measured points."""

    data: str = spec("model/data/inferencex/gpu-benchmarks-inferencex.csv",
                     doc="benchmark CSV, relative to the repository")
    length_factor: float = spec(0.9, unit="1", check="[0.5, 1]",
                                doc="mean length / nominal length of the benchmark requests, drawn uniformly "
                                "from [2 x length_factor - 1, 1] x nominal")
    requests_per_user: float = spec(10.0, unit="1", check="> 0",
                                    doc="requests each benchmark client sends in a run (its prompts / its "
                                    "concurrency): the run's last requests trail its steady state, so the "
                                    "output tok/s it reports is lower (docs/model.md §10)")
    weights_gb: Dict[str, Any] = spec(factory=dict, unit="GB",
                                      doc="checkpoint size per (model, precision) of the benchmark rows")
    per_hardware: List[str] = spec(factory=lambda: ["bandwidth_efficiency", "layer_overhead_s", "prefill_efficiency",
                                                   "prefill_overhead_s"],
                                   doc="hardware keys fitted per GPU type")
    shared: List[str] = spec(factory=lambda: ["compute_efficiency"],
                             doc="hardware keys fitted once for all GPU types (kept if not identified)")
    inherit: Dict[str, str] = spec(factory=dict, doc="GPU types without points: take another type's values")
    cross_validate: bool = spec(False, unit="bool", doc="also report leave-one-out errors")
    write: bool = spec(False, unit="bool", doc="also replace calibration.target with the fitted values (the run "
                       "directory always gets them)")
    target: str = spec("conf/hardware/gpu_calibration.yaml", doc="catalog file written, relative to the repository")
    error_target: str = spec("conf/uncertainty/model_error/gpu_leave_one_out.yaml",
                             doc="model-error file written with write=true and cross_validate=true (the leave-one-out "
                                 "spread the uncertainty app draws GPU error factors from), relative to the repository")
    configurations: str = spec("", doc="docs/model.md §10 benchmark CSV of serving configurations (aggregated and "
                               "disaggregated DeepSeek-R1 runs), relative to the repository (empty: none)")
    configuration_recipes: str = spec("", doc="the configuration runs' serving recipes (each disaggregated "
                                      "configuration and concurrency of the benchmark's config file with its decode "
                                      "workers' max_batch_size: a worker runs at most that many requests, per rank "
                                      "under attention-DP), relative to the repository (empty: none)")
    configurations_model: str = spec("deepseek_r1", doc="the configuration runs' model (its architecture is read "
                                     "from models.<name>; each GPU type's memory, links and peaks from "
                                     "hardware.<gpu>)")
    routed_bits: Dict[str, float] = spec(factory=dict, unit="bits", doc="bits per routed-expert weight of the "
                                         "runs' checkpoint, by precision (fp8, fp4)")
    other_bits: float = spec(8.0, unit="bits", check="> 0", doc="bits per weight outside the routed experts")
    stacks: Dict[str, Any] = spec(factory=dict, doc="per serving-stack family: kv_bits; mtp_draft_tokens (the most); "
                                  "mtp_draft_per_batch (its attention-DP workers pick 1..most per batch); "
                                  "recipe_batch_per_rank (its disaggregated attention-DP decode workers run at most "
                                  "the recipe's batch per rank); prefill_chunk_tokens")
    source: Dict[str, str] = spec(factory=dict, doc="where each value comes from, by field")


@dataclass
class CalibrateAppConfig(ModelAppConfig):
    calibration: CalibrationSpec = spec(factory=CalibrationSpec, doc="the GPU calibration")


def register_schemas() -> None:
    """Put the cost model's schemas in Hydra's ConfigStore (idempotent); call before composing."""
    store = ConfigStore.instance()
    store.store(name="model_schema", node=ModelAppConfig)
    store.store(name="calibrate_schema", node=CalibrateAppConfig)


def schema_registrar(name: str, node: type, base: Callable[[], None] = register_schemas) -> Callable[[], None]:
    """An app's ``register_schemas``: the schemas ``base`` puts in Hydra's ConfigStore (the cost model's by
    default), then ``node`` under ``name`` (idempotent); call before composing."""
    def register() -> None:
        base()
        ConfigStore.instance().store(name=name, node=node)

    register.__doc__ = (f"Put the ``{name}`` schema (and those it builds on) in Hydra's ConfigStore; "
                        "call before composing.")
    return register


# The config reference (docs/config.md, written by model.app.docs) lists these; pyproject.toml names them.
MODEL_SECTION = Section(order=0, config_name="model", prefix="", schema=ModelAppConfig,
                        title="Other keys:", register=register_schemas,
                        exclude=("hardware", "models"))
CALIBRATION_SECTION = Section(order=90, config_name="calibrate", prefix="calibration", schema=CalibrationSpec,
                              title="`python -m model.app.calibrate` (conf/calibrate.yaml):",
                              register=register_schemas)
