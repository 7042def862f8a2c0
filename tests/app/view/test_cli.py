"""The equivalent-command builder: overrides parse back to the same values, commands split back."""
import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from model.app.view.cli import command, delete, format_value, override, parse_command


@pytest.mark.parametrize("value", [None, True, False, 0, 250, 3.5, 41.96, 5e-06, 1e-05, 0.1 + 0.2, 1e300, 3.0,
                                   "physical", ["cerebras_wse3", "b200"], [16000.0, 128000.0],
                                   [{"isl": 32000, "weight": 0.5}, {"isl": 200000, "weight": 0.5}]])
def test_override_values_parse_back_exactly(value):
    parsed = OverridesParser.create().parse_override(override("a.b", value))
    assert parsed.key_or_group == "a.b"
    assert parsed.value() == value
    assert type(parsed.value()) is type(value)


def test_format_value_of_infinities():
    assert format_value(float("inf")) == "inf"
    assert format_value(float("-inf")) == "-inf"


def test_delete_is_hydras_deletion():
    parsed = OverridesParser.create().parse_override(delete("sensitivity.parameters.isl"))
    assert parsed.is_delete() and parsed.key_or_group == "sensitivity.parameters.isl"


def test_command_quotes_brackets_and_splits_back():
    overrides = ["select.hardware=[cerebras_wse3,b200]", "hardware.b200.price_per_hour=3.5",
                 "~sensitivity.parameters.isl", "fleet.isl.explicit=[{isl:32000,weight:0.5}]"]
    line = command("model", overrides)
    assert line.startswith("serving-model ")
    assert "'select.hardware=[cerebras_wse3,b200]'" in line
    assert parse_command(line) == ("model", overrides)
    assert parse_command(command("optimize", [])) == ("optimize", [])
    assert command("sensitivity", ["sensitivity.n=64"]) == "serving-sensitivity sensitivity.n=64"


def test_parse_command_refuses_other_commands():
    with pytest.raises(ValueError, match="not a toolkit command"):
        parse_command("rm -rf /")
