"""The ``python -m sensitivity.uncertainty`` job: bands, win probabilities, robust plan, price to beat."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr
from omegaconf import DictConfig, OmegaConf

from model.app import io
from model.app.progress import progress_bar
from model.app.runner import JobResult
from model.app.tables import fit_lines
from model.price_to_beat import price_to_beat, sla_switch_points
from optimize.inputs import grid_hardware
from optimize.robust import RobustComparison, compare_plans
from sensitivity.uncertainty import validate
from sensitivity.uncertainty.analysis import analyze, isl_values
from sensitivity.uncertainty.plots import bands_figure, price_to_beat_figure
from sensitivity.uncertainty.report import (
    PLAN_COLUMNS,
    bands_table,
    price_to_beat_text,
    robust_table,
    robust_text,
    summary_text,
    table_csv,
    win_text,
)
from sensitivity.uncertainty.scenarios import draw, scenario_params
from sensitivity.uncertainty.win import win_table

OUTPUTS = ("bands.nc", "win_probability.csv", "robust_plan.csv", "price_to_beat.nc", "bands.png", "price_to_beat.png")


def price_to_beat_dataset(cfg: DictConfig) -> tuple[xr.Dataset, xr.Dataset]:
    """The price to beat on the bands' ISLs and ``uncertainty.price_to_beat.min_interactivity``
    (with ``sla.min_interactivity``), and the SLA switch points, as one Dataset for the file.

    Parameters
    ----------
    cfg
        A validated uncertainty config.

    Returns
    -------
    tuple of xarray.Dataset
        The file's Dataset (switch points as ``switch_*`` along ``switch``) and the switch points.
    """
    isl = isl_values(cfg)
    slas = sorted({*map(float, cfg.uncertainty.price_to_beat.min_interactivity), float(cfg.sla.min_interactivity)})
    ptb = price_to_beat(cfg, isl=isl, min_interactivity=slas)
    switches = sla_switch_points(cfg, isl=isl)
    renamed = switches.rename({name: f"switch_{name}" for name in switches.data_vars})
    return xr.merge([ptb, renamed], combine_attrs="override"), switches


def headline(ds: xr.Dataset, comparison: RobustComparison | None, isl: int) -> xr.Dataset:
    """The job's headline for sweeps, a Dataset: the middle band of the optimal $/Mtok and the win
    probabilities of ``ds`` (:func:`sensitivity.uncertainty.analyze`'s result) at the workload's ISL
    ``isl``, and the premium and share of scenarios met of the robust plan ``comparison`` (None: not
    run)."""
    middle = float(ds["quantile"].values[1])
    out = xr.Dataset({
        "optimal_cost_per_mtok_p50": ds.optimal_cost_per_mtok.sel(isl=isl, quantile=middle, drop=True),
        "win_probability": ds.win_probability.sel(isl=isl, drop=True),
    })
    out["optimal_cost_per_mtok_p50"].attrs.update(units="$/Mtok", long_name="middle band of the least SLA-meeting "
                                                                            "cost per Mtok")
    premium = comparison.premium if comparison is not None else np.nan
    share = float(comparison.scenarios.sel(plan="robust").meets_demand_and_sla.mean()) if comparison else np.nan
    out["robust_premium"] = ((), premium, {"units": "1", "long_name": "robust plan $/hour over the point plan's, "
                                                                      "minus 1"})
    out["robust_share_met"] = ((), share, {"units": "1", "long_name": "share of scenarios in which the robust plan "
                                                                      "meets demand and the SLA"})
    out.attrs = {"headline_metric": "robust_premium"}
    return out


def run(cfg: DictConfig, out: Path) -> JobResult:
    """The uncertainty app's job (:data:`model.app.runner.Job`): analyse ``cfg``, write :data:`OUTPUTS` to
    ``out``, then print the report; exit code 0 (a robust plan that cannot be made is reported, not an
    error) and the :func:`headline`."""
    io.check_fresh(out, OUTPUTS)
    u = cfg.uncertainty
    with progress_bar("evaluating scenarios") as progress:
        ds = analyze(cfg, progress=progress)
    with progress_bar("price to beat", unit="step") as progress:
        progress(0, 1)
        ptb, switches = price_to_beat_dataset(cfg)
        progress(1, 1)
    comparison = None
    if u.robust.enabled:
        with progress_bar("robust fleet plan", unit="step") as progress:
            progress(0, 2)
            hardware = grid_hardware(cfg)  # the hardware on offer and the prefill hardware
            params = scenario_params(cfg, draw(cfg, int(u.robust.n)), hardware)
            holdout = scenario_params(cfg, draw(cfg, int(u.robust.n), int(u.seed) + 1), hardware)
            progress(1, 2)
            comparison = compare_plans(cfg, params, float(u.robust.q), joint=bool(u.robust.joint), holdout=holdout,
                                       validate=validate)
            progress(2, 2)

    config = OmegaConf.to_yaml(cfg, resolve=True)
    isl = int(cfg.workload.isl)
    # the files and the two figures take about 3 s on a 2-core machine: one stage
    with progress_bar("writing the files and figures", unit="file") as progress:
        data_files = 4 if comparison is not None else 3
        files = data_files + (2 if cfg.plots.enabled else 0)
        progress(0, files)
        ds.attrs["config"] = config
        io.write_netcdf(ds, out / "bands.nc")
        wins = win_table(ds.win_probability).reset_index()
        io.write_text(table_csv(wins, {"isl": "tokens",
                                       **{c: "1" for c in wins.columns if c not in ("model", "isl")}}),
                      out / "win_probability.csv")
        if comparison is not None:
            io.write_text(table_csv(robust_table(comparison), PLAN_COLUMNS), out / "robust_plan.csv")
        ptb.attrs["config"] = config
        io.write_netcdf(ptb, out / "price_to_beat.nc")
        progress(data_files, files)
        if cfg.plots.enabled:
            io.save_figure(bands_figure(ds), out / "bands.png")
            progress(data_files + 1, files)
            io.save_figure(price_to_beat_figure(ptb, list(u.price_to_beat.hardware), isl, switches),
                           out / "price_to_beat.png")
            progress(files, files)

    report = [bands_table(ds, isl), win_text(ds)]
    if comparison is not None:
        report.append(robust_text(comparison))
    report.append(price_to_beat_text(ptb, switches, isl, float(cfg.sla.min_interactivity)))
    print(summary_text(ds, comparison, list(cfg.select.models), isl))
    if cfg.output.detail:
        print("\n" + fit_lines("\n\n".join(report)))
    else:
        print("\nDetail: output.detail=true prints bands, odds, both plans, price to beat")
    print(f"\nwrote {out}/: {', '.join(n for n in OUTPUTS if (out / n).exists())}")
    return JobResult(0, headline(ds, comparison, isl))
