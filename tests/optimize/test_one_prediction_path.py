"""One prediction path (docs/model.md §10): a disaggregated benchmark configuration predicted through
model.configurations equals the optimizer's prefill and decode column values for the same replicas,
with the docs/model.md §10 terms off and on."""
import numpy as np
import pytest
from omegaconf import OmegaConf

import optimize
from model import configurations
from model.app.config import load_config
from optimize.columns import disaggregated_cells
from optimize.inputs import bucket_grid, column_options
from tests.helpers import ROOT

# fitted-looking values, the same on both sides, with the docs/model.md §10 terms off (TERMS_ON below: on)
PARAMS = {"bandwidth_efficiency": 0.62, "layer_overhead_s": 1.3e-4, "prefill_efficiency": 0.11,
          "prefill_latency_s": 0.09, "prefill_busy_s": 0.0, "compute_efficiency": 0.5, "ep_latency_s": 0.0,
          "prefill_burst": 0.0, "mtp_acceptance": 0.6, "prefill_stack_speed": 1.0,
          "pool_latency_share": 1.0, "pool_latency_factor": 1.0, "dp_prefill_speed": 1.0, "dp_pool_latency": 1.0,
          "fp4_prefill_speed": 1.0,
          "memory_reserve_gb": 0.0,
          "decode_attention_efficiency": np.inf}  # inf: no decode attention term

# run 1241's replicas on the optimizer's grid, at the PARAMS values
RUN_1241 = [
    "select.models=[deepseek_r1]", "select.hardware=[mi355x]", "workload.isl=1024", "workload.osl=1024",
    "workload.mix.cache_read=0", "workload.mix.cache_write=0", "workload.mix.input=0.5",
    "workload.mix.output=0.5", "workload.decode_context=mean", "workload.kv_tier=device",
    "grid.concurrency_min=32", "grid.concurrency_max=32", "hardware.mi355x.min_systems=8",
    "hardware.mi355x.max_systems=8", "models.deepseek_r1.weight_gb=671", "sla.min_interactivity=1",
    "hardware.mi355x.bandwidth_efficiency=0.62", "hardware.mi355x.layer_overhead_s=1.3e-4",
    "hardware.mi355x.prefill_efficiency=0.11", "hardware.mi355x.prefill_overhead_s=0.09",
    "hardware.mi355x.compute_efficiency=0.5", "hardware.mi355x.peak_dense_tflops=5000",
    "hardware.mi355x.interconnect_gb_s=50", "fleet.target_utilization=0.8"]


def test_disaggregated_run_through_calibration_equals_the_optimizer_columns():
    """Run 1241: DeepSeek-R1 FP8 on MI355X (SGLang, no EP, no DP attention, no MTP), a prefill
    worker of 8 GPUs and two decode workers of 8, 64 users (32 per decode worker), 1k/1k
    (nominal lengths here: length factor 1)."""
    c = configurations.serving_catalog(OmegaConf.to_container(load_config(config_name="calibrate"), resolve=True))
    c["stacks"]["kv_bits"]["sglang"] = 16  # the same replicas: the grid below keeps the model's BF16 KV
    c["stacks"]["prefill_chunk_tokens"] = float("inf")  # and the kernel's prefill has no weight pass per forward
    table = configurations.load_configurations(str(ROOT / "model/data/inferencex/inferencex-dsr1.csv"))
    run = table[table.id == 1241]
    assert not bool(run.aggregated.item())
    x = configurations.configuration_inputs(run, c, 1.0)
    assert (x.decode_gpus.item(), x.decode_workers.item(), x.prefill_gpus.item(), x.users.item()) == (8, 2, 8, 64)
    cfg = optimize.load_config(RUN_1241)
    optimizer, _ = _assert_columns_equal(cfg, x, PARAMS, admitted=32)
    # and the decode side is what the calibration is judged on: accepted / step of model.serving
    assert optimizer["decode_interactivity"] > 30


# the docs/model.md §10 terms on: a memory reserve, the pool's speed and latency share, the prefill busy
# time, the decode attention; the stack's real KV bits and prefill chunk come from the calibration's stacks
# (SGLang: FP8 KV, 8,192)
TERMS_ON = {**PARAMS, "prefill_busy_s": 0.012, "prefill_stack_speed": 1.6, "pool_latency_share": 0.45,
            "memory_reserve_gb": 14.0, "decode_attention_efficiency": 0.2}


def _terms_on_overrides(params: dict, kv_bits: float, chunk: float) -> list[str]:
    """The MI355X grid's overrides for the terms at ``params``, the stack's KV bits and prefill chunk
    (the weights are the catalog's on both sides: 671 B parameters at 1 byte)."""
    return [f"hardware.mi355x.kv_cache_bits={kv_bits}", f"hardware.mi355x.prefill_chunk_tokens={chunk}",
            f"hardware.mi355x.prefill_busy_s={params['prefill_busy_s']}",
            f"hardware.mi355x.prefill_stack_speed={params['prefill_stack_speed']}",
            f"hardware.mi355x.pool_latency_share={params['pool_latency_share']}",
            f"hardware.mi355x.memory_reserve_gb={params['memory_reserve_gb']}",
            f"hardware.mi355x.decode_attention_efficiency={params['decode_attention_efficiency']}"]


def _assert_columns_equal(cfg, x, params: dict, admitted: int) -> tuple[dict, dict]:
    """The optimizer's columns of ``cfg``'s one cell (a replica of 8 admitting ``admitted`` requests) equal
    :func:`model.configurations.plan_columns` of ``x`` at ``params`` to 1e-9; returns both."""
    grid = bucket_grid(cfg)
    assert int(grid.systems.squeeze()) == 8 and int(grid.admitted_requests.squeeze()) == admitted
    optimizer = {k: float(np.squeeze(v)) for k, v in disaggregated_cells(grid, column_options(cfg, grid)).items()}
    ours = configurations.plan_columns(x, params, 0.8, transfer_bytes=x.kv_bytes_request)
    for key in ("decode_interactivity", "decode_rate", "prefill_rate", "prefill_ttft"):
        assert float(ours[key][0]) == pytest.approx(optimizer[key], rel=1e-9), key
    return optimizer, ours


@pytest.mark.parametrize("reserve", [14.0, 202.5])
def test_the_optimizer_columns_equal_the_calibration_with_the_terms_on(reserve):
    """Run 1241 as above with the terms on.  Both sides hold DeepSeek-R1's catalog weights, 671 B
    parameters at 1 byte (``ConfigurationInputs.resident_bytes``, the kernel's ``weight_gb``).  With a
    14 GB reserve a decode worker's KV holds 3,522 requests and all 32 users fit; with 202.5 GB each
    MI355X keeps 288 - 671 / 8 - 202.5 = 1.625 GB for KV; one request's FP8 latent KV at the mean
    context 1,536 is 1,536 x 61 x 576 B = 53.97 MB (whole on every GPU under TP): 30.11, so 30
    requests run, both in the calibration's decode
    column and in the kernel's admission (one rule, :func:`model.serving.kv_capacity`).  The decode
    attention at 0.2 of the 5,000 TFLOP/s peak: 2 x 128 x 1,088 x 61 = 16,990,208 FLOPs per context
    token, 2.6097e10 at 1,536 tokens, 26.097 µs per verified token on one GPU; 32 users on 8 GPUs add
    104.39 µs to the step, which moves the decode interactivity from 52.06 tok/s (the kernel without
    the term) to 51.78: the 1e-9 equality fails if either side leaves it out."""
    c = configurations.serving_catalog(OmegaConf.to_container(load_config(config_name="calibrate"), resolve=True))
    kv_bits, chunk = c["stacks"]["kv_bits"]["sglang"], c["stacks"]["prefill_chunk_tokens"]
    assert (kv_bits, chunk) == (8, 8192)
    table = configurations.load_configurations(str(ROOT / "model/data/inferencex/inferencex-dsr1.csv"))
    x = configurations.configuration_inputs(table[table.id == 1241], c, 1.0)
    params = {**TERMS_ON, "memory_reserve_gb": reserve}
    cfg = optimize.load_config(RUN_1241 + _terms_on_overrides(params, kv_bits, chunk))
    held = int(np.floor(configurations.kv_capacity(x, params)[0]))  # the calibration's cap, whole requests
    assert held == (30 if reserve > 100 else 3522)
    _, ours = _assert_columns_equal(cfg, x, params, admitted=32 if reserve < 100 else 30)
    # the terms moved the columns: the prefill pool is faster and waits less than with them off
    off = configurations.plan_columns(x, {**PARAMS}, 0.8, transfer_bytes=x.kv_bytes_request)
    assert float(ours["prefill_ttft"][0]) != pytest.approx(float(off["prefill_ttft"][0]), rel=1e-3)
    # and the decode attention slows the decode: the same terms without it are faster by more than 1e-9
    no_attention = configurations.plan_columns(x, {**params, "decode_attention_efficiency": np.inf}, 0.8,
                                               transfer_bytes=x.kv_bytes_request)
    assert float(no_attention["decode_interactivity"][0]) > float(ours["decode_interactivity"][0]) * (1 + 1e-3)


def test_fleet_prefill_ttft_at_p99_by_hand():
    """The hand-worked instance of tests/optimize/test_disaggregation.py: B200 prefill t_pf = 0.3 s,
    M/D/1 wait at u = 0.8 W = 0.8 / (2 x 0.2) x (1 / 5 req/s) = 0.4 s, KV move 0.2 s: TTFT 0.9 s at
    p50.  At p99 the wait, uniform on [0, 2 W], is 1.98 W = 0.792 s: TTFT 0.3 + 0.792 + 0.2 = 1.292 s.
    A 1.2 s limit keeps the p50 plan; at p99 it rules out every pair (and the wafer's aggregated
    TTFT is 10 s): no plan."""
    from optimize.constants import SolveStatus
    from optimize.fleet import plan_fleet
    from tests.optimize.test_disaggregation import hand_worked_cfg

    p50 = plan_fleet(hand_worked_cfg())
    p99 = plan_fleet(hand_worked_cfg("sla.percentile=p99"))
    assert p50.plan.set_index("phase").ttft_s.to_dict() == pytest.approx({"prefill": 0.9, "decode": 0.9})
    assert p99.plan.set_index("phase").ttft_s.to_dict() == pytest.approx({"prefill": 1.292, "decode": 1.292})
    assert p50.totals.cost_per_hour == p99.totals.cost_per_hour == pytest.approx(174.05)
    limited = plan_fleet(hand_worked_cfg("sla.percentile=p99", "fleet.max_ttft_s.gpt_oss_120b=1.2"))
    assert plan_fleet(hand_worked_cfg("fleet.max_ttft_s.gpt_oss_120b=1.2")).totals.cost_per_hour == \
        pytest.approx(174.05)
    assert limited.status != SolveStatus.optimal and limited.plan.empty


def test_a_dp_attention_decode_worker_admits_what_the_calibration_holds():
    """Run 1291: DeepSeek-R1 FP8 on MI355X (SGLang, EP 8, dp-attention on both pools, no MTP), two
    prefill workers of 8 GPUs and one decode worker of 8, 2,048 users, 8k/1k, with the terms on and a
    150 GB reserve.  Both sides hold the catalog's 671 GB of weights (671 B parameters at 1 byte).
    Each decode GPU holds the attention weights whole, 11.4 GB, and an eighth of the rest,
    (671 - 11.4) / 8 = 82.45 GB: 288 - 150 - 93.85 = 44.15 GB for KV.  One request's FP8
    latent KV at the mean context 8,704 is 8,704 x 61 x 576 B = 305.82 MB, split 8 ways under
    dp-attention, 38.228 MB a GPU: 1,154.91, so 1,154 requests run, in the calibration's decode column
    and in the kernel's admission alike (the attention split like the rest, 671 / 8 = 83.875 GB,
    would leave 54.125 GB: 1,415).  The columns then agree to 1e-9 (a kernel admitting 1,417 gave a
    decode interactivity of 14.96 tok/s for the calibration's 16.82, a decode rate of 20.71 for 18.99)."""
    c = configurations.serving_catalog(OmegaConf.to_container(load_config(config_name="calibrate"), resolve=True))
    kv_bits, chunk = c["stacks"]["kv_bits"]["sglang"], c["stacks"]["prefill_chunk_tokens"]
    table = configurations.load_configurations(str(ROOT / "model/data/inferencex/inferencex-dsr1.csv"))
    run = table[table.id == 1291]
    assert bool(run.decode_dp_attention.item()) and bool(run.prefill_dp_attention.item())
    assert not bool(run.aggregated.item()) and run.spec_method.item() == "none"
    x = configurations.configuration_inputs(run, c, 1.0)
    assert (x.decode_gpus.item(), x.decode_workers.item(), x.prefill_gpus.item(), x.users.item(), x.ep.item()) == \
        (8, 1, 8, 2048, 8)
    assert x.kv_bytes_request.item() == 8704 * 61 * 576 and x.attention_bytes.item() == 11.4e9
    params = {**TERMS_ON, "memory_reserve_gb": 150.0}
    held = configurations.kv_capacity(x, params)[0]
    assert held == pytest.approx((288 - 150 - (671 - 11.4) / 8 - 11.4) / (8704 * 61 * 576 / 8e9), rel=1e-12)
    assert int(np.floor(held)) == 1154
    same = [o for o in RUN_1241 if not o.startswith(("workload.isl", "workload.osl", "grid.concurrency"))]
    cfg = optimize.load_config(same + _terms_on_overrides(params, kv_bits, chunk) + [
        "workload.isl=8192", "workload.osl=1024", "grid.concurrency_min=2048", "grid.concurrency_max=2048",
        "hardware.mi355x.attention_data_parallel=true", "hardware.mi355x.ep=8",
        f"hardware.mi355x.ep_latency_s={params['ep_latency_s']}"])
    _assert_columns_equal(cfg, x, params, admitted=1154)


@pytest.mark.parametrize(("run_id", "per_replica", "isl", "drafts"), [(1241, 32, 1024, 3), (1291, 2048, 8192, 1)])
def test_a_worker_choosing_its_mtp_drafts_per_batch_runs_the_calibrations_count(run_id, per_replica, isl, drafts):
    """A decode worker that picks its MTP draft count per batch (TensorRT-LLM's attention-DP workers
    in the calibration, ``mtp_draft_per_batch``) runs the same count in the kernel: runs 1241 and 1291
    above, given three drafts at most, acceptance 0.6 and the choice (the stack fact the calibration
    reads from ``calibration.stacks``), equal the optimizer's columns of
    ``hardware.mi355x.mtp_draft_per_batch=true`` to 1e-9.  At 32 requests a worker (1241) the step
    reads weights: three drafts emit the most, (1 - 0.6^4) / 0.4 = 2.176 tokens a step.  At 1,154
    (1291, 8k prompts) it computes, and the decode attention of every verified token dominates: one
    draft, 1.6 tokens.  The kernel at three drafts there is slower by more than 1e-3, so the equality
    fails if either side does not choose."""
    import dataclasses

    from model import serving

    c = configurations.serving_catalog(OmegaConf.to_container(load_config(config_name="calibrate"), resolve=True))
    kv_bits, chunk = c["stacks"]["kv_bits"]["sglang"], c["stacks"]["prefill_chunk_tokens"]
    table = configurations.load_configurations(str(ROOT / "model/data/inferencex/inferencex-dsr1.csv"))
    run = configurations.configuration_inputs(table[table.id == run_id], c, 1.0)
    x = dataclasses.replace(run, mtp_draft=np.array([3.0]), draft_per_batch=np.array([True]))
    params = {**TERMS_ON, "memory_reserve_gb": 150.0 if run_id == 1291 else 14.0, "mtp_acceptance": 0.6}
    same = [o for o in RUN_1241 if not o.startswith(("workload.isl", "grid.concurrency"))]
    if run_id == 1291:
        same = [o for o in same if not o.startswith("workload.osl")] + [
            "workload.osl=1024", "hardware.mi355x.attention_data_parallel=true", "hardware.mi355x.ep=8",
            f"hardware.mi355x.ep_latency_s={params['ep_latency_s']}"]
    mtp = ["hardware.mi355x.mtp_draft_tokens=3", "hardware.mi355x.mtp_acceptance=0.6"]
    cfg = optimize.load_config(same + _terms_on_overrides(params, kv_bits, chunk) + mtp + [
        f"workload.isl={isl}", f"grid.concurrency_min={per_replica}", f"grid.concurrency_max={per_replica}",
        "hardware.mi355x.mtp_draft_per_batch=true"])
    admitted = 1154 if run_id == 1291 else 32
    optimizer, ours = _assert_columns_equal(cfg, x, params, admitted=admitted)
    # the count both chose: the calibration's step emits the chain's tokens of that many drafts
    step_of, _, _ = configurations._step_and_busy(x, {k: np.broadcast_to(v, x.users.shape) for k, v in params.items()})
    assert float(step_of(np.array([float(admitted)]))[1][0]) == pytest.approx(
        float(serving.accepted_tokens(0.6, float(drafts))), rel=1e-12)
    # and the kernel at three drafts fixed gives other columns unless three is the choice
    fixed = optimize.load_config(same + _terms_on_overrides(params, kv_bits, chunk) + mtp + [
        f"workload.isl={isl}", f"grid.concurrency_min={per_replica}", f"grid.concurrency_max={per_replica}"])
    grid = bucket_grid(fixed)
    three = {k: float(np.squeeze(v)) for k, v in disaggregated_cells(grid, column_options(fixed, grid)).items()}
    if drafts == 3:
        assert three["decode_interactivity"] == pytest.approx(optimizer["decode_interactivity"], rel=1e-12)
    else:
        assert three["decode_interactivity"] < optimizer["decode_interactivity"] * (1 - 1e-3)
