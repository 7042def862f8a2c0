"""The apps' tables (model.app.tables): one number format per column, no line wider than asked,
columns that do not fit named rather than folded."""
import math

import numpy as np

from model.app.tables import fit_lines, number_format, render


def test_a_column_has_one_number_format():
    """Issue 19: serving-model's table mixed 5.084e+04 with 9,235 in one column."""
    fmt = number_format([50842.4, 9235.1, 10.0, np.float64(5.5)])
    assert [fmt(v) for v in (50842.4, 9235.1, 10.0, 5.5)] == ["50,842", "9,235", "10", "6"]
    small = number_format([0.0482, 1.4816, math.nan, None])
    assert [small(v) for v in (0.0482, 1.4816, math.nan, None)] == ["0.048", "1.482", "-", "-"]
    tiny = number_format([2e-5, 3.5e-4])
    assert [tiny(v) for v in (2e-5, 3.5e-4)] == ["2.000e-05", "3.500e-04"]
    whole = number_format([np.int64(12), 3])
    assert [whole(v) for v in (np.int64(1015), 3)] == ["1,015", "3"]


def test_a_wide_table_fits_by_dropping_columns_and_names_them():
    rows = [{"model": "deepseek_v3", **{f"column_{i}": 1000.0 * i for i in range(12)}} for _ in range(3)]
    text = render(rows, max_width=60)
    lines = text.splitlines()
    assert all(len(line) <= 60 for line in lines)
    assert lines[-1].startswith("(not shown, to fit 60 columns: ") or lines[-2].startswith("(not shown")
    assert "deepseek_v3" in lines[2]  # the first column is never folded
    assert render(rows, max_width=400).count("(not shown") == 0


def test_long_text_lines_wrap_at_spaces_with_their_indent():
    text = fit_lines("  left out of both plans: kimi_k2_6 (at the q = 0.9 quantile: sla_unreachable: SLA 1,000)", 40)
    lines = text.splitlines()
    assert all(len(line) <= 40 for line in lines) and lines[1].startswith("    ")
    assert " ".join(" ".join(lines).split()) == ("left out of both plans: kimi_k2_6 (at the q = 0.9 quantile: "
                                                "sla_unreachable: SLA 1,000)")
