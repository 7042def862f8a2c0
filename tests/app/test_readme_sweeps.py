"""The README's sweep commands run exactly as printed, from a directory outside the repository.

Hydra 1.3 cannot resolve the ``${hydra:...}`` resolver while it builds the sweep directory, so a
``hydra.sweep.dir`` that used it crashed every multirun typed without an explicit directory. The
other sweep tests pass ``hydra.sweep.dir=``, which hid that; these pass no extra key.
"""
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr

from tests.app.test_outputs_netcdf import assert_labelled
from tests.helpers import ROOT

pytestmark = pytest.mark.cli


def readme_sweep_commands():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- sweep-commands -->\s*```sh\n(.+?)\n```", readme, re.S).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def as_typed(command: str) -> list[str]:
    """The command as printed, with the README's ``.venv/bin/`` standing for this venv's bin."""
    words = shlex.split(command)
    assert words[0].startswith(".venv/bin/"), command
    return [str(Path(sys.executable).parent / words[0].removeprefix(".venv/bin/")), *words[1:]]


def test_the_readme_prints_three_sweeps():
    commands = readme_sweep_commands()
    assert len(commands) == 3
    assert all("--multirun" in c and "hydra.sweep.dir" not in c for c in commands)


@pytest.mark.parametrize("index", range(3), ids=["optimize", "model", "sensitivity"])
def test_readme_sweep_runs_as_typed_outside_the_repository(index, tmp_path):
    command = readme_sweep_commands()[index]
    result = subprocess.run(as_typed(command), cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    # the answer, not the dask cluster's INFO log of every scheduler and nanny event (33 lines)
    assert "[distributed." not in result.stdout + result.stderr
    sweeps = list(tmp_path.glob("multirun/*/*/*/sweep.nc"))
    assert len(sweeps) == 1, sorted(str(p) for p in tmp_path.rglob("*"))[:50]
    app = shlex.split(command)[0].rsplit("/", 1)[-1].removeprefix("serving-")
    assert sweeps[0].parents[2].name == app  # multirun/<app>/<date>/<time>/
    ds = xr.load_dataset(sweeps[0], engine="h5netcdf")
    # an infeasible fleet plan is a result, not a failure (the README's first sweep has three)
    assert ds.job_status.isin(["ok", "infeasible"]).all() and (ds.job_status == "ok").any()
    assert_labelled(sweeps[0])
    if app == "optimize":
        # 3 wafer prices x 3 ISLs; 200,000 tokens is past gpt-oss-120b's 131k context: no plan at any price
        cost = ds.fleet_cost_per_hour
        assert cost.dims == ("hardware_cerebras_wse3_price_per_hour", "workload_isl")
        beyond = ds.sel(workload_isl=200000)
        assert list(beyond.plan_status.values) == ["infeasible"] * 3 and beyond.fleet_cost_per_hour.isnull().all()
        assert list(beyond.job_status.values) == ["infeasible"] * 3
        # a dearer wafer never makes the cheapest fleet cheaper (to HiGHS's relative MIP gap, 1e-4)
        served = cost.sel(workload_isl=[32000, 96300])
        assert served.notnull().all()
        assert (served.diff("hardware_cerebras_wse3_price_per_hour") >= -1e-4 * served.isel(
            hardware_cerebras_wse3_price_per_hour=slice(1, None))).all()
    elif app == "sensitivity":
        assert ds.ST.dims == ("sla_min_interactivity", "output", "model", "parameter")
        assert ds.sla_min_interactivity.attrs["key"] == "sla.min_interactivity"
