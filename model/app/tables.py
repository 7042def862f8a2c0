"""Tables the apps print: one number format per column, fitted to the terminal's width (rich).

A pipe or a file gets :data:`PIPE_WIDTH` columns; a terminal its own width.  Columns that do not
fit wrap their text (rich folds long cells and headers), so no line is wider than the width.
"""
from __future__ import annotations

import io
import math
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

PIPE_WIDTH = 100  # columns of every summary, and of tables written to a pipe or a file
MISSING = "-"
TEXT_MIN = 24  # narrowest a free-text column wraps to


def width() -> int:
    """Columns to fit: the terminal's when standard output is one (``COLUMNS`` if set), else
    :data:`PIPE_WIDTH` (a pipe or a file, whatever ``COLUMNS`` says)."""
    try:
        terminal = sys.stdout.isatty()
    except (AttributeError, ValueError):
        terminal = False
    return shutil.get_terminal_size((PIPE_WIDTH, 24)).columns if terminal else PIPE_WIDTH


def summary_width() -> int:
    """Columns of the apps' opening summaries: :data:`PIPE_WIDTH`, or the terminal's if narrower."""
    return min(width(), PIPE_WIDTH)


def is_missing(value: Any) -> bool:
    """True for None and NaN (printed as :data:`MISSING`)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def number_format(values: Sequence[Any]) -> Callable[[Any], str]:
    """One format for a column of numbers: integers with thousands separators, or fixed-point
    floats with as many decimals as the column's largest magnitude leaves for 4 significant
    digits (at most 4), or, for a column whose values are all below 0.001, scientific notation.

    Parameters
    ----------
    values
        The column (numbers, None or NaN).

    Returns
    -------
    callable
        value -> text; None and NaN become :data:`MISSING`.
    """
    values = [plain(v) for v in values]
    numbers = [float(v) for v in values if not is_missing(v)]
    if all(isinstance(v, int) for v in values if not is_missing(v)):
        return lambda v: MISSING if is_missing(v) else f"{int(v):,}"
    largest = max((abs(v) for v in numbers if math.isfinite(v)), default=0.0)
    if 0 < largest < 1e-3:
        return lambda v: MISSING if is_missing(v) else f"{float(v):.3e}"
    decimals = 0 if largest >= 1000 else min(4, 3 - math.floor(math.log10(largest))) if largest else 2
    return lambda v: MISSING if is_missing(v) else f"{float(v):,.{decimals}f}"


def render(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None,
           formats: Mapping[str, Callable[[Any], str]] | None = None, headers: Mapping[str, str] | None = None,
           max_width: int | None = None) -> str:
    """A table as text no wider than ``max_width`` (default :func:`width`).

    Parameters
    ----------
    rows
        One mapping per row (column -> value).
    columns
        Columns in order (default: the first row's keys).
    formats
        Column -> value formatter; numeric columns without one get :func:`number_format`,
        others ``str``.
    headers
        Column -> printed header (default: the column name).
    max_width
        Line width to fit.

    Returns
    -------
    str
        The table (header, rule, rows), numbers right-aligned, no trailing spaces.
    """
    from rich import box
    from rich.console import Console
    from rich.table import Table

    rows = list(rows)
    columns = list(columns if columns is not None else (rows[0].keys() if rows else []))
    formats = dict(formats or {})
    headers = dict(headers or {})
    limit = max_width or width()
    cells, numeric, natural, folded = {}, {}, {}, {}
    for column in columns:
        values = [plain(row.get(column)) for row in rows]
        numeric[column] = all(is_missing(v) or isinstance(v, (int, float)) and not isinstance(v, bool)
                              for v in values)
        fmt = formats.get(column) or (number_format(values) if numeric[column] and values else
                                      (lambda v: MISSING if is_missing(v) else str(v)))
        cells[column] = [fmt(v) for v in values]
        header = str(headers.get(column, column))
        natural[column] = max([len(header)] + [len(c) for c in cells[column]])
        folded[column] = max([len(w) for w in header.split() or [""]] + [len(c) for c in cells[column]])
    if sum(natural.values()) + 2 * (len(columns) - 1) > limit:
        natural = folded  # headers wrap at their spaces
    # a free-text column (left-aligned, not the first) may wrap down to TEXT_MIN; numbers never fold:
    # columns that still do not fit are dropped from the right and named below the table
    least = {c: min(natural[c], TEXT_MIN) if not numeric[c] and i else natural[c] for i, c in enumerate(columns)}
    shown = list(columns)
    while len(shown) > 1 and sum(least[c] for c in shown) + 2 * (len(shown) - 1) > limit:
        shown.pop()
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    for column in shown:
        table.add_column(headers.get(column, column), justify="right" if numeric[column] else "left",
                         overflow="fold", min_width=least[column], max_width=natural[column])
    for i in range(len(rows)):
        table.add_row(*(cells[c][i] for c in shown))
    out = io.StringIO()
    Console(file=out, width=limit, color_system=None, highlight=False, markup=False,
            emoji=False, soft_wrap=False).print(table)
    text = "\n".join(line.rstrip() for line in out.getvalue().splitlines())
    if len(shown) < len(columns):
        text += "\n" + fit_lines(f"(not shown, to fit {limit} columns: "
                                  + ", ".join(str(headers.get(c, c)) for c in columns[len(shown):]) + ")", limit)
    return text


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (other values as they are)."""
    return value.item() if hasattr(value, "item") and hasattr(value, "dtype") else value


def fit_lines(text: str, max_width: int | None = None) -> str:
    """``text`` with every line wider than ``max_width`` (default :func:`width`) wrapped at
    spaces, continuation lines indented by two spaces (tables from :func:`render` already fit)."""
    import textwrap

    limit = max_width or width()
    out = []
    for line in text.splitlines():
        if len(line) <= limit:
            out.append(line)
        else:
            indent = " " * (len(line) - len(line.lstrip()))
            out += textwrap.wrap(line, limit, subsequent_indent=indent + "  ", break_on_hyphens=False) or [""]
    return "\n".join(out)
