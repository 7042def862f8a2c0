"""Inputs of the fleet plan: ISL buckets, demand per model, demand rows and inventory."""
import numpy as np
import pytest

import optimize
from optimize.inputs import bucket_grid, demand_by_model, demand_rows, inventory_by_hardware, isl_buckets


def test_isl_buckets_of_each_kind(ocfg):
    isl, weight = isl_buckets(ocfg)
    assert isl.tolist() == [int(ocfg.workload.isl)] and weight.tolist() == [1.0]

    lognormal = optimize.load_config(["fleet.isl.kind=lognormal", "fleet.isl.median=32000", "fleet.isl.sigma=0.6",
                                      "fleet.isl.buckets=4"])
    isl, weight = isl_buckets(lognormal)
    assert weight.tolist() == [0.25] * 4 and (np.diff(isl) > 0).all()
    # equal-probability buckets of a lognormal sit symmetrically about the median in ln ISL
    assert isl[0] * isl[3] == pytest.approx(32000**2, rel=1e-3)

    explicit = optimize.load_config(["fleet.isl.kind=buckets",
                                     "fleet.isl.explicit=[{isl:1000,weight:0.25},{isl:8000,weight:0.75}]"])
    isl, weight = isl_buckets(explicit)
    assert isl.tolist() == [1000, 8000] and weight.tolist() == [0.25, 0.75]


def test_demand_rows_skip_models_without_demand():
    cfg = optimize.load_config(["fleet.demand.gpt_oss_120b=0", "fleet.demand.glm_4_7=4", "fleet.isl.kind=buckets",
                                "fleet.isl.explicit=[{isl:1000,weight:0.25},{isl:8000,weight:0.75}]"])
    grid = bucket_grid(cfg)
    demand = demand_by_model(cfg)
    rows = demand_rows(grid, demand)
    models = list(grid.model.values)
    idle = models.index("gpt_oss_120b")
    assert (rows.row_of_cell[idle] == -1).all() and idle not in rows.model
    assert len(rows) == 2 * (len(models) - 1)
    assert (rows.row_of_cell[rows.model, rows.bucket] == np.arange(len(rows))).all()
    glm = rows.model == models.index("glm_4_7")
    assert rows.requests_per_second[glm].tolist() == pytest.approx([1.0, 3.0])
    assert rows.tokens_per_request[glm] == pytest.approx(np.array([1000, 8000]) + grid.osl.values)


def test_inventory_by_hardware():
    cfg = optimize.load_config(["fleet.inventory.b200=80"])
    assert inventory_by_hardware(cfg, ["cerebras_wse3", "b200"]).tolist() == [np.inf, 80.0]
