"""Benchmark of ``model.evaluate`` against the per-point equations and the memory-write bound.

    python benchmarks/bench_model.py            # 5 models x 7 hardware x 151 ISL x 1,024 N = 5.4M cells

Reports, for the same grid:
- ``evaluate`` (blocked, default settings: GPUs in the physical prefill mode of docs/model.md §8 under
  tensor parallelism, the wafer in the ratio mode): seconds, cells/s, peak traced memory;
- the same with the docs/model.md §10 serving settings on every GPU (EP 8, MTP, dp-attention, FP4,
  8-bit KV, prefill busy time): what the new kernel terms cost; and with the configuration fit's
  terms on too (memory reserve, prefill pool speed and latency share, weight pass per prefill
  forward, decode attention), every cell output computed (the pool's prefill time and capacity as well);
  and the §10 terms with the MTP draft count chosen per batch (``mtp_draft_per_batch``, three steps a block);
- the same with every hardware type in the ratio mode and pipeline-style KV (the docs/model.md §2 kernel
  path), and with only the variables that existed before docs/model.md §8: what the prefill phase costs;
- ``evaluate`` in one block (full-size temporaries, the straightforward numpy way);
- the per-point Python implementation (``model.pointwise.cell``) on a random sample of cells;
- the write bound: allocating and filling as many float64 arrays as ``evaluate`` returns values.
Times are the median of ``--repeats`` runs after one warm-up run.
"""
from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
from timing import timed

import model
from model.pointwise import cell
from model.quantities import CELL_OUTPUTS

SPEC8_OUTPUTS = ("prefill_time", "ttft", "implied_cache_read_ratio", "admitted_requests")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--isl-points", type=int, default=150, help="log-spaced ISL points (plus 96,300)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--pointwise-cells", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=None, help="threads (default: all cores)")
    args = parser.parse_args()

    cfg = model.load_config([f"grid.isl_points={args.isl_points}"])
    ds = model.evaluate(cfg)
    cells = int(np.prod([ds.sizes[d] for d in ("model", "hardware", "isl", "concurrency")]))
    values = sum(int(v.size) for v in ds.data_vars.values())
    shapes = [v.shape for v in ds.data_vars.values()]
    print(f"grid: {dict(ds.sizes)} = {cells:,} cells, {len(ds.data_vars)} variables, "
          f"{values:,} output values ({ds.nbytes / 1e9:.2f} GB)")

    blocked = timed(lambda: model.evaluate(cfg, workers=args.workers), args.repeats)
    gpus = [h for h in cfg.select.hardware if not cfg.hardware[h].weights_resident]
    ratio_cfg = model.load_config([f"grid.isl_points={args.isl_points}"]
                                  + [f"hardware.{h}.prefill_mode=ratio" for h in gpus]
                                  + [f"hardware.{h}.parallelism=pipeline" for h in gpus])
    ratio_mode = timed(lambda: model.evaluate(ratio_cfg, workers=args.workers), args.repeats)
    # docs/model.md §10 serving settings on every GPU (off by default): what the new kernel terms cost
    terms_cfg = model.load_config([f"grid.isl_points={args.isl_points}"] + [
        f"hardware.{h}.{k}" for h in gpus for k in ("ep=8", "mtp_draft_tokens=3", "accepted_tokens_per_step=2.2",
                                                    "attention_data_parallel=true", "fp4_compute=true",
                                                    "kv_cache_bits=8", "prefill_busy_s=0.01")])
    serving_terms = timed(lambda: model.evaluate(terms_cfg, workers=args.workers), args.repeats)
    # and the configuration-fit terms (memory reserve, prefill pool speed and latency share, weight pass per
    # prefill forward, decode attention; dp-attention's prefill and rank wait come with attention_data_parallel
    # above), with the pool's prefill outputs the optimizer asks for
    fit_cfg = model.load_config([f"grid.isl_points={args.isl_points}"] + [
        f"hardware.{h}.{k}" for h in gpus for k in ("ep=8", "mtp_draft_tokens=3", "accepted_tokens_per_step=2.2",
                                                    "attention_data_parallel=true", "fp4_compute=true",
                                                    "kv_cache_bits=8", "prefill_busy_s=0.01", "memory_reserve_gb=4.4",
                                                    "prefill_stack_speed=0.85", "pool_latency_share=2.43",
                                                    "prefill_chunk_tokens=8192",
                                                    "decode_attention_efficiency=0.3")])
    fit_terms = timed(lambda: model.evaluate(fit_cfg, variables=list(CELL_OUTPUTS), workers=args.workers),
                      args.repeats)
    # and the MTP draft count chosen per batch (1 to 3 drafts at acceptance 0.65: two more steps per block)
    per_batch_cfg = model.load_config([f"grid.isl_points={args.isl_points}"] + [
        f"hardware.{h}.{k}" for h in gpus for k in ("ep=8", "mtp_draft_tokens=3", "mtp_acceptance=0.65",
                                                    "mtp_draft_per_batch=true", "attention_data_parallel=true",
                                                    "fp4_compute=true", "kv_cache_bits=8", "prefill_busy_s=0.01")])
    per_batch = timed(lambda: model.evaluate(per_batch_cfg, workers=args.workers), args.repeats)
    before = [v for v in CELL_OUTPUTS if v not in SPEC8_OUTPUTS]
    spec2_outputs = timed(lambda: model.evaluate(ratio_cfg, variables=before, workers=args.workers), args.repeats)
    one_block = timed(lambda: model.evaluate(cfg, block_cells=cells, workers=1), max(2, args.repeats // 2))
    write_bound = timed(lambda: [np.full(s, 1.0) for s in shapes], args.repeats)

    tracemalloc.start()
    result = model.evaluate(cfg, workers=args.workers)
    _, peak_blocked = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    tracemalloc.start()
    result = model.evaluate(cfg, block_cells=cells, workers=1)
    _, peak_one_block = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result

    rng = np.random.default_rng(1)
    sample = [(str(rng.choice(ds.model.values)), str(rng.choice(ds.hardware.values)),
               int(rng.choice(ds.isl.values)), int(rng.choice(ds.concurrency.values)))
              for _ in range(args.pointwise_cells)]
    start = time.perf_counter()
    for m, h, isl, n in sample:
        cell(cfg, m, h, isl, n)
    per_point = (time.perf_counter() - start) / len(sample)

    rate = cells / blocked
    print(f"{'method':<48}{'seconds':>10}{'Mcells/s':>11}{'vs blocked':>12}")
    rows = [
        ("evaluate, blocked (default)", blocked),
        ("evaluate, §10 terms on every GPU (EP, MTP, ...)", serving_terms),
        ("  and the fit terms, pool outputs too", fit_terms),
        ("  §10 terms, MTP drafts chosen per batch", per_batch),
        ("evaluate, every hardware in ratio mode", ratio_mode),
        ("  and only the pre-§8 cell outputs", spec2_outputs),
        ("evaluate, one block (full-size temporaries)", one_block),
        ("per-point Python (model.pointwise), extrapolated", per_point * cells),
        ("write bound: np.full of the same outputs", write_bound),
    ]
    for name, seconds in rows:
        print(f"{name:<48}{seconds:>10.3f}{cells / seconds / 1e6:>11.2f}{seconds / blocked:>11.2f}x")
    print(f"speedup over per-point Python: {per_point * cells / blocked:,.0f}x")
    print(f"blocked time / write bound: {blocked / write_bound:.2f}x")
    print(f"peak traced memory: blocked {peak_blocked / 1e9:.2f} GB, one block {peak_one_block / 1e9:.2f} GB "
          f"(result {ds.nbytes / 1e9:.2f} GB)")
    print(f"target: >= 40 Mcells/s and <= 6x the write bound -> {rate / 1e6:.1f} Mcells/s, "
          f"{blocked / write_bound:.2f}x")


if __name__ == "__main__":
    main()
