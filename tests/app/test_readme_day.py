"""The README's "Fleets over a day" commands run as printed (from the repository, where the
reference traces sit beside it in ../shared) and give a plan."""
import re
import shlex
import subprocess

import pytest

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
