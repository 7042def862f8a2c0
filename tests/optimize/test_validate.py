"""Bad fleet input is a one-line ConfigError naming the key."""
import pytest

import optimize
from model.errors import ConfigError


@pytest.mark.parametrize("override,key", [
    ("fleet.demand.gpt_oss_120b=-1", "fleet.demand.gpt_oss_120b"),
    ("fleet.target_utilization=0", "fleet.target_utilization"),
    ("fleet.inventory.b200=-3", "fleet.inventory.b200"),
    ("fleet.isl.kind=lognormal fleet.isl.sigma=0", "fleet.isl.sigma"),
])
def test_fleet_bad_input_is_one_line(override, key):
    with pytest.raises(ConfigError) as err:
        optimize.load_config(override.split())
    assert str(err.value).startswith(key) and "\n" not in str(err.value)
