"""The generic Sobol engine (``sensitivity.sobol``): analytic references (Ishigami, Sobol' G,
from SALib's own test functions too), equality with SALib, the split sample -> evaluate ->
estimate, plain one-line ValueErrors, and no dependency on the cost model."""
import subprocess

import numpy as np
import pytest
import xarray as xr
from SALib.analyze import sobol as salib_analyze
from SALib.sample import sobol as salib_sample
from SALib.test_functions import Ishigami, Sobol_G

from model.errors import ConfigError
from sensitivity.sobol import argument_violation, complete_problem, estimate, indices, sample, sobol
from tests.helpers import ROOT, python_cmd

PI = np.pi


def ishigami_problem(**extra):
    """A fresh problem dict (SALib's sampler adds keys to the dict it is given)."""
    return {"names": ["x1", "x2", "x3"], "bounds": [[-PI, PI]] * 3, **extra}


def ishigami(x, a=7.0, b=0.1):
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def ishigami_indices(a=7.0, b=0.1):
    """Closed-form S1, ST and S13 of Ishigami on [-pi, pi]^3 (Sobol' & Levitan 1999)."""
    v1 = 0.5 * (1 + b * PI ** 4 / 5) ** 2
    v2 = a ** 2 / 8
    v13 = b ** 2 * PI ** 8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return np.array([v1, v2, 0]) / v, np.array([v1 + v13, v2, v13]) / v, v13 / v


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


def test_salib_ishigami_within_the_bootstrap_interval():
    """SALib's ``Ishigami.evaluate`` at N = 2^13: every S1, ST and S2_13 lies within its own 95%
    bootstrap half-width of the closed form (S1 ~ [0.3139, 0.4424, 0], ST ~ [0.5576, 0.4424, 0.2437]).

    Why that tolerance: the half-width is what the engine itself claims about its error, so the
    test checks the claim.  It is conservative here (the bootstrap resamples the base samples as
    if independent, while scrambled Sobol' points converge faster): over seeds 1-5 the errors stay
    below 0.1 of it (<= 0.0015 against half-widths of 0.009-0.034).  The half-widths are also
    bounded (< 0.04) so that a broken, wide interval cannot pass vacuously.
    """
    s1, st, s13 = ishigami_indices()
    np.testing.assert_allclose(s1, [0.3139, 0.4424, 0], atol=1e-4)
    np.testing.assert_allclose(st, [0.5576, 0.4424, 0.2437], atol=1e-4)
    problem = {"names": ["x1", "x2", "x3"], "bounds": [[-PI, PI]] * 3}  # no num_vars: derived from names
    ds = sobol(Ishigami.evaluate, problem, 2 ** 13, seed=1).sel(output="y0")
    for key, exact in (("S1", s1), ("ST", st)):
        conf = ds[f"{key}_conf"].values
        assert (conf < 0.04).all(), (key, conf)
        assert (np.abs(ds[key].values - exact) <= conf).all(), (key, ds[key].values, exact, conf)
    cell = ds.sel(parameter="x1", parameter_2="x3")
    assert abs(float(cell.S2) - s13) <= float(cell.S2_conf) < 0.04


def test_salib_sobol_g_within_the_bootstrap_interval():
    """SALib's ``Sobol_G.evaluate`` (a = [0, 1, 4.5, 9, 99, 99, 99, 99]) at N = 2^13, first and
    total order only, against SALib's analytic ``Sobol_G.sensitivity_index`` and
    ``total_sensitivity_index``: every index within its 95% bootstrap half-width.

    Why that tolerance: as for Ishigami; over seeds 1-8 the largest error is 0.27 of the
    half-width.  The half-widths shrink with the index (about 3e-4 for S1 of a = 99) so the small
    indices are checked at their own scale, and are bounded (< 0.04) so the test cannot pass on a
    wide interval.
    """
    a = np.array([0, 1, 4.5, 9, 99, 99, 99, 99])
    exact = {"S1": Sobol_G.sensitivity_index(a), "ST": Sobol_G.total_sensitivity_index(a)}
    vi = 1 / (3 * (1 + a) ** 2)  # the closed form of test_g_function_closed_form agrees with SALib's
    np.testing.assert_allclose(exact["S1"], vi / (np.prod(1 + vi) - 1), rtol=1e-12)
    problem = {"names": [f"x{i}" for i in range(8)], "bounds": [[0, 1]] * 8}
    ds = sobol(Sobol_G.evaluate, problem, 2 ** 13, seed=1, second_order=False).sel(output="y0")
    assert "S2" not in ds
    for key in ("S1", "ST"):
        conf = ds[f"{key}_conf"].values
        assert (conf < 0.04).all(), (key, conf)
        assert (np.abs(ds[key].values - exact[key]) <= conf).all(), (key, ds[key].values, exact[key], conf)


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


def test_first_order_only_equals_salib_analyze():
    problem = {"names": ["x1", "x2", "x3"], "bounds": [[-PI, PI]] * 3}
    ds = sobol(ishigami, problem, 2 ** 9, seed=3, second_order=False, conf_level=0.9, num_resamples=50)
    y = ishigami(salib_sample.sample({**problem, "num_vars": 3}, 2 ** 9, calc_second_order=False, seed=3))
    ref = salib_analyze.analyze({**problem, "num_vars": 3}, y, calc_second_order=False, num_resamples=50,
                                conf_level=0.9, seed=3)
    cell = ds.isel(output=0)
    for key in ("S1", "ST"):
        np.testing.assert_allclose(cell[key], np.where(cell.clipped, 0, ref[key]), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(cell[f"{key}_conf"], ref[f"{key}_conf"], rtol=1e-9, atol=1e-12)


def test_sample_evaluate_estimate_equals_sobol():
    """The split entry points give exactly what ``sobol`` gives, and ``sample`` is SALib's design."""
    problem = {"names": ["x1", "x2", "x3"], "bounds": [[-PI, PI]] * 3}
    f = lambda x: np.stack([ishigami(x), x[:, 0] ** 2 + x[:, 1]], axis=1)  # noqa: E731
    x = sample(problem, 2 ** 8, seed=4)
    np.testing.assert_array_equal(x, salib_sample.sample(ishigami_problem(num_vars=3), 2 ** 8, seed=4))
    y = f(x)
    split = indices(problem, y, seed=4, outputs=["a", "b"], convergence=[32, 256])
    xr.testing.assert_identical(split, sobol(f, problem, 2 ** 8, seed=4, outputs=["a", "b"], convergence=[32, 256]))
    assert split.attrs["n"] == 256 and split.attrs["model_runs"] == len(x) == 256 * 8
    raw = estimate(y, 3, seed=4)
    np.testing.assert_array_equal(raw["S2"], split.S2.transpose("parameter", "parameter_2", "output").values)


def test_problem_without_num_vars():
    without = ishigami_problem()
    assert complete_problem(without) == ishigami_problem(num_vars=3)
    xr.testing.assert_identical(sobol(ishigami, without, 2 ** 6, seed=2),
                                sobol(ishigami, ishigami_problem(num_vars=3), 2 ** 6, seed=2))
    assert without == ishigami_problem()  # the caller's dict is left as it was


def test_n_must_be_a_power_of_two():
    problem = {"num_vars": 1, "names": ["x"], "bounds": [[0, 1]]}
    with pytest.raises(ValueError, match="power of two"):
        sobol(lambda x: x[:, 0], problem, 1000, seed=1)
    with pytest.raises(ValueError, match="seed"):
        sobol(lambda x: x[:, 0], problem, 1024, seed=0)


def never_called(x):
    raise AssertionError("func must not be called with bad arguments")


@pytest.mark.parametrize("kwargs,message", [
    ({"n": 1000}, "n=1000: must be a power of two (SALib's Sobol sequence), e.g. 1024, 4096, 16384"),
    ({"n": 0}, "n=0: must be a power of two"),
    ({"n": 64.0}, "n=64.0: must be a power of two"),
    ({"seed": 0}, "seed=0: must be >= 1 (SALib treats 0 as unseeded)"),
    ({"seed": -3}, "seed=-3: must be >= 1"),
    ({"conf_level": 1.0}, "conf_level=1.0: must be in (0, 1)"),
    ({"num_resamples": 1}, "num_resamples=1: must be >= 2"),
    ({"problem": {"names": ["x"], "bounds": [[0, 1]], "num_vars": 2}},
     "problem['num_vars']=2: must equal the number of names (1)"),
    ({"problem": {"names": ["x", "y"], "bounds": [[0, 1]]}}, "problem['bounds']=[[0, 1]]: needs one [low, high]"),
    ({"problem": {"names": ["x"], "bounds": [[0, 1]], "groups": ["g"]}}, "problem['groups']=['g']: not supported"),
    ({"problem": {"names": ["x"]}}, "problem={'names': ['x']}: needs 'names' and 'bounds'"),
])
def test_bad_arguments_are_one_line_value_errors(kwargs, message):
    """Plain ValueError (the engine knows nothing of the config), ``name=value: what is allowed``."""
    args = {"problem": {"names": ["x"], "bounds": [[0, 1]]}, "n": 64, "seed": 1, **kwargs}
    with pytest.raises(ValueError) as err:
        sobol(never_called, **args)
    assert type(err.value) is ValueError and not isinstance(err.value, ConfigError)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_bad_sample_and_estimate_arguments():
    problem = {"names": ["x"], "bounds": [[0, 1]]}
    for kwargs in ({"n": 48, "seed": 1}, {"n": 64, "seed": 0}):
        with pytest.raises(ValueError) as err:
            sample(problem, **kwargs)
        assert type(err.value) is ValueError
    y = np.zeros(64 * 4)  # D = 1, second order: 4 rows per base sample
    for kwargs, message in (({"y": y[:-1]}, "y has 255 rows: must be n x 4"),
                            ({"y": y, "seed": 0}, "seed=0"),
                            ({"y": y, "outputs": ["a", "b"]}, "outputs has 2 names: must name each of the 1 columns"),
                            ({"y": y, "convergence": [0, 64]}, "convergence=[0, 64]: base sample sizes"),
                            ({"y": y, "convergence": [128]}, "convergence=[128]")):
        with pytest.raises(ValueError) as err:
            indices(problem, **{"seed": 1, **kwargs})
        assert type(err.value) is ValueError and str(err.value).startswith(message), str(err.value)


def test_argument_rules():
    assert argument_violation("n", 1024) is None and argument_violation("n", np.int64(2)) is None
    assert argument_violation("n", True) is not None  # a bool is not a sample size
    assert argument_violation("num_resamples", 2) is None and argument_violation("conf_level", 0.95) is None
    with pytest.raises(ValueError, match="name='bounds': not an engine argument"):
        argument_violation("bounds", [0, 1])


def test_small_n_drops_empty_convergence_prefixes():
    """n = 2: the default sizes n/4 = 0 (an empty prefix) is left out, n/2 and n kept."""
    ds = sobol(lambda x: x[:, 0] + x[:, 1], {"names": ["a", "b"], "bounds": [[0, 1]] * 2}, 2, seed=1)
    assert list(ds.n_base.values) == [1, 2]


def test_outputs_with_nan_get_nan_indices():
    problem = {"names": ["a", "b"], "bounds": [[0, 1]] * 2}
    f = lambda x: np.stack([x[:, 0], np.where(x[:, 1] > 0.9, np.nan, x[:, 1])], axis=1)  # noqa: E731
    ds = sobol(f, problem, 2 ** 6, seed=1, outputs=["ok", "gaps"])
    assert np.isfinite(ds.ST.sel(output="ok")).all() and np.isnan(ds.ST.sel(output="gaps")).all()
    assert int(ds.valid_samples.sel(output="ok")) == ds.attrs["model_runs"] > int(ds.valid_samples.sel(output="gaps"))


@pytest.mark.cli
def test_engine_runs_without_the_cost_model():
    """Loaded as a file (not through the ``sensitivity`` package, whose API imports the cost model),
    the engine works and no ``model`` module is imported."""
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('engine', {str(ROOT / 'sensitivity' / 'sobol.py')!r})\n"
        "engine = importlib.util.module_from_spec(spec); spec.loader.exec_module(engine)\n"
        "ds = engine.sobol(lambda x: x[:, 0], {'names': ['x'], 'bounds': [[0, 1]]}, 64, seed=1)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('model', 'sensitivity', 'optimize'))\n"
        "assert not loaded, loaded\n"
        "print(repr(ds.ST.item()))\n"
    )
    result = subprocess.run(python_cmd("-c", code), cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    here = sobol(lambda x: x[:, 0], {"names": ["x"], "bounds": [[0, 1]]}, 64, seed=1)
    assert float(result.stdout) == here.ST.item()
