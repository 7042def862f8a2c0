"""The docs stay true: the config reference is the generated one, the README's test command is CI's."""
import re

from model.app.docs import END, REFERENCE_FILE, START, readme_reference
from tests.helpers import ROOT


def test_config_reference_is_current():
    reference = (ROOT / REFERENCE_FILE).read_text()
    block = reference.split(START, 1)[1].split(END, 1)[0].strip()
    assert block == readme_reference().strip(), f"run: python -m model.app.docs {REFERENCE_FILE}"


def test_readme_links_the_config_reference_and_does_not_copy_it():
    readme = (ROOT / "README.md").read_text()
    assert START not in readme and END not in readme
    assert f"]({REFERENCE_FILE})" in readme


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"<!-- ci:test-command -->\s*```sh\n(.+?)\n```", readme, re.S).group(1)
    assert "venv" in command and "pytest" in command
    assert "ci:test-command" in (ROOT / ".ci" / "run").read_text()


def test_readme_fits_in_400_lines_and_links_only_documents_that_exist():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 400, "move detail under docs/"
    for target in re.findall(r"\]\((docs/[\w./-]+)\)", readme):
        assert (ROOT / target.split("#")[0]).exists(), target
