"""Each allowed range stated once (issue 20): :data:`model.ranges.RANGE_TESTS` tests one config value
(:func:`model.fields.passes`) and the parameter arrays alike (``model.overrides.check_parameter``)."""
import math

import numpy as np
import pytest

import model
from model.errors import ConfigError
from model.fields import CHECKS, passes
from model.overrides import apply_overrides
from model.parameters import raw_parameters
from model.ranges import RANGE_TESTS, meets


def test_every_declared_range_has_one_test():
    assert set(RANGE_TESTS) == set(CHECKS)


# (rule, values that meet it, values that do not), each checked by hand against the rule's message in CHECKS
CASES = [
    ("> 0", [1e-300, 1, 1e308], [0, -1, math.inf, math.nan]),
    (">= 0", [0, 1, 1e308], [-1e-300, math.inf, -math.inf, math.nan]),
    ("(0, 1]", [1e-300, 0.5, 1], [0, 1 + 1e-15, math.inf, math.nan]),
    ("[0, 1)", [0, 0.999], [1, -1e-300, math.nan]),
    (">= 1", [1, 2, 2.0**53], [0, 1.5, math.inf, math.nan]),
    ("finite", [-1e308, 0, 1e308], [math.inf, -math.inf, math.nan]),
    ("[0, 1e6]", [0, 1e6], [-1, 1e6 + 1, math.inf, math.nan]),
    ("[1, 1e9]", [1, 96300, 1e9], [0, 1.5, 1e9 + 1, math.inf, math.nan]),
    ("[0, 2]", [0, 2], [-1e-300, 2.0000001, math.nan]),
]


@pytest.mark.parametrize("rule,good,bad", CASES, ids=[c[0] for c in CASES])
def test_one_value_and_an_array_meet_a_range_alike(rule, good, bad):
    values = good + bad
    expected = [True] * len(good) + [False] * len(bad)
    assert [passes(rule, v) for v in values] == expected
    assert meets(rule, np.array(values)).tolist() == expected


def test_booleans_and_text_are_not_numbers():
    assert not any(passes("finite", v) for v in (True, False, "1", None))


def test_the_api_refuses_the_infinite_replica_size_the_config_refuses():
    cfg = model.load_config(["select.models=[gpt_oss_120b]", "select.hardware=[b200]"])
    assert not passes(">= 1", math.inf)  # hardware.b200.min_systems=inf on the command line: refused
    with pytest.raises(ConfigError, match="whole number >= 1"):
        apply_overrides(raw_parameters(cfg), {"hardware.b200.min_systems": math.inf})
