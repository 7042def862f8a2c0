"""The calibration points of docs/model.md §4, to the published digits."""
import math

import numpy as np
import xarray as xr

import model
from model.spend import spend_table
from tests.helpers import at


def test_seed_example_gpt_oss_on_wse3():
    """docs/model.md §4.1: gpt-oss-120b, 60 GB weights, KV on all 36 layers at 16 bits, N = 250,
    ISL 96,300 on WSE-3 -> 42 systems, KV ≈ 1.78 TB, 1.84 TB total, 0.86 layers per system,
    $42M capex at $1M per system."""
    cfg = model.load_config(["models.gpt_oss_120b.sliding_window_layers=0",
                             "select.models=[gpt_oss_120b]", "select.hardware=[cerebras_wse3]"])
    ds = model.evaluate(cfg, **at(96300, 250)).squeeze()
    assert int(ds.systems) == 42
    assert round(float(ds.kv_cache_bytes) / 1e12, 2) == 1.78
    assert round(float(ds.memory_bytes) / 1e12, 2) == 1.84
    assert round(float(ds.layers_per_system), 2) == 0.86
    assert float(ds.capex) == 42e6
    assert bool(ds.feasible)


def test_power_law_through_the_seed_anchors():
    """docs/model.md §4.2: a / P**b through (5.1 B, 2,059) and (32 B, 1,201) gives a ≈ 3,322, b ≈ 0.294;
    the seed's printed 3007 / 0.234 does not pass through its own anchors."""
    params = xr.DataArray([5.1, 32.0], dims="model")
    rate = xr.DataArray([2059.0, 1201.0], dims="model")
    a, b = model.fit_power_law(params, rate)
    assert round(float(a)) == 3322
    assert round(float(b), 3) == 0.294
    # the fitted curve reproduces both anchors; the seed's printed pair misses GLM by 11%
    assert np.allclose(model.power_law_interactivity(params, a, b), rate, rtol=1e-12)
    printed = model.power_law_interactivity(params, 3007, 0.234) / rate - 1
    assert float(abs(printed).max()) > 0.10


def test_catalog_fit_uses_the_measured_anchors(grid):
    """The default catalog marks exactly gpt-oss and GLM 4.7 as measurements on the wafer."""
    a = float(grid.power_law_a.sel(hardware="cerebras_wse3"))
    b = float(grid.power_law_b.sel(hardware="cerebras_wse3"))
    assert (round(a), round(b, 3)) == (3322, 0.294)


def test_spend_shares_under_anthropic_ratios(cfg):
    """docs/model.md §4.3: the default mix under cache read 0.1x, cache write 1.25x, output 5x the input
    price gives spend shares 55.8 / 27.7 / 2.4 / 14.1 %."""
    prices = {"cache_read": 0.1, "cache_write": 1.25, "input": 1.0, "output": 5.0}
    table = spend_table(dict(cfg.workload.mix), prices, isl=96300)
    shares = [round(100 * float(s), 1) for s in table.share.values]
    assert shares == [55.8, 27.7, 2.4, 14.1]
    assert math.isclose(float(table.share.sum()), 1.0)


def test_default_price_sheet_reproduces_the_seed_spend_column(cfg):
    """The seed's 'Cost to serve' column: $0.166 / $0.082 / $0.007 / $0.042 per request, total
    $0.297 as the sum of the rounded cells; OSL ≈ 466 tokens (docs/model.md §3)."""
    from model.spend import workload_spend

    table = workload_spend(cfg)
    assert [round(float(s), 3) for s in table.spend.values] == [0.166, 0.082, 0.007, 0.042]
    assert round(sum(round(float(s), 3) for s in table.spend.values), 3) == 0.297
    assert round(float(table.tokens.sel(token_type="output"))) == 466
