"""The sensitivity tab's callback without a browser: overrides as serving-sensitivity's, the indices
as sensitivity.analyze's."""
import numpy as np
import pytest

import model
import sensitivity
from model.app.view.cli import parse_command


def test_defaults_and_overrides(sens):
    inputs = sens.defaults()
    assert inputs.model == "gpt_oss_120b" and inputs.hardware == "cerebras_wse3" and len(inputs.parameters) == 8
    assert sens.overrides(inputs) == ("sensitivity.n=256",)  # the page keeps N <= 1,024
    changed = (inputs.set("parameters", [p for p in inputs.parameters if p != "hop_latency"])
               .set("bounds.isl", (16000.0, 128000.0)).set("n", 64).set("hardware", "b200"))
    assert sens.overrides(changed) == ("select.hardware=[b200]", "sensitivity.parameters.isl.bounds=[16000.0,128000.0]",
                                       "~sensitivity.parameters.hop_latency", "sensitivity.n=64")
    cfg = sensitivity.load_config(list(sens.overrides(changed)))
    assert "hop_latency" not in cfg.sensitivity.parameters
    assert list(cfg.sensitivity.parameters.isl.bounds) == [16000.0, 128000.0]
    assert cfg.sensitivity.parameters.price_per_hour.key == "hardware.b200.price_per_hour"


def test_indices_are_analyze_of_the_command(sens):
    inputs = sens.defaults().set("parameters", ("cache_read_ratio", "price_per_hour", "isl")).set("n", 64)
    calls = []
    result = sens.analyze(inputs, progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[-1][0] == calls[-1][1]
    app, overrides = parse_command(result.command)
    assert app == "sensitivity"
    want = sensitivity.analyze(sensitivity.load_config(overrides))
    np.testing.assert_allclose(result.indices.ST.values, want.ST.values, rtol=1e-12, equal_nan=True)
    ranking = result.ranking("optimal_cost_per_mtok")
    assert list(ranking.ST) == sorted(ranking.ST, reverse=True)
    assert set(ranking.parameter) == {"cache_read_ratio", "price_per_hour", "isl"}
    st = want.ST.sel(output="optimal_cost_per_mtok").isel(model=0)
    assert ranking.ST.iloc[0] == float(st.max())
    table = result.table()
    assert len(table) == 9 and list(table.columns[:3]) == ["output", "parameter", "key"]


@pytest.mark.parametrize("key, value, message", [
    ("n", 100, "sensitivity.n=100: must be a power of two <= 1,024 in the view"),
    ("n", 2048, "sensitivity.n=2048: must be a power of two <= 1,024 in the view"),
    ("parameters", (), "sensitivity.parameters=[]: choose at least one parameter"),
    ("bounds.isl", (5000.0, 1000.0), "sensitivity.parameters.isl.bounds=[5000.0, 1000.0]: lower bound must be"),
])
def test_refused_inputs_raise_one_line(sens, key, value, message):
    with pytest.raises(model.ConfigError) as err:
        sens.analyze(sens.defaults().set(key, value))
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
