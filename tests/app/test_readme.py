"""The README stays true: its config reference is the generated one, its commands are real."""
import re

from model.app.docs import END, START, readme_reference
from tests.helpers import ROOT


def test_config_reference_is_current():
    readme = (ROOT / "README.md").read_text()
    block = readme.split(START, 1)[1].split(END, 1)[0].strip()
    assert block == readme_reference().strip(), "run: python -m model.app.docs README.md"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"<!-- ci:test-command -->\s*```sh\n(.+?)\n```", readme, re.S).group(1)
    assert "venv" in command and "pytest" in command
    assert "ci:test-command" in (ROOT / ".ci" / "run").read_text()
