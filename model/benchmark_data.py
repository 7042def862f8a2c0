"""Checks of a measured-benchmark table, column by column, before anything is fitted to it.

The calibration reads two CSV layouts (``model/data/inferencex/``): the several-model reference
points and the DeepSeek-R1 configuration runs. A malformed file (a missing column, text where a
number belongs, NaN, a negative length, a value so large that the fit never converges) is refused
with every fault found, in one line, before the fit starts.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from model.errors import ConfigError

# Largest value a measured quantity may take: far beyond any real benchmark (a 1e9-token prompt, a
# billion users, 1e9 tok/s or seconds), and small enough that the fit's arithmetic stays finite
LARGEST = 1e9
MAX_FAULTS_SHOWN = 5


@dataclass(frozen=True)
class Column:
    """What a column must hold: ``kind`` is ``text``, ``count`` (a whole number >= 1, or >= 0 with
    ``zero_ok``), ``positive`` (a number > 0), or ``flag`` (true/false); ``optional`` lets a cell be
    empty; ``allowed`` names the values a text column may take."""

    kind: str
    optional: bool = False
    zero_ok: bool = False
    allowed: tuple[str, ...] | None = None


def _faults(name: str, column: Column, values: pd.Series) -> Iterable[str]:
    present = values.notna() & (values.astype(str).str.strip() != "")
    if not column.optional and not present.all():
        yield f"column {name}: row {int(np.flatnonzero(~present.to_numpy())[0]) + 1} is empty"
    given = values[present]
    if column.kind == "text":
        if column.allowed is not None:
            unknown = sorted(set(given.astype(str)) - set(column.allowed))
            if unknown:
                yield f"column {name}: {unknown[0]!r} is not one of {', '.join(column.allowed)}"
        return
    if column.kind == "flag":
        bad = ~given.astype(str).str.lower().isin(["true", "false", "1", "0"])
        if bad.any():
            yield f"column {name}: {given[bad].iloc[0]!r} is not true or false"
        return
    numbers = pd.to_numeric(given, errors="coerce")
    text = numbers.isna()
    if text.any():
        yield f"column {name}: {given[text].iloc[0]!r} is not a number"
        return
    finite = np.isfinite(numbers.to_numpy(dtype=float))
    if not finite.all():
        yield f"column {name}: {given[~finite].iloc[0]!r} is not a finite number"
        return
    low_ok = numbers >= 0 if column.zero_ok else numbers > 0
    if column.kind == "count":
        whole = numbers == np.round(numbers)
        low_ok = low_ok & whole
        rule = f"a whole number >= {0 if column.zero_ok else 1}"
    else:
        rule = "a number > 0"
    if not low_ok.all():
        yield f"column {name}: {given[~low_ok].iloc[0]!r} is not {rule}"
    if (numbers > LARGEST).any():
        yield f"column {name}: {given[numbers > LARGEST].iloc[0]!r} is beyond {LARGEST:.0e}"


def check_table(table: pd.DataFrame, columns: Mapping[str, Column], key: str, source: str) -> None:
    """Refuse ``table`` unless every column of ``columns`` is there and holds what it must.

    Parameters
    ----------
    table
        The CSV as read, every column as text (``dtype=str``) so that nothing is coerced first.
    columns
        The columns the fit reads, and what each must hold.
    key, source
        The config key and the file, named in the refusal.

    Raises
    ------
    ConfigError
        One line with every fault found (the first few, and how many more).
    """
    if table.empty:
        raise ConfigError(key, source, "the file has a header but no rows" if len(table.columns) else
                          "the file is empty")
    missing = [c for c in columns if c not in table.columns]
    faults = [f"missing column {c}" for c in missing]
    for name, column in columns.items():
        if name not in missing:
            faults.extend(_faults(name, column, table[name]))
    if faults:
        shown = "; ".join(faults[:MAX_FAULTS_SHOWN])
        more = f" (and {len(faults) - MAX_FAULTS_SHOWN} more)" if len(faults) > MAX_FAULTS_SHOWN else ""
        raise ConfigError(key, source, f"not a usable benchmark table: {shown}{more}")


def read_table(path: str, key: str, given: str | None = None) -> pd.DataFrame:
    """A CSV as text columns, or a one-line refusal when the file is not a readable CSV; ``given``
    is the value the user typed, named in the refusal (default ``path``)."""
    path_shown = given if given is not None else path
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=True)
    except FileNotFoundError:
        raise ConfigError(key, path_shown, "no such file") from None
    except pd.errors.EmptyDataError:
        raise ConfigError(key, path_shown, "the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ConfigError(key, path_shown, f"not a readable CSV ({reason})") from None
    return table
