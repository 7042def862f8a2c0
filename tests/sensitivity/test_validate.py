"""Value checks of the declarations: one-line ConfigError named by the dotted key."""
import pytest

import sensitivity
from model.errors import ConfigError
from sensitivity.sobol import RULES


@pytest.mark.parametrize("override,key", [
    ("sensitivity.parameters.isl.key=workload.nonsense", "sensitivity.parameters.isl.key"),
    ("sensitivity.parameters.cache_read_ratio.bounds=[20,5]", "sensitivity.parameters.cache_read_ratio.bounds"),
    ("sensitivity.n=1000", "sensitivity.n"),
    ("sensitivity.seed=0", "sensitivity.seed"),
    ("sensitivity.n=2", "sensitivity.n"),
    ("sensitivity.conf_level=1.5", "sensitivity.conf_level"),
    ("sensitivity.num_resamples=1", "sensitivity.num_resamples"),
    # bounds that reach outside the key's allowed range: a negative $/hour, an efficiency above 1
    ("sensitivity.parameters.price_per_hour.bounds=[-1,1]", "sensitivity.parameters.price_per_hour.bounds"),
    ("sensitivity.parameters.hop_latency.bounds=[-1e-6,1e-5]", "sensitivity.parameters.hop_latency.bounds"),
    ("sensitivity.parameters.prefill_efficiency_b200.bounds=[0.5,1.5]",
     "sensitivity.parameters.prefill_efficiency_b200.bounds"),
    ("sensitivity.parameters.isl.key=workload.mix.output", "sensitivity.parameters.isl.key"),
])
def test_bad_declarations_are_one_line(override, key):
    with pytest.raises(ConfigError) as err:
        sensitivity.load_config([override])
    assert str(err.value).startswith(key) and "\n" not in str(err.value)


@pytest.mark.parametrize("name,value", [("n", 1000), ("seed", 0), ("conf_level", 1.5), ("num_resamples", 1)])
def test_the_config_states_the_engines_rule(name, value):
    """The config error and the engine's ValueError say the same thing about the same value."""
    with pytest.raises(ConfigError) as err:
        sensitivity.load_config([f"sensitivity.{name}={value}"])
    assert str(err.value) == f"sensitivity.{name}={value}: {RULES[name][1]}"
