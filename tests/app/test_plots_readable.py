"""Every figure the apps write can be read (issue 19): axis labels with units on every panel that
shows data, a title naming what is drawn, no text or legend outside the figure, and no legend over
the data (a legend is either outside every axes or, placed by ``loc="best"``, covers no drawn point).

Checked on the drawn figure: ``fig.canvas.draw()``, then the artists' window extents."""
import matplotlib.pyplot as plt
import numpy as np
import pytest

import optimize
import sensitivity
import sensitivity.uncertainty as U
from model.app import plots
from model.app.sweep import collect, summary_plot
from model.spend import workload_spend
from optimize.concurrency import sla_by_model
from optimize.fleet import plan_fleet
from optimize.inputs import bucket_grid
from optimize.plots import frontier
from sensitivity.plots import indices_bar_chart
from sensitivity.uncertainty.job import price_to_beat_dataset
from sensitivity.uncertainty.plots import bands_figure, price_to_beat_figure
from tests.app.test_outputs_netcdf import fake_sweep


@pytest.fixture(autouse=True)
def agg_backend():
    plt.switch_backend("Agg")
    yield
    plt.close("all")


def inside(inner, outer, slack=1.0) -> bool:
    return (inner.x0 >= outer.x0 - slack and inner.x1 <= outer.x1 + slack and inner.y0 >= outer.y0 - slack
            and inner.y1 <= outer.y1 + slack)


def overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def drawn_points(ax) -> np.ndarray:
    """Display coordinates of every finite point of the axes' lines and scatter/collections."""
    points = []
    for line in ax.get_lines():
        if line.get_visible() and not line.get_label().startswith("_child"):
            xy = np.column_stack([np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)])
            xy = xy[np.isfinite(xy).all(axis=1)]
            if len(xy) and line.get_transform() == ax.transData:
                points.append(ax.transData.transform(xy))
    return np.concatenate(points) if points else np.zeros((0, 2))


def assert_readable(fig, title_words=()):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    data_axes = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"
                 and (ax.get_lines() or ax.collections or ax.patches)]
    assert data_axes
    for ax in fig.axes:  # everything an axes draws (ticks, labels, title, texts, legend) is in the figure
        if ax.get_visible():
            assert inside(ax.get_tightbbox(renderer), box), ax.get_title() or ax.get_label()
    for ax in data_axes:
        assert ax.get_xlabel().strip() and ax.get_ylabel().strip(), ax.get_title()
        legend = ax.get_legend()
        if legend is not None:
            extent = legend.get_window_extent(renderer)
            assert inside(extent, box)
            if overlaps(extent, ax.get_window_extent(renderer)):  # inside the axes: it must cover no point
                points = drawn_points(ax)
                covered = ((points[:, 0] > extent.x0) & (points[:, 0] < extent.x1)
                           & (points[:, 1] > extent.y0) & (points[:, 1] < extent.y1))
                assert not covered.any(), f"{ax.get_title()}: the legend covers {covered.sum()} points"
    for legend in fig.legends:
        extent = legend.get_window_extent(renderer)
        assert inside(extent, box)
        assert not any(overlaps(extent, ax.get_window_extent(renderer)) for ax in data_axes)
    for text in fig.texts:
        assert inside(text.get_window_extent(renderer), box), text.get_text()
    titles = " ".join([fig.get_suptitle(), *(ax.get_title() for ax in data_axes)])
    assert titles.strip()
    for word in title_words:
        assert word in titles, word


def test_frontier_is_readable():
    cfg = optimize.load_config()
    grid = bucket_grid(cfg)
    plan = plan_fleet(cfg, grid=grid)
    fig = frontier(grid, plan, sla_by_model(cfg), cfg=cfg,
                   aggregated_only=plan_fleet(optimize.load_config(["fleet.disaggregation=false"]), grid=grid))
    assert_readable(fig, ["ISL 96,300", "SLA >= 1,000", "gpt_oss_120b"])
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "SLA" in labels and "chosen in the plan" in labels and "best aggregated-only plan" in labels
    assert all("SLA 1,000" in " ".join(t.get_text() for t in ax.texts) for ax in fig.axes if ax.get_visible())


def test_feasibility_is_readable(cfg):
    fig = plots.feasibility_diagram(cfg, plots.catalog_at_max_context(cfg))
    assert_readable(fig, ["cerebras_wse3", "no SLA", "deepseek_v3", "glm_4_7"])


def test_cost_and_interactivity_plots_are_readable(cfg, grid):
    isl = int(grid.isl.values[len(grid.isl) // 2])
    sla = float(cfg.sla.min_interactivity)
    assert_readable(plots.cost_vs_concurrency(grid, isl, sla), [f"ISL {isl:,}", "1000 tok/s"])
    assert_readable(plots.interactivity_vs_concurrency(grid, isl, sla), [f"ISL {isl:,}", "SLA 1000"])
    fig, axes = plt.subplots(1, grid.sizes["model"])
    assert plots.cost_vs_concurrency(grid, isl, sla, axes=axes) is fig  # given axes: drawn there
    assert plots.interactivity_vs_concurrency(grid, isl, sla, axes=axes) is fig


def test_token_spend_names_the_isl_and_why_no_model(cfg):
    fig = plots.spend_by_type(workload_spend(cfg))
    assert_readable(fig, ["ISL 96,300", "every model", "no SLA"])


def test_sobol_is_readable():
    ds = sensitivity.analyze(sensitivity.load_config(["sensitivity.n=16"]))
    assert_readable(indices_bar_chart(ds), ["gpt_oss_120b", "cerebras_wse3", "SLA 1000"])


def test_bands_and_price_to_beat_are_readable():
    cfg = U.load_config(["uncertainty.n=16", "uncertainty.isl=[32000]", "grid.concurrency_max=128"])
    ds = U.analyze(cfg)
    fig = bands_figure(ds)
    assert_readable(fig, ["SLA 1000", "scenarios"])
    for ax in fig.axes:
        if ax.get_visible():
            assert "SLA met: " in ax.get_title() and "b200" in ax.get_title()  # the B200 is named, never dropped
            assert "%-" not in ax.get_title() or all(
                a != b for a, b in (part.split("-") for part in ax.get_title().split() if "%-" in part))
    ptb, switches = price_to_beat_dataset(cfg)
    fig = price_to_beat_figure(ptb, list(cfg.uncertainty.price_to_beat.hardware), 96300, switches)
    assert_readable(fig, ["ISL 96,300", "SLA"])


def test_sweep_plot_puts_a_numeric_key_at_its_values(tmp_path, grid):
    fake_sweep(tmp_path, grid, [[f"hardware.cerebras_wse3.price_per_hour={p}"] for p in (30, 41.96, 60)])
    ds = collect(tmp_path).sel(model=["gpt_oss_120b"], hardware=["cerebras_wse3"])
    fig = summary_plot(ds)
    ax = fig.axes[0]
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_xdata(), [30, 41.96, 60])  # 41.96 is not midway between 30 and 60
    assert_readable(fig)


def test_predicted_vs_measured_keeps_its_key_off_the_points():
    import pandas as pd

    rng = np.random.default_rng(3)
    rows = []
    for gpu in ("b200", "h200"):
        for model in ("deepseek_r1", "gpt_oss_120b"):
            for _ in range(6):
                meas = rng.uniform([20, 50, 100], [2000, 5000, 10000])
                pred = meas * rng.uniform(0.8, 1.2, 3)
                rows.append({"gpu": gpu, "model": model, "tok_s_meas": meas[0], "tok_s_pred": pred[0],
                             "ttft_ms_meas": meas[1], "ttft_ms_pred": pred[1], "tput_gpu_meas": meas[2],
                             "tput_gpu_pred": pred[2]})
    stats = {k: {"median_abs_pct": 5.0, "worst_abs_pct": 19.0, "points": 24}
             for k in ("interactivity", "ttft", "throughput_per_gpu")}
    fig = plots.predicted_vs_measured(pd.DataFrame(rows), stats)
    assert_readable(fig, ["InferenceX", "no SLA"])
    assert len(fig.legends) == 1 and len(fig.legends[0].get_texts()) == 4  # (gpu, model) pairs
