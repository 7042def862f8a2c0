"""The cross-field checks declared as data (model.rules) refuse what the code before them refused, with
the same one line: every rule is broken once below, and the message is the one the checks written as code
gave at commit fe5f0b6 (recorded from that tree).  The hit-rate curve's rules are checked on a
dataclass config (a curve given on the command line fails earlier, in OmegaConf)."""
import importlib
from functools import partial

import pytest
from omegaconf import OmegaConf

import model
from model.app.config import compose_config
from model.errors import ConfigError
from model.rules import SECTION_RULES, Rule, apply_rules

# the core's checks (``model.validate`` as an attribute is the app layer's function, re-exported)
checks = importlib.import_module("model.validate")

# (overrides, the error's one line)
CASES = [
    (['hardware.b200.min_systems=16', 'hardware.b200.max_systems=8'],
     'hardware.b200.min_systems=16: must be <= max_systems (8)'),
    (['hardware.cerebras_wse3.power_law_a=100'],
     'hardware.cerebras_wse3.power_law_a=100.0: set power_law_a and power_law_b together, or neither (fit them)'),
    (['hardware.b200.allowed_sizes=[4,2]'],
     'hardware.b200.allowed_sizes=[4, 2]: must be a non-empty increasing list of whole numbers >= 1, or null'),
    (['hardware.b200.allowed_sizes=[]'],
     'hardware.b200.allowed_sizes=[]: must be a non-empty increasing list of whole numbers >= 1, or null'),
    (['hardware.b200.peak_dense_tflops=null', 'hardware.b200.decode_attention_efficiency=0.3'],
     'hardware.b200.decode_attention_efficiency=0.3: is a share of the peak: set peak_dense_tflops too, or leave '
     'it null'),
    (['models.deepseek_v3.active_params_b=1000'],
     'models.deepseek_v3.active_params_b=1000.0: must be <= total_params_b (671.0)'),
    (['models.gpt_oss_120b.kv_heads=0'],
     'models.gpt_oss_120b.kv_heads=0: GQA needs a whole number >= 1'),
    (['models.gpt_oss_120b.head_dim=null'],
     'models.gpt_oss_120b.head_dim=None: GQA needs a whole number >= 1'),
    (['models.gpt_oss_120b.sliding_window_layers=1000'],
     'models.gpt_oss_120b.sliding_window_layers=1000: must be between 0 and layers (36)'),
    (['models.gpt_oss_120b.sliding_window_layers=2', 'models.gpt_oss_120b.sliding_window=null'],
     'models.gpt_oss_120b.sliding_window=None: sliding-window layers need a window of >= 1 token'),
    (['models.deepseek_v3.kv_lora_rank=-1'],
     'models.deepseek_v3.kv_lora_rank=-1: MLA needs a whole number >= 0'),
    (['models.deepseek_v3.qk_rope_head_dim=null'],
     'models.deepseek_v3.qk_rope_head_dim=None: MLA needs a whole number >= 0'),
    (['models.deepseek_v3.kv_lora_rank=0', 'models.deepseek_v3.qk_rope_head_dim=0'],
     'models.deepseek_v3.kv_lora_rank=0: kv_lora_rank + qk_rope_head_dim must be >= 1'),
    (['models.deepseek_v3.attention=explicit'],
     'models.deepseek_v3.kv_bytes_per_token=None: must be a finite number > 0'),
    (['models.deepseek_v3.routed_experts=null'],
     'models.deepseek_v3.routed_experts=[None, 8, 653.9]: MoE needs routed_experts, experts_per_token and '
     'routed_expert_params_b together'),
    (['models.deepseek_v3.experts_per_token=1000'],
     'models.deepseek_v3.experts_per_token=1000: must be between 1 and routed_experts (256)'),
    (['models.deepseek_v3.routed_expert_params_b=-1'],
     'models.deepseek_v3.routed_expert_params_b=-1.0: must be a finite number > 0'),
    (['models.deepseek_v3.routed_expert_params_b=10000'],
     'models.deepseek_v3.routed_expert_params_b=10000.0: inconsistent with total_params_b and '
     'active_params_b: need active - k/E * routed >= 0 and routed <= total'),
    (['workload.mix.output=0.5'],
     "workload.mix={'cache_read': 0.953227, 'cache_write': 0.037856, 'input': 0.0041, 'output': 0.5}: "
     "fractions must sum to 1 (within 1e-06); they sum to 1.495183"),
    (['workload.mix.cache_read=0.9', 'workload.mix.cache_write=0.05', 'workload.mix.input=0.05',
      'workload.mix.output=0.0'],
     'workload.mix.output=0.0: must be > 0 when workload.osl is null (OSL is derived from it)'),
    (['workload.cache=trace'],
     'workload.trace=None: give a request trace with prefix block ids (a Mooncake JSONL, e.g. '
     'reference/traces/mooncake-conversation.jsonl) for workload.cache=trace'),
    (['workload.cache_replicas=[]'],
     'workload.cache_replicas=[]: give at least one replica count'),
    (['workload.cache_replicas=[1,0]'],
     'workload.cache_replicas=0: must be a whole number >= 1'),
    (['grid.isl_points=-1'],
     'grid.isl_points=-1: must be a whole number >= 0'),
    (['grid.isl_min=0'],
     'grid.isl_min=0: must be a whole number of tokens >= 1'),
    (['grid.isl_max=100'],
     'grid.isl_max=100: must be >= grid.isl_min (4000)'),
    (['grid.isl_extra=[0]'],
     'grid.isl_extra=[0]: every ISL must be >= 1 token'),
    (['grid.isl_points=0', 'grid.isl_extra=[]'],
     'grid.isl_points=0: empty ISL grid: set isl_points >= 1 or list grid.isl_extra'),
    (['grid.concurrency_min=0'],
     'grid.concurrency_min=0: must be a whole number >= 1'),
    (['grid.concurrency_step=0'],
     'grid.concurrency_step=0: must be a whole number >= 1'),
    (['grid.concurrency_min=10', 'grid.concurrency_max=5'],
     'grid.concurrency_max=5: empty concurrency grid: must be >= grid.concurrency_min (10)'),
]
CURVES = [
    ({"capacity_tokens": [1, 2], "prefix_aware": [0.5], "random": [0.1, 0.2]},
     "workload.cache_curve.prefix_aware=[0.5]: must hold one share in [0, 1] per "
     "workload.cache_curve.capacity_tokens"),
    ({"capacity_tokens": [1, 2], "prefix_aware": [0.5, 0.6], "random": [2.0, 0.2]},
     "workload.cache_curve.random=[2.0, 0.2]: must hold one share in [0, 1] per "
     "workload.cache_curve.capacity_tokens"),
]


def refusal(monkeypatch, load) -> tuple[str, Rule | None]:
    """The one line ``load()`` is refused with, and the rule that refused it (model.validate applies the
    rules one by one through a spy)."""
    fired: list[Rule] = []

    def apply(node, rules, prefix):
        for rule in rules:
            try:
                apply_rules(node, (rule,), prefix)
            except ConfigError:
                fired.append(rule)
                raise

    with monkeypatch.context() as patch:
        patch.setattr(checks, "apply_rules", apply)
        with pytest.raises(ConfigError) as err:
            load()
    return str(err.value), (fired[0] if fired else None)


def with_curve(cfg, curve):
    config = OmegaConf.to_object(cfg)
    config.workload.cache_curve = curve
    return checks.check_config(config)


def merged(base, overrides):
    """``model.load_config(overrides)`` from one composed ``base``: the overrides merged as
    OmegaConf parses them into the typed config, then the same validation (one composition for all
    the cases instead of one each)."""
    return model.validate(OmegaConf.merge(base, OmegaConf.from_dotlist(overrides)))


def test_each_rule_refuses_its_case_as_the_code_did(monkeypatch, cfg):
    base = compose_config("model")
    loads = [(partial(merged, base, overrides), says) for overrides, says in CASES]
    loads += [(partial(with_curve, cfg, curve), says) for curve, says in CURVES]
    lines, fired = zip(*(refusal(monkeypatch, load) for load, _ in loads))
    assert list(lines) == [says for _, says in loads]
    every = [rule for rules in SECTION_RULES.values() for rule in rules]
    assert not [(r.key, r.message) for r in every if not any(f is r for f in fired)]  # each rule broken once


def test_the_default_config_breaks_no_rule(cfg):
    config = OmegaConf.to_object(cfg)
    for prefix, rules in SECTION_RULES.items():
        nodes = {"hardware.<name>": list(config.hardware.values()), "models.<name>": list(config.models.values()),
                 "workload": [config.workload], "grid": [config.grid]}[prefix]
        for node in nodes:
            apply_rules(node, rules, prefix)
