"""Step 1 (``sensitivity.sample``): the SALib problem of the declared parameters and its design."""
import numpy as np
import pytest
from SALib.sample import sobol as salib_sample

import sensitivity
from sensitivity import sobol as sobol_function
from sensitivity.sample import problem, sample
from sensitivity.sobol import sample as engine_sample

DEFAULT_NAMES = ["cache_read_ratio", "price_per_hour", "isl", "concurrency", "interactivity", "hop_latency",
                 "prefill_efficiency_wafer", "prefill_efficiency_b200"]


def test_default_problem():
    cfg = sensitivity.load_config()
    prob = problem(cfg)
    price = float(cfg.hardware.cerebras_wse3.price_per_hour)
    assert prob["names"] == DEFAULT_NAMES and prob["num_vars"] == 8
    assert prob["dists"] == ["unif", "unif", "logunif", "logunif", "unif", "unif", "unif", "unif"]
    assert prob["bounds"][0] == [5.0, 20.0] and prob["bounds"][2] == [32000.0, 256000.0]
    assert prob["bounds"][1] == pytest.approx([0.5 * price, 1.5 * price])  # relative: times the catalog $/hour


def test_triangular_and_normal_declarations():
    cfg = sensitivity.load_config(["sensitivity.parameters.cache_read_ratio.distribution=triangular",
                                   "sensitivity.parameters.cache_read_ratio.mode=8",
                                   "sensitivity.parameters.isl.distribution=triangular",
                                   "sensitivity.parameters.interactivity.distribution=normal",
                                   "sensitivity.parameters.interactivity.mean=1.0",
                                   "sensitivity.parameters.interactivity.sd=0.1"])
    prob = problem(cfg)
    assert prob["dists"][0] == "triang" and prob["bounds"][0] == pytest.approx([5, 20, 0.2])  # peak (8 - 5) / 15
    assert prob["bounds"][2] == pytest.approx([32000, 256000, 0.5])  # no mode: the midpoint
    assert prob["dists"][4] == "norm" and prob["bounds"][4] == [1.0, 0.1]


def test_sample_is_the_engines_and_salibs():
    """``sensitivity.sample.sample`` is the generic engine's, which is SALib's design."""
    assert sample is engine_sample
    prob = problem(sensitivity.load_config())
    x = sample(prob, 64, seed=3)
    np.testing.assert_array_equal(x, salib_sample.sample(dict(prob), 64, calc_second_order=True, seed=3))
    assert x.shape == (64 * 18, 8)
    low, high = np.array([b[:2] for b in prob["bounds"]]).T
    assert ((x >= low) & (x <= high)).all()
    assert sample(prob, 64, seed=3, second_order=False).shape == (64 * 10, 8)


def test_package_keeps_the_module_names():
    """``sensitivity.sobol`` stays the function (as before); the package does not shadow the modules
    ``sensitivity.sample`` and ``sensitivity.evaluate`` with their functions."""
    assert callable(sobol_function) and sensitivity.problem is problem
    assert sensitivity.sample.__name__ == "sensitivity.sample"
