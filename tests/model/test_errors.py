"""Bad input of docs/model.md §7: one line naming key, value and what is allowed; non-zero exit."""

import pytest

import model
from model.errors import ConfigError

# (override, key named in the message, value named in the message)
BAD_INPUTS = [
    ("hardware.cerebras_wse3.memory_gb=0", "hardware.cerebras_wse3.memory_gb", "0.0"),
    ("hardware.b200.memory_bandwidth_tb_s=-8", "hardware.b200.memory_bandwidth_tb_s", "-8.0"),
    ("hardware.h100_sxm.price_per_hour=-1.55", "hardware.h100_sxm.price_per_hour", "-1.55"),
    ("hardware.cerebras_wse3.cache_read_ratio=0", "hardware.cerebras_wse3.cache_read_ratio", "0.0"),
    ("hardware.cerebras_wse3.capex_per_system=-1", "hardware.cerebras_wse3.capex_per_system", "-1.0"),
    ("models.glm_4_7.weight_bits=0", "models.glm_4_7.weight_bits", "0.0"),
    ("models.kimi_k2_6.weight_gb=-555", "models.kimi_k2_6.weight_gb", "-555.0"),
    ("models.deepseek_v3.layers=0", "models.deepseek_v3.layers", "0"),
    ("models.gpt_oss_120b.interactivity.cerebras_wse3.tok_s=0",
     "models.gpt_oss_120b.interactivity.cerebras_wse3.tok_s", "0.0"),
    ("workload.isl=0", "workload.isl", "0"),
    ("workload.mix.output=0.5", "workload.mix", "sum to"),
    ("select.models=[gpt_oss_120b,llama_9000]", "select.models", "'llama_9000'"),
    ("select.hardware=[tpu_v9]", "select.hardware", "'tpu_v9'"),
    ("grid.concurrency_max=0", "grid.concurrency_max", "0"),
    ("grid.isl_points=0 grid.isl_extra=[]", "grid.isl_points", "0"),
    ("sla.min_interactivity=-5", "sla.min_interactivity", "-5.0"),
    ("hardware.b200.mtp_acceptance=1", "hardware.b200.mtp_acceptance", "1.0"),
    ("hardware.b200.mtp_draft_per_batch=true", "hardware.b200.mtp_acceptance", "mtp_draft_per_batch"),
]


@pytest.mark.parametrize("override,key,value", BAD_INPUTS)
def test_load_config_raises_one_line(override, key, value):
    with pytest.raises(ConfigError) as err:
        model.load_config(override.split())
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(key) and value in message


def test_unknown_names_list_what_is_allowed():
    with pytest.raises(ConfigError, match="allowed: deepseek_v4, kimi_k2_6, gpt_oss_120b, glm_4_7, deepseek_v3"):
        model.load_config(["select.models=[nope]"])


