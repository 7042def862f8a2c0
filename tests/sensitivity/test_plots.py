"""The bar charts draw on given axes (SALib-style) or on a new figure; no backend is chosen."""
import matplotlib.pyplot as plt
import pytest

from sensitivity.plots import indices_bar, indices_bar_chart


def test_indices_bar_draws_on_the_given_axes(small_result):
    fig, ax = plt.subplots()
    try:
        cell = small_result.sel(output="cost_per_mtok", model="gpt_oss_120b")
        assert indices_bar(cell, ax=ax) is ax
        assert len(ax.containers) == 2 + 2  # two bar sets, each with its error bars
        assert ax.get_title() == "cost_per_mtok (gpt_oss_120b)"
        order = cell.ST.fillna(-1).values.argsort(kind="stable")[::-1]  # largest ST first (issue 19)
        shown = [t.get_text() for t in ax.get_xticklabels()]
        assert sorted(shown) == sorted(small_result.parameter.values)
        assert [float(cell.ST.sel(parameter=p).fillna(-1)) for p in shown] == sorted(cell.ST.fillna(-1).values[order],
                                                                                     reverse=True)
        assert ax.get_ylabel() == "Sobol index (share of the variance)"
    finally:
        plt.close(fig)


def test_chart_on_given_axes_keeps_the_figure(small_result):
    fig, axes = plt.subplots(1, 3)
    try:
        assert indices_bar_chart(small_result, axes=axes) is fig
        assert [ax.get_title() for ax in axes] == [f"{o} (gpt_oss_120b)" for o in small_result.output.values]
        assert axes[0].get_legend() is not None and fig.get_suptitle() == ""
    finally:
        plt.close(fig)


def test_chart_makes_its_own_figure(small_result):
    fig = indices_bar_chart(small_result)
    try:
        assert fig.get_suptitle().startswith("Sobol indices of gpt_oss_120b on cerebras_wse3 (N = 16, 95% intervals")
        assert len(fig.axes) == 3
    finally:
        plt.close(fig)


def test_wrong_number_of_axes(small_result):
    fig, axes = plt.subplots(1, 2)
    try:
        with pytest.raises(ValueError, match="axes has 2 axes: needs 1 x 3"):
            indices_bar_chart(small_result, axes=axes)
    finally:
        plt.close(fig)
