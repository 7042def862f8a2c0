"""Text of a result: the ranking and the convergence warnings."""
import xarray as xr

from sensitivity.report import convergence_table, convergence_warnings, ranking, summary_text


def test_convergence_warning_names_the_parameter():
    st = xr.DataArray([[[[0.30, 0.10]]], [[[0.31, 0.20]]]], dims=("n_base", "output", "model", "parameter"),
                      coords={"n_base": [512, 1024], "output": ["cost_per_mtok"], "model": ["m"],
                              "parameter": ["a", "b"]})
    lines = convergence_warnings(xr.Dataset({"ST_by_n": st}), 0.05)
    assert len(lines) == 1 and "ST of b for cost_per_mtok (m) moved 0.100" in lines[0]


def test_ranking_and_table(small_result):
    text = ranking(small_result)
    # seven parameters: the default eight minus the B200's, which the wafer-only selection cannot feel
    assert text.startswith("Sobol indices, N = 16 base samples (256 model runs), seed 1")
    assert "optimal_cost_per_mtok (gpt_oss_120b):" in text
    table = convergence_table(small_result)
    assert list(table.columns) == [4, 8, 16] and len(table) == 3 * 7
    summary = summary_text(small_result).splitlines()
    assert summary[0] == "Sobol sensitivity on cerebras_wse3: N = 16 base samples (256 model runs), 95% intervals"
    assert all(len(line) <= 100 for line in summary)
