"""The ``python -m model`` job: evaluate the grid, print the table, write grid.nc and plots."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr
from omegaconf import DictConfig, OmegaConf

from model.app import io, plots
from model.app.progress import progress_bar
from model.app.report import format_point_table, format_prefill_modes, resident_hardware, summary_text
from model.app.runner import JobResult
from model.app.tables import fit_lines
from model.cheapest import cheapest_concurrency
from model.evaluate import evaluate
from model.parameters import grid_concurrency
from model.spend import workload_spend

OUTPUTS = ("grid.nc", "cost_vs_concurrency.png", "interactivity_vs_concurrency.png",
           "feasibility.png", "token_spend.png")


def headline(at_workload: xr.Dataset, isl: int, n: int) -> xr.Dataset:
    """The job's headline for sweeps: the point at the workload's ISL and concurrency and the
    cheapest SLA-meeting concurrency, per (model, hardware)."""
    point = at_workload.sel(isl=isl, concurrency=n)
    best = cheapest_concurrency(at_workload.sel(isl=isl))
    ds = point[["cost_per_mtok", "interactivity", "systems", "feasible"]].drop_vars(["isl", "concurrency"])
    ds["best_concurrency"] = best.concurrency.drop_vars("isl")
    ds["best_cost_per_mtok"] = best.cost_per_mtok.drop_vars("isl")
    ds.attrs = {"headline_metric": "cost_per_mtok", "isl": isl, "concurrency": n}
    return ds


def _write_on_dask(cfg: DictConfig, path: Path) -> tuple[xr.Dataset, str]:
    """Evaluate the grid lazily on a dask cluster and write it to ``path`` chunk by chunk;
    the grid and a line saying where it ran."""
    from model.app.cluster import dask_client

    with dask_client(cfg.dask.address, int(cfg.dask.n_workers), float(cfg.dask.connect_timeout_s)) as client:
        grid = evaluate(cfg, chunks={d: n for d, n in cfg.dask.chunks.items() if n is not None})
        grid.attrs["config"] = OmegaConf.to_yaml(cfg, resolve=True)
        chunks = int(np.prod([len(c) for c in grid.cost_per_mtok.chunks]))
        where = f"dask: {chunks:,} chunks of the grid on {client.scheduler_info().get('address', 'a cluster')}"
        io.write_atomic(path, lambda tmp: io.write_netcdf_chunked(grid, tmp, cfg.output.compression,
                                                                 cfg.output.float32))
    return grid, where


def run(cfg: DictConfig, out: Path) -> JobResult:
    """Evaluate the grid, write grid.nc and the plots, then print the table at the workload
    point (files first, so that a closed stdout, e.g. ``| head``, cannot lose them)."""
    io.check_fresh(out, OUTPUTS)
    if cfg.dask.enabled:
        grid = None  # evaluated lazily on dask and written chunk by chunk below
    else:
        with progress_bar("evaluating the grid") as progress:
            grid = evaluate(cfg, progress=progress)
    isl, n, sla = int(cfg.workload.isl), int(cfg.workload.concurrency), float(cfg.sla.min_interactivity)
    # The workload's ISL and concurrency are in this table's grid even where the sweep grid lacks them.
    levels = np.union1d(grid_concurrency(cfg), [n])
    at_workload = evaluate(cfg, isl=xr.DataArray([isl], dims="isl", coords={"isl": [isl]}),
                           concurrency=xr.DataArray(levels, dims="concurrency", coords={"concurrency": levels}))
    report = [format_point_table(at_workload, isl, n, sla)]
    report += [format_prefill_modes(cfg, hardware, isl, n, levels) for hardware in resident_hardware(cfg)]
    if grid is None:
        # the chunks are evaluated and written on the workers, which report no count back: the
        # stage shows how long it has run
        with progress_bar("evaluating and writing the grid on dask", unit="") as progress:
            progress(0, 0)
            grid, where = _write_on_dask(cfg, out / "grid.nc")
        report.insert(0, where)
    else:
        grid.attrs["config"] = OmegaConf.to_yaml(cfg, resolve=True)
        io.write_netcdf(grid, out / "grid.nc", cfg.output.compression, cfg.output.float32)
    written = [out / "grid.nc"]
    if cfg.plots.enabled:
        figures = [("cost_vs_concurrency.png", lambda: plots.cost_vs_concurrency(at_workload, isl, sla)),
                   ("interactivity_vs_concurrency.png",
                    lambda: plots.interactivity_vs_concurrency(at_workload, isl, sla)),
                   ("feasibility.png", lambda: plots.feasibility_diagram(cfg, plots.catalog_at_max_context(cfg)))]
        if cfg.workload.price_sheet is not None:
            figures.append(("token_spend.png", lambda: plots.spend_by_type(workload_spend(cfg))))
        # drawing takes seconds (about 2 s a figure of five log-scale panels): shown as a stage
        with progress_bar("drawing the figures", unit="figure") as progress:
            for done, (name, draw) in enumerate(figures):
                progress(done, len(figures))
                written.append(io.save_figure(draw(), out / name))
            progress(len(figures), len(figures))
    cells = grid.sizes["model"] * grid.sizes["hardware"] * grid.sizes["isl"] * grid.sizes["concurrency"]
    print(summary_text(at_workload, isl, n, sla))
    if cfg.output.detail:
        print("\n" + fit_lines("\n\n".join(report)))
    else:
        print(("\n" + fit_lines(report[0]) + "\n" if cfg.dask.enabled else "")
              + "\nDetail: output.detail=true prints every (model, hardware) at the workload point")
    print(f"\n{cells:,} cells evaluated; wrote {out}/: " + ", ".join(p.name for p in written))
    return JobResult(0, headline(at_workload, isl, n))
