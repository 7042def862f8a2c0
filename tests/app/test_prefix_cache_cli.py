"""docs/model.md §12 in the apps: a run with ``workload.trace`` writes hit_rate.csv and hit_rate.png;
bad input is one line."""
import json
import subprocess

import numpy as np
import pandas as pd
import pytest

from model.prefix_cache import BlockTrace, cached_tokens
from tests.helpers import ROOT, python_cmd

pytestmark = pytest.mark.cli

SMALL = ["grid.isl_points=2", "grid.concurrency_max=8", "select.models=[gpt_oss_120b]",
         "select.hardware=[b200]", "plots.enabled=true"]


def mooncake(path, rows, block_tokens=512):
    """A Mooncake JSONL: one request per row of block ids, each block full but the last (half full)."""
    with path.open("w") as f:
        for i, ids in enumerate(rows):
            length = (len(ids) - 1) * block_tokens + block_tokens // 2
            f.write(json.dumps({"timestamp": 1000 * i, "input_length": length, "output_length": 10,
                                "hash_ids": ids}) + "\n")
    return path


def test_a_run_with_a_trace_writes_the_hit_rate_curve(tmp_path):
    rows = [[0, 1, 2], [0, 3], [0, 1, 2, 4], [0, 3, 5], [0, 1, 2, 4, 6], [0, 7]]
    trace = mooncake(tmp_path / "trace.jsonl", rows)
    run_dir = tmp_path / "run"
    result = subprocess.run(python_cmd("-m", "model", *SMALL, f"workload.trace={trace}",
                                       "workload.cache_replicas=[1,2]", "workload.cache_points=6",
                                       f"hydra.run.dir={run_dir}"),
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "prefix cache (LRU replay" in result.stdout
    table = pd.read_csv(run_dir / "hit_rate.csv")
    assert list(table.columns) == ["capacity_tokens", "replicas", "routing", "hit_rate"]
    assert set(table.routing) == {"prefix_aware", "random"} and set(table.replicas) == {1, 2}
    assert (run_dir / "hit_rate.png").stat().st_size > 0
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in rows])])
    inputs = np.array([(len(r) - 1) * 512 + 256 for r in rows])
    blocks = BlockTrace(np.concatenate(rows), offsets, inputs, 512)
    one = table[(table.replicas == 1) & (table.routing == "prefix_aware")]
    want = cached_tokens(blocks, one.capacity_tokens.to_numpy()) / inputs.sum()
    assert one.hit_rate.to_numpy() == pytest.approx(want, abs=1e-6)
    # Unlimited: request 3 finds 0 1 2 (3 blocks), 4 finds 0 3, 5 finds 0 1 2 4, 2 and 6 find 0.
    assert one.hit_rate.iloc[-1] == pytest.approx((512 * (1 + 3 + 2 + 4 + 1)) / inputs.sum(), abs=1e-6)


@pytest.mark.parametrize("overrides, says", [
    (["workload.cache=trace"], "error: workload.trace=None: give a request trace with prefix block ids"),
    (["workload.trace=/no/such/file.jsonl"], "error: workload.trace='/no/such/file.jsonl': no such file"),
    (["workload.cache=trace", "workload.trace=TRACE", "workload.cache_replicas=[0]"],
     "error: workload.cache_replicas=0: must be a whole number >= 1"),
])
def test_bad_prefix_cache_input_is_one_line(tmp_path, overrides, says):
    trace = mooncake(tmp_path / "trace.jsonl", [[0, 1], [0, 1, 2]])
    overrides = [o.replace("TRACE", str(trace)) for o in overrides]
    result = subprocess.run(python_cmd("-m", "model", *SMALL, *overrides, f"hydra.run.dir={tmp_path / 'run'}"),
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().startswith(says), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_trace_without_block_ids_is_refused(tmp_path):
    trace = tmp_path / "azure.csv"
    trace.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,374,44\n")
    result = subprocess.run(python_cmd("-m", "model", *SMALL, f"workload.trace={trace}",
                                       f"hydra.run.dir={tmp_path / 'run'}"),
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().startswith(f"error: workload.trace='{trace}': has no prefix block ids")
    assert len(result.stderr.strip().splitlines()) == 1
