"""Step 1 of the analysis: the SALib problem of the declared parameters, and its Sobol design.

:func:`problem` resolves the declarations of ``sensitivity.parameters`` (bounds, relative scaling,
distribution) into a SALib problem dict.  :func:`sample` draws the design; it is the generic
engine's (:func:`sensitivity.sobol.sample`, a wrapper of ``SALib.sample.sobol.sample``), which
lives there so that the engine runs without the cost model, and is re-exported here so that the
steps read ``sample`` -> ``evaluate`` -> ``estimate`` as in SALib.
"""
from __future__ import annotations

import copy

from omegaconf import DictConfig, OmegaConf

from sensitivity.schema import Distribution
from sensitivity.sobol import sample

__all__ = ["problem", "sample", "applicable"]


def problem(cfg: DictConfig) -> dict:
    """The SALib problem of the declared parameters (bounds resolved, SALib distributions).

    Parameters
    ----------
    cfg
        A validated sensitivity config (``sensitivity.parameters``).

    Returns
    -------
    dict
        ``num_vars``, ``names`` (the declarations' names), ``bounds`` and ``dists`` (``unif``,
        ``logunif``, ``triang``, ``norm``), values scaled by the key's config value where
        ``relative``.
    """
    names, bounds, dists = [], [], []
    for name, p in cfg.sensitivity.parameters.items():
        scale = float(OmegaConf.select(cfg, p.key)) if p.relative else 1.0
        names.append(name)
        if p.distribution == Distribution.normal:
            bounds.append([p.mean * scale, p.sd * scale])
            dists.append("norm")
            continue
        low, high = (float(v) * scale for v in p.bounds)
        if p.distribution == Distribution.uniform:
            bounds.append([low, high])
            dists.append("unif")
        elif p.distribution == Distribution.loguniform:
            bounds.append([low, high])
            dists.append("logunif")
        else:  # triangular: SALib takes [start, end, peak as a fraction of the width]
            mode = (low + high) / 2 if p.mode is None else float(p.mode) * scale
            bounds.append([low, high, (mode - low) / (high - low)])
            dists.append("triang")
    return {"num_vars": len(names), "names": names, "bounds": bounds, "dists": dists}


def applicable(cfg: DictConfig, models: list[str]) -> tuple[DictConfig, list[str]]:
    """The declared parameters narrowed to what the analysed selection can feel, and why.

    - A parameter keyed to a hardware that is not analysed (``hardware.b200.*`` while
      ``select.hardware`` is ``[cerebras_wse3]``) is left out: its index would be 0 by construction.
    - The ISL (``workload.isl``, absolute bounds) is capped at the smallest ``max_context`` of the
      analysed ``models``, so that no sample asks a model for more context than it has; a
      parameter whose whole range lies beyond that context is left out.

    Parameters
    ----------
    cfg
        A validated sensitivity config.
    models
        The analysed models.

    Returns
    -------
    tuple
        The config with ``sensitivity.parameters`` narrowed (``cfg`` itself if nothing changes),
        and one line per change saying what and why.
    """
    hardware = set(cfg.select.hardware)
    context = min(int(cfg.models[m].max_context) for m in models)
    tightest = min(models, key=lambda m: int(cfg.models[m].max_context))
    drop, cap, notes = [], {}, []
    for name, p in cfg.sensitivity.parameters.items():
        parts = str(p.key).split(".")
        if parts[0] == "hardware" and len(parts) > 2 and parts[1] not in hardware:
            drop.append(name)
            notes.append(f"{name} ({p.key}) left out: {parts[1]} is not analysed "
                         f"(select.hardware={list(cfg.select.hardware)})")
        elif p.key == "workload.isl" and not p.relative and p.distribution != Distribution.normal:
            low, high = (float(v) for v in p.bounds)
            if low >= context:
                drop.append(name)
                notes.append(f"{name} (workload.isl) left out: its range [{low:,.0f}, {high:,.0f}] lies beyond "
                             f"{tightest}'s max_context of {context:,} tokens")
            elif high > context:
                cap[name] = [low, float(context)]
                notes.append(f"{name} (workload.isl) sampled in [{low:,.0f}, {context:,}], not up to {high:,.0f}: "
                             f"{tightest}'s max_context is {context:,} tokens")
    if not drop and not cap:
        return cfg, notes
    out = copy.deepcopy(cfg)  # keeps the schema's types (enums, structured nodes)
    OmegaConf.set_readonly(out, False)
    OmegaConf.set_struct(out, False)
    for name in drop:
        del out.sensitivity.parameters[name]
    for name, bounds in cap.items():
        out.sensitivity.parameters[name].bounds = bounds
        mode = out.sensitivity.parameters[name].mode
        if mode is not None and not bounds[0] <= float(mode) <= bounds[1]:
            out.sensitivity.parameters[name].mode = (bounds[0] + bounds[1]) / 2
    OmegaConf.set_struct(out, True)
    OmegaConf.set_readonly(out, True)
    return out, notes
