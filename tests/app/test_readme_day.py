"""The README's "Fleets over a day" commands run as printed (from the repository, where the
reference traces sit beside it in ../shared) and give a plan.  The first, the diurnal day, is also
the day app's end-to-end check (plan by period and tier, periods.nc labelled): one run serves both."""
import json
import re
import shlex
import subprocess

import pandas as pd
import pytest
import xarray as xr

from tests.helpers import ROOT, python_cmd

pytestmark = pytest.mark.cli


def readme_commands() -> list[list[str]]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Fleets over a day", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```\n(.+?)\n```", section, re.S).group(1)
    return [shlex.split(c) for c in block.replace("\\\n", " ").splitlines() if c.strip()]


@pytest.mark.parametrize("index", [0, 1])
def test_readme_day_commands_pass(tmp_path, index):
    commands = readme_commands()
    assert len(commands) == 2 and all(c[0] == "serving-optimize" for c in commands)
    if "fleet.trace=" in " ".join(commands[index]) and not (ROOT / "../shared/reference/traces").is_dir():
        pytest.skip("the reference traces are not beside the repository (../shared/reference/traces)")
    result = subprocess.run(python_cmd("-m", "optimize", *commands[index][1:], f"hydra.run.dir={tmp_path}"),
                            cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Fleet over ") and (tmp_path / "plan.csv").stat().st_size > 0
    if "fleet.replay=true" in commands[index]:
        assert (tmp_path / "replay.csv").stat().st_size > 0
    if commands[index][1:] == ["fleet.demand_profile=diurnal"]:
        assert_diurnal_day(result.stdout, tmp_path)
    else:
        assert index == 1, "the README's first day command is no longer the diurnal day checked here"


def assert_diurnal_day(stdout: str, run_dir) -> None:
    """The diurnal day's report and files: 24 periods by tier, the day's cost their sum, periods.nc labelled."""
    head = stdout.splitlines()[:5]
    assert head[0].startswith("Fleet over 24 periods (diurnal): $") and all(len(line) < 100 for line in head)
    assert "reserved base" in head[1] and "peak" in head[2] and "saving vs" in head[3]
    plan = pd.read_csv(run_dir / "plan.csv")
    assert set(plan.period) == set(range(24)) and set(plan.tier) <= {"reserved", "on_demand", "spot"}
    summary = json.loads((run_dir / "plan.json").read_text())
    assert summary["totals"]["cost_per_day"] == pytest.approx((plan["cost_per_hour [$/h]"]).sum())
    with xr.open_dataset(run_dir / "periods.nc") as periods:
        assert periods.sizes["period"] == 24
        for name, v in {**periods.data_vars, **periods.coords}.items():
            assert "units" in v.attrs and v.attrs.get("long_name"), name
    assert (run_dir / "demand_vs_capacity.png").stat().st_size > 0
