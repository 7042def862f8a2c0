"""Step 1 of the analysis: the SALib problem of the declared parameters, and its Sobol design.

:func:`problem` resolves the declarations of ``sensitivity.parameters`` (bounds, relative scaling,
distribution) into a SALib problem dict.  :func:`sample` draws the design; it is the generic
engine's (:func:`sensitivity.sobol.sample`, a wrapper of ``SALib.sample.sobol.sample``), which
lives there so that the engine runs without the cost model, and is re-exported here so that the
steps read ``sample`` -> ``evaluate`` -> ``estimate`` as in SALib.
"""
from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from sensitivity.schema import Distribution
from sensitivity.sobol import sample

__all__ = ["problem", "sample"]


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
