"""Sweep collection keeps every job it can, with its values typed, and counts each job once."""
import json

import numpy as np
import pytest
import xarray as xr

from model.app import io
from model.app.sweep import _value, read_jobs, tables


@pytest.mark.parametrize("text, value", [("1e-06", 1e-06), ("0.000001", 1e-06), ("30", 30), ("41.96", 41.96),
                                         ("true", True), ("b200", "b200"), ("[a,b]", "[a,b]")])
def test_override_values_read_back_with_hydras_types(text, value):
    assert _value(text) == value and type(_value(text)) is type(value)


def job_dir(root, num, value, status, incomplete=False):
    d = root / str(num)
    (d / ".hydra").mkdir(parents=True)
    (d / ".hydra" / "overrides.yaml").write_text(f"- hardware.cerebras_wse3.hop_latency_s={value}\n")
    (d / "job.json").write_text(json.dumps({"status": status}))
    if incomplete:
        (d / io.INCOMPLETE).write_text("")
    return d


def test_values_of_one_key_share_a_type_and_incomplete_jobs_are_failed(tmp_path):
    """1e-06 (YAML 1.1 reads it as text) and 0.0001 both come back as floats; a job whose
    directory is marked INCOMPLETE is reported failed and its files are not read."""
    job_dir(tmp_path, 0, "1e-06", "ok")
    job_dir(tmp_path, 1, "0.0001", "ok")
    job_dir(tmp_path, 2, "1", "ok", incomplete=True)
    jobs = read_jobs(tmp_path)
    values = [j["keys"]["hardware.cerebras_wse3.hop_latency_s"] for j in jobs]
    assert values == [1e-06, 0.0001, 1.0] and all(type(v) is float for v in values)
    assert [j["status"]["status"] for j in jobs] == ["ok", "ok", "failed"]
    assert "INCOMPLETE" in jobs[2]["status"]["error"]


def test_each_table_counts_each_job_once():
    """Two jobs with fleet totals $100/h and $200/h and systems on two hardware types: the job
    table sums to $300/h (the old single table repeated each total on every hardware row)."""
    price = xr.DataArray([30.0, 60.0], dims="price", attrs={"units": "$/h"})
    ds = xr.Dataset({
        "fleet_cost_per_hour": (("price",), [100.0, 200.0]),
        "fleet_systems": (("price", "hardware"), [[3, 4], [5, 6]]),
        "best_cost_per_mtok": (("price", "model", "hardware"), np.arange(8.0).reshape(2, 2, 2)),
        "job_status": (("price",), np.array(["ok", "ok"], dtype=object)),
    }, coords={"price": price, "hardware": ["a", "b"], "model": ["m", "n"]}, attrs={"swept_dims": "price"})
    out = tables(ds)
    assert set(out) == {"sweep.csv", "sweep_by_hardware.csv", "sweep_by_model_hardware.csv"}
    assert len(out["sweep.csv"]) == 2 and out["sweep.csv"].fleet_cost_per_hour.sum() == 300.0
    assert out["sweep_by_hardware.csv"].fleet_systems.sum() == 18
    assert "fleet_cost_per_hour" not in out["sweep_by_hardware.csv"]
    assert len(out["sweep_by_model_hardware.csv"]) == 8
    assert all("[" not in c for t in out.values() for c in t.columns)  # units stay out of the names
