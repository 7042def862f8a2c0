"""Step 2 (``sensitivity.evaluate``): the cost model on a whole design in one call, ``X -> Y``."""
import numpy as np
import pytest
import xarray as xr

import sensitivity
from model.cheapest import cheapest_under_sla
from model.evaluate import evaluate
from sensitivity.evaluate import OUTPUTS, evaluate_design, model_names, output_names
from sensitivity.sample import problem, sample


@pytest.fixture(scope="module")
def cfg():
    return sensitivity.load_config(["sensitivity.n=4"])


@pytest.fixture(scope="module")
def design(cfg):
    return sample(problem(cfg), 4, seed=1)


def one_sample(cfg, row):
    """One sample through scalar-parameter cost-model calls (what the benchmark times per sample)."""
    keys = [p.key for p in cfg.sensitivity.parameters.values()]
    values = dict(zip(keys, row))
    isl = xr.DataArray([float(values.pop("workload.isl"))], dims="isl")
    n = max(1.0, round(float(values.pop("workload.concurrency"))))
    params = {**values, "models.gpt_oss_120b.max_context": float(2 ** 62)}
    at = evaluate(cfg, params, isl=isl, concurrency=xr.DataArray([n], dims="concurrency"),
                  variables=["cost_per_mtok"])
    best = cheapest_under_sla(cfg, params, isl=isl, workers=1)
    cell = {"model": "gpt_oss_120b", "hardware": "cerebras_wse3"}
    return [float(at.cost_per_mtok.sel(**cell).squeeze()), float(best.cost_per_mtok.sel(**cell).squeeze()),
            float(best.concurrency.sel(**cell).squeeze())]


def test_one_row_per_sample_one_column_per_output(cfg, design):
    y = evaluate_design(cfg, design)
    assert y.shape == (len(design), len(OUTPUTS))
    assert output_names(cfg) == [f"{o}|gpt_oss_120b" for o in OUTPUTS]
    rows = [0, 7, 31, len(design) - 1]
    np.testing.assert_allclose(y[rows], [one_sample(cfg, design[i]) for i in rows], rtol=1e-9, equal_nan=True)


def test_the_design_is_an_argument_not_state(cfg, design):
    """The same X gives the same Y, each row alone gives its row, and nothing is kept on the function."""
    before = design.copy()
    y = evaluate_design(cfg, design)
    np.testing.assert_array_equal(design, before)
    np.testing.assert_array_equal(evaluate_design(cfg, design), y)
    np.testing.assert_allclose(evaluate_design(cfg, design[5:6]), y[5:6], rtol=1e-12, equal_nan=True)
    assert evaluate_design.__dict__ == {}


def test_all_models_are_output_major(design):
    cfg = sensitivity.load_config(["sensitivity.n=4", "sensitivity.all_models=true"])
    models = model_names(cfg)
    y = evaluate_design(cfg, design)
    assert len(models) == 7 and y.shape == (len(design), 3 * 7)
    names = output_names(cfg)
    assert names[:7] == [f"cost_per_mtok|{m}" for m in models] and names[-1] == f"optimal_concurrency|{models[-1]}"
    single = evaluate_design(sensitivity.load_config(["sensitivity.n=4"]), design)
    at = models.index("gpt_oss_120b")
    np.testing.assert_allclose(y[:, [at, 7 + at, 14 + at]], single, rtol=1e-12, equal_nan=True)
