"""Sobol analysis: analytic references (Ishigami, G-function), SALib equality, the cost model's
indices, determinism and one-line errors."""
import subprocess

import numpy as np
import pytest
import xarray as xr
from SALib.analyze import sobol as salib_analyze
from SALib.sample import sobol as salib_sample

import sensitivity
from model.errors import ConfigError
from sensitivity.sobol import sobol
from tests.helpers import ROOT, python_cmd

PI = np.pi


def ishigami(x, a=7.0, b=0.1):
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def test_ishigami_indices():
    """a = 7, b = 0.1: S1 = [0.3139, 0.4424, 0], ST = [0.5576, 0.4424, 0.2437] (closed form)."""
    problem = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-PI, PI]] * 3}
    ds = sobol(ishigami, problem, 2 ** 13, seed=1).sel(output="y0")
    np.testing.assert_allclose(ds.S1, [0.3139, 0.4424, 0.0], atol=0.03)
    np.testing.assert_allclose(ds.ST, [0.5576, 0.4424, 0.2437], atol=0.03)
    assert abs(float(ds.S2.sel(parameter="x1", parameter_2="x3")) - 0.2437) < 0.05  # the x1-x3 interaction


def test_g_function_closed_form():
    """Sobol' G: prod (|4x - 2| + a_i) / (1 + a_i) on [0, 1]^6 with a = [0, 1, 4.5, 9, 99, 99]:
    V_i = 1 / (3 (1 + a_i)^2), V = prod(1 + V_i) - 1, S1_i = V_i / V,
    ST_i = V_i prod_{j != i} (1 + V_j) / V."""
    a = np.array([0, 1, 4.5, 9, 99, 99])
    vi = 1 / (3 * (1 + a) ** 2)
    v = np.prod(1 + vi) - 1
    s1 = vi / v
    st = np.array([vi[i] * np.prod(np.delete(1 + vi, i)) / v for i in range(6)])
    problem = {"num_vars": 6, "names": [f"x{i}" for i in range(6)], "bounds": [[0, 1]] * 6}
    g = lambda x: np.prod((np.abs(4 * x - 2) + a) / (1 + a), axis=1)  # noqa: E731
    ds = sobol(g, problem, 2 ** 13, seed=7).sel(output="y0")
    np.testing.assert_allclose(ds.S1, s1, atol=0.03)
    np.testing.assert_allclose(ds.ST, st, atol=0.03)


def test_estimates_equal_salib_analyze():
    """The vectorized estimators give SALib's numbers, bootstrap intervals included."""
    problem = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-PI, PI]] * 3}
    f = lambda x: np.stack([ishigami(x), x[:, 0] ** 2 + x[:, 1]], axis=1)  # noqa: E731
    ds = sobol(f, problem, 2 ** 10, seed=5)
    y = f(salib_sample.sample(problem, 2 ** 10, calc_second_order=True, seed=5))
    for i in range(2):
        ref = salib_analyze.analyze(problem, y[:, i], calc_second_order=True, num_resamples=100, seed=5)
        cell = ds.isel(output=i)
        for key in ("S1", "ST"):
            np.testing.assert_allclose(cell[key], np.where(cell.clipped, 0, ref[key]), rtol=1e-9, atol=1e-12)
        for key in ("S1_conf", "ST_conf", "S2", "S2_conf"):
            np.testing.assert_allclose(cell[key], ref[key], rtol=1e-9, atol=1e-12)


def test_n_must_be_a_power_of_two():
    problem = {"num_vars": 1, "names": ["x"], "bounds": [[0, 1]]}
    with pytest.raises(ConfigError, match="power of two"):
        sobol(lambda x: x[:, 0], problem, 1000, seed=1)
    with pytest.raises(ConfigError, match="seed"):
        sobol(lambda x: x[:, 0], problem, 1024, seed=0)


ONLY_PRICE = ["~sensitivity.parameters.cache_read_ratio", "~sensitivity.parameters.isl",
              "~sensitivity.parameters.concurrency", "~sensitivity.parameters.interactivity",
              "~sensitivity.parameters.hop_latency"]


def test_price_alone_explains_fixed_concurrency_cost():
    """Cost at a fixed concurrency is price x (something price does not touch): with only
    price_per_hour varied, its S1 is 1 within the interval."""
    ds = sensitivity.analyze(sensitivity.load_config([*ONLY_PRICE, "sensitivity.n=512"]))
    cell = ds.sel(output="cost_per_mtok", model="gpt_oss_120b", parameter="price_per_hour")
    assert abs(float(cell.S1) - 1) <= float(cell.S1_conf) + 1e-9
    assert float(cell.ST) == pytest.approx(1, abs=1e-9)


def test_default_analysis_has_a_model_dim_and_is_deterministic():
    cfg = sensitivity.load_config(["sensitivity.n=256", "sensitivity.all_models=true",
                                   "sla.min_interactivity=100"])
    a, b = sensitivity.analyze(cfg), sensitivity.analyze(cfg)
    xr.testing.assert_identical(a, b)
    assert a.S1.dims == ("output", "model", "parameter") and a.sizes["model"] == 7
    assert a.S2.dims == ("output", "model", "parameter", "parameter_2")
    assert list(a.ST_by_n.n_base.values) == [64, 128, 256]
    different = sensitivity.analyze(sensitivity.load_config(["sensitivity.n=256", "sensitivity.seed=2"]))
    assert not np.allclose(different.S1.sel(model="gpt_oss_120b"), a.S1.sel(model="gpt_oss_120b"))


@pytest.mark.parametrize("override,key", [
    ("sensitivity.parameters.isl.key=workload.nonsense", "sensitivity.parameters.isl.key"),
    ("sensitivity.parameters.cache_read_ratio.bounds=[20,5]", "sensitivity.parameters.cache_read_ratio.bounds"),
    ("sensitivity.n=1000", "sensitivity.n"),
    ("sensitivity.seed=0", "sensitivity.seed"),
])
def test_bad_declarations_are_one_line(override, key):
    with pytest.raises(ConfigError) as err:
        sensitivity.load_config([override])
    assert str(err.value).startswith(key) and "\n" not in str(err.value)




def test_convergence_warning_names_the_parameter():
    from sensitivity.report import convergence_warnings

    st = xr.DataArray([[[[0.30, 0.10]]], [[[0.31, 0.20]]]], dims=("n_base", "output", "model", "parameter"),
                      coords={"n_base": [512, 1024], "output": ["cost_per_mtok"], "model": ["m"],
                              "parameter": ["a", "b"]})
    lines = convergence_warnings(xr.Dataset({"ST_by_n": st}), 0.05)
    assert len(lines) == 1 and "ST of b for cost_per_mtok (m) moved 0.100" in lines[0]
