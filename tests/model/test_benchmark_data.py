"""Malformed calibration data is refused column by column, in one line, before any fit.

Each file is the reference CSV with one fault (or no CSV at all); every one of them used to end in a
traceback, and a 1e308 value in a fit that ran for over 400 s.
"""
import pytest

import model
from model.errors import ConfigError
from tests.helpers import ROOT

DATA = ROOT / "model" / "data" / "inferencex" / "gpu-benchmarks-inferencex.csv"


def variant(tmp_path, name, text):
    path = tmp_path / f"{name}.csv"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def first_row_with(old: str, new: str) -> str:
    lines = DATA.read_text().splitlines(keepends=True)
    assert old in lines[1]
    return lines[0] + lines[1].replace(old, new, 1) + "".join(lines[2:])


def without_column(name: str) -> str:
    rows = [line.split(",") for line in DATA.read_text().splitlines()]
    i = rows[0].index(name)
    return "\n".join(",".join(r[:i] + r[i + 1:]) for r in rows) + "\n"


CASES = {
    "empty": ("", "the file is empty"),
    "header_only": (DATA.read_text().splitlines()[0] + "\n", "header but no rows"),
    "nan": (first_row_with(",102.8,", ",nan,"), "column interactivity_tok_s: row 1 is empty"),
    "negative": (first_row_with(",8,1,1024,1024,4,", ",8,1,-1024,1024,4,"), "column isl: '-1024' is not a whole"),
    "huge": (first_row_with(",102.8,", ",1e308,"), "column interactivity_tok_s: '1e308' is beyond 1e+09"),
    "text_value": (first_row_with(",102.8,", ",fast,"), "column interactivity_tok_s: 'fast' is not a number"),
    "no_ttft": (without_column("ttft_ms"), "missing column ttft_ms"),
    "unknown_precision": (first_row_with(",fp8,", ",fp3,"), "column precision: 'fp3' is not one of"),
    "prose": ("# A title\n\nsome, text, with, commas\nand more\n", "not a"),
    "binary": (bytes(range(256)) * 4, "not a readable CSV"),
}


@pytest.mark.parametrize("name", CASES)
def test_malformed_calibration_data_is_one_line(tmp_path, name):
    text, says = CASES[name]
    path = variant(tmp_path, name, text)
    with pytest.raises(ConfigError) as err:
        model.load_config([f"calibration.data={path}"], config_name="calibrate")
    message = str(err.value)
    assert message.startswith(f"calibration.data='{path}'") and says in message and "\n" not in message


def test_the_reference_data_passes():
    cfg = model.load_config([], config_name="calibrate")
    assert cfg.calibration.data.endswith("gpu-benchmarks-inferencex.csv")
