"""The README's config reference, generated from the config so that it cannot drift."""
from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from model.config import FIELD_DOCS

SECTION_DOCS: dict[str, tuple[str, str]] = {
    "workload.name": ("", "workload label"),
    "workload.isl": ("tokens", "input-side tokens per request L (P50) for reports"),
    "workload.osl": ("tokens", "output tokens per request (null: L * m_output / (1 - m_output))"),
    "workload.concurrency": ("requests", "concurrent requests per replica for single-point reports"),
    "workload.mix.cache_read": ("1", "fraction of all tokens that are cache reads"),
    "workload.mix.cache_write": ("1", "fraction of all tokens that are cache writes"),
    "workload.mix.input": ("1", "fraction of all tokens that are fresh input"),
    "workload.mix.output": ("1", "fraction of all tokens that are output"),
    "workload.price_sheet.cache_read": ("$/Mtok", "selling price of cache reads"),
    "workload.price_sheet.cache_write": ("$/Mtok", "selling price of cache writes"),
    "workload.price_sheet.input": ("$/Mtok", "selling price of fresh input"),
    "workload.price_sheet.output": ("$/Mtok", "selling price of output"),
    "grid.isl_min": ("tokens", "smallest log-spaced ISL"),
    "grid.isl_max": ("tokens", "largest log-spaced ISL"),
    "grid.isl_points": ("points", "log-spaced ISL points"),
    "grid.isl_extra": ("tokens", "ISLs added to the grid"),
    "grid.concurrency_min": ("requests", "smallest concurrency"),
    "grid.concurrency_max": ("requests", "largest concurrency"),
    "grid.concurrency_step": ("requests", "concurrency step"),
    "sla.min_interactivity": ("tok/s", "least output tok/s per request that meets the SLA"),
    "select.models": ("", "models evaluated (names from models.*)"),
    "select.hardware": ("", "hardware evaluated (names from hardware.*)"),
    "plots.enabled": ("bool", "save PNG plots"),
    "dask.enabled": ("bool", "python -m model: evaluate lazily in chunks on dask, write grid.nc chunk by chunk"),
    "dask.chunks": ("cells", "chunk length per dim (model, hardware, isl, concurrency); missing: defaults"),
    "dask.address": ("", "dask scheduler address (null: a local cluster)"),
    "dask.n_workers": ("workers", "local cluster worker processes"),
    "plots.feasibility_hardware": ("", "hardware of the feasibility diagram"),
    "plots.feasibility_reference_model": ("", "model whose bytes per parameter and KV per token fill the diagram"),
    "plots.feasibility_params_b": ("B params", "parameter range of the diagram"),
}


CALIBRATION_DOCS: dict[str, tuple[str, str]] = {
    "calibration.data": ("", "benchmark CSV, relative to the repository"),
    "calibration.length_factor": ("1", "mean length / nominal length of the benchmark requests"),
    "calibration.weights_gb": ("GB", "checkpoint size per (model, precision) of the benchmark rows"),
    "calibration.per_hardware": ("", "hardware keys fitted per GPU type"),
    "calibration.shared": ("", "hardware keys fitted once for all GPU types (kept if not identified)"),
    "calibration.inherit": ("", "GPU types without points: take another type's values"),
    "calibration.cross_validate": ("bool", "also report leave-one-out errors"),
    "calibration.write": ("bool", "write the fitted values to calibration.target"),
    "calibration.target": ("", "catalog file written, relative to the repository"),
}


FLEET_DOCS: dict[str, tuple[str, str]] = {
    "fleet.demand": ("1/s", "requests/s per model (null: demand_default)"),
    "fleet.demand_default": ("1/s", "requests/s of each selected model whose demand is null (SPEC §5 default)"),
    "fleet.isl.kind": ("", "ISL distribution: p50 (one bucket at workload.isl), lognormal, buckets"),
    "fleet.isl.median": ("tokens", "lognormal median ISL (null: workload.isl)"),
    "fleet.isl.sigma": ("1", "lognormal sigma of ln ISL"),
    "fleet.isl.buckets": ("buckets", "lognormal: equal-probability buckets, each at its median quantile"),
    "fleet.isl.explicit": ("tokens, 1", "buckets: list of {isl, weight}, weights summing to 1"),
    "fleet.sla": ("tok/s", "least output tok/s per request by model (null: sla.min_interactivity)"),
    "fleet.target_utilization": ("1", "largest share of capacity used: demand <= utilization x capacity"),
    "fleet.inventory": ("systems", "most systems available by hardware type (null: no cap)"),
    "fleet.prune": ("bool", "drop dominated concurrency levels before building the MILP"),
    "fleet.solver.time_limit_s": ("s", "HiGHS time limit; a plan found by then is returned as time_limit"),
    "fleet.solver.mip_rel_gap": ("1", "HiGHS relative MIP gap"),
    "fleet.solver.threads": ("threads", "HiGHS threads (null: HiGHS default)"),
}


SENSITIVITY_DOCS: dict[str, tuple[str, str]] = {
    "sensitivity.n": ("samples", "base sample size N, a power of two: N (2D + 2) model runs with second order"),
    "sensitivity.seed": ("", "seed of the Sobol scrambling and the bootstrap, >= 1"),
    "sensitivity.second_order": ("bool", "estimate second-order indices S2"),
    "sensitivity.conf_level": ("1", "confidence level of the bootstrap intervals"),
    "sensitivity.num_resamples": ("resamples", "bootstrap resamples"),
    "sensitivity.all_models": ("bool", "analyse every catalog model (a model dim) instead of select.models"),
    "sensitivity.convergence_tolerance": ("1", "warn when an ST moves more than this between N/2 and N"),
    "sensitivity.parameters": ("", "name: {key, distribution (uniform, loguniform, triangular, normal), "
                               "bounds [low, high], relative, mode, mean, sd, source}"),
}


def _fmt(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def _catalog_rows(group: str, catalog: DictConfig) -> list[str]:
    rows = []
    for name, entry in catalog.items():
        plain = OmegaConf.to_container(entry, resolve=True, enum_to_str=True)
        sources, uncertain = plain.pop("source"), set(plain.pop("uncertain"))
        plain.pop("description")
        defaults = OmegaConf.to_container(OmegaConf.structured(OmegaConf.get_type(entry)), enum_to_str=True)
        for field, value in plain.items():
            units, meaning = FIELD_DOCS[field]
            if value is None:
                default = "not set"
            elif value == defaults.get(field):
                default = "schema default (SPEC §2)"
            else:
                default = f"set in conf/{group}/catalog.yaml"
            source = sources.get(field, default)
            if field in uncertain:
                source = f"**uncertain** — {source}"
            rows.append(f"| `{group}.{name}.{field}` | {units} | {_fmt(value)} | {source} |")
    return rows


def config_reference(cfg: DictConfig, sections: dict[str, tuple[str, str]] | None = None) -> str:
    """Markdown tables of every config key: unit, default and source (or meaning)."""
    docs = dict(SECTION_DOCS, **(sections or {}))
    out = ["Field meanings (hardware.<name>.<field>, models.<name>.<field>):", "",
           "| field | unit | meaning |", "|---|---|---|"]
    out += [f"| `{f}` | {u} | {m} |" for f, (u, m) in FIELD_DOCS.items()]
    for group in ("hardware", "models"):
        out += ["", f"<details><summary><code>{group}.*</code>: catalog values and sources</summary>", "",
                "| key | unit | default | source |", "|---|---|---|---|"]
        out += _catalog_rows(group, cfg[group])
        out += ["", "</details>"]
    out += ["", key_table(cfg, docs, "Other keys:")]
    return "\n".join(out)


START, END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"


def update_readme(path: str, text: str) -> bool:
    """Replace the block between the README's markers with ``text``; True if it changed."""
    with open(path, encoding="utf-8") as f:
        readme = f.read()
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{START}\n{text}\n{END}{tail}"
    if new != readme:
        with open(path, "w", encoding="utf-8") as f:
            f.write(new)
    return new != readme


def key_table(cfg: DictConfig, docs: dict[str, tuple[str, str]], title: str) -> str:
    """A table of ``docs`` keys with their value in ``cfg`` and their source where recorded."""
    out = [title, "", "| key | unit | default | meaning and source |", "|---|---|---|---|"]
    for key, (units, meaning) in docs.items():
        value = OmegaConf.select(cfg, key)
        if OmegaConf.is_config(value):
            value = OmegaConf.to_container(value, resolve=True)
        parts, source = key.split("."), None
        for depth in (1, 2):  # workload.source.isl for workload.isl, workload.source.mix for workload.mix.*
            sources = OmegaConf.select(cfg, ".".join(parts[:-depth]) + ".source") if len(parts) > depth else None
            if sources is not None and parts[-depth] in sources:
                source = sources[parts[-depth]]
                break
        out.append(f"| `{key}` | {units} | {_fmt(value)} | {meaning}"
                   + (f" (source: {source})" if source else "") + " |")
    return "\n".join(out)


def readme_reference() -> str:
    """The config reference as the README shows it (all apps' configs)."""
    from model.config import load_config

    from optimize import load_config as load_optimize
    from sensitivity import load_config as load_sensitivity

    parts = [config_reference(load_config()),
             key_table(load_optimize(), FLEET_DOCS, "`python -m optimize` (conf/optimize.yaml, conf/fleet/default.yaml; "
                       "`select.hardware` is the hardware on offer, default cerebras_wse3 and b200):"),
             key_table(load_sensitivity(), SENSITIVITY_DOCS,
                       "`python -m sensitivity` (conf/sensitivity.yaml, conf/sensitivity/default.yaml; "
                       "`select` picks the model(s) and the one hardware type, default gpt_oss_120b on cerebras_wse3):"),
             key_table(load_config(config_name="calibrate"), CALIBRATION_DOCS,
                       "`python -m model.calibrate` (conf/calibrate.yaml):")]
    return "\n\n".join(parts)


if __name__ == "__main__":
    import sys

    target = sys.argv[1] if len(sys.argv) > 1 else "README.md"
    changed = update_readme(target, readme_reference())
    print(f"{target}: config reference {'updated' if changed else 'already current'}")
