"""The figures say what they show: sweep.png's line count and legend, frontier.png's Pareto
lines, feasibility.png's colour bar in systems and its whole title, sobol.png's title clear of
the panels.  (The apps choose the Agg backend; so does this module, for the figures it draws.)"""
import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr

import optimize
from model.app import plots
from model.app.sweep import MAX_LINES, collect, summary_plot
from optimize.concurrency import sla_by_model
from optimize.fleet import plan_fleet
from optimize.inputs import bucket_grid
from optimize.plots import frontier, pareto_front
from sensitivity.plots import indices_bar_chart
from tests.app.test_outputs_netcdf import fake_sweep


@pytest.fixture(autouse=True)
def agg_backend():
    """Figures drawn off screen, closed after each test."""
    plt.switch_backend("Agg")
    yield
    plt.close("all")


def inside(inner, outer) -> bool:
    return inner.x0 >= outer.x0 - 1 and inner.x1 <= outer.x1 + 1 and inner.y0 >= outer.y0 - 1 and \
        inner.y1 <= outer.y1 + 1


def test_sweep_plot_says_how_many_lines_it_draws_and_keeps_the_legend_off_the_data(tmp_path, grid):
    fake_sweep(tmp_path, grid, [[f"hardware.b200.price_per_hour={p}", f"workload.isl={i}"]
                                for p in (5, 9) for i in (32000, 96300)])
    ds = collect(tmp_path)
    lines = ds.cost_per_mtok.isel(hardware_b200_price_per_hour=0).size
    fig = summary_plot(ds)
    ax = fig.axes[0]
    fig.canvas.draw()
    assert lines > MAX_LINES and len(ax.get_lines()) == MAX_LINES
    assert f"{MAX_LINES} of {lines} lines drawn" in ax.get_title()
    legend = ax.get_legend().get_window_extent()
    assert legend.x0 >= ax.get_window_extent().x1  # right of the axes, not over the lines
    assert inside(legend, fig.bbox)
    assert ax.get_xlabel() == "hardware.b200.price_per_hour [$/h]"


def test_sweep_plot_draws_every_line_when_there_are_few(tmp_path, grid):
    fake_sweep(tmp_path, grid, [[f"hardware.b200.price_per_hour={p}"] for p in (5, 9)])
    ds = collect(tmp_path).sel(model=["gpt_oss_120b"], hardware=["b200", "h200"])
    fig = summary_plot(ds)
    assert len(fig.axes[0].get_lines()) == 2 and "2 of 2 lines drawn" in fig.axes[0].get_title()


def test_pareto_front_keeps_the_points_nothing_beats_in_interactivity_order():
    x = np.array([1.0, 2.0, 3.0, 2.5, np.nan, 2.0])
    y = np.array([1.0, 0.5, 2.0, 3.0, 0.1, 0.7])
    assert pareto_front(x, y).tolist() == [1, 2]  # (1, 1), (2.5, 3) and (2, 0.7) are beaten; NaN left out


def test_frontier_lines_run_in_interactivity_order():
    cfg = optimize.load_config()
    grid = bucket_grid(cfg)
    plan = plan_fleet(cfg, grid=grid)
    fig = frontier(grid, plan, sla_by_model(cfg), cfg=cfg)
    curves = [line for ax in fig.axes if ax.get_visible() for line in ax.get_lines()
              if not line.get_label().startswith("_") and len(line.get_xdata()) > 1]
    assert curves
    for line in curves:
        x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
        assert (np.diff(x) > 0).all() and (np.diff(y) > 0).all(), line.get_label()  # no zigzag
    _, axes = plt.subplots(1, len(cfg.select.models))
    assert frontier(grid, plan, sla_by_model(cfg), cfg=cfg, axes=axes) is axes[0].figure


def test_feasibility_colour_bar_is_in_systems_and_the_title_fits(cfg):
    catalog = plots.catalog_at_max_context(cfg)
    fig = plots.feasibility_diagram(cfg, catalog)
    fig.canvas.draw()
    *axes, cbar = fig.axes
    panels = [ax for ax in axes if ax.get_visible()]
    ticks = cbar.get_yticks()
    assert len(ticks) >= 4 and np.allclose(np.log2(ticks), np.round(np.log2(ticks)))  # 2, 4, 8, ...
    assert [t.get_text() for t in cbar.get_yticklabels()][:3] == [f"{t:,.0f}" for t in ticks[:3]]
    assert cbar.get_yscale() == "log" and "systems" in cbar.get_ylabel()
    # issue 19: one panel per model, its background computed for that model, its own dot only
    assert [ax.get_title().split(" ")[0] for ax in panels] == list(catalog.model.values)
    for ax, model in zip(panels, catalog.model.values):
        assert inside(ax.title.get_window_extent(), fig.bbox)
        dots = [line for line in ax.get_lines() if line.get_marker() == "o"]
        assert len(dots) == 1 and float(dots[0].get_xdata()[0]) == float(catalog.isl.sel(model=model))
        mesh = ax.collections[0].get_array().reshape(60, -1)
        want = plots.feasibility_grid(cfg, model=str(model)).systems.transpose("model_size_b", "isl").values
        np.testing.assert_array_equal(np.ma.filled(mesh, np.nan), np.where(want > 0, want, np.nan))


def test_sobol_title_clears_the_panel_titles():
    outputs, models, params = ["a", "b", "c"], [f"m{i}" for i in range(7)], ["p", "q"]
    values = np.full((3, 7, 2), 0.3)
    values[1, 0] = np.nan  # a panel without indices says so
    dims = ("output", "model", "parameter")
    ds = xr.Dataset({k: (dims, values) for k in ("S1", "S1_conf", "ST", "ST_conf")},
                    coords={"output": outputs, "model": models, "parameter": params},
                    attrs={"n": 256, "conf_level": 0.95, "hardware": "x"})
    fig = indices_bar_chart(ds)
    fig.canvas.draw()
    top = min(ax.title.get_window_extent().y1 for ax in fig.axes[:3])
    title = fig.get_suptitle()
    assert title.startswith("Sobol indices")
    assert fig._suptitle.get_window_extent().y0 >= top  # above the first row's titles, not over them
    assert any("no indices" in t.get_text() for t in fig.axes[1].texts)  # output b of model m0
