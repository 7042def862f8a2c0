"""Every "§N" the repository cites names a section of docs/model.md, and every document it links exists."""
import re
from pathlib import Path

from tests.helpers import ROOT

CONTRACT = ROOT / "docs" / "model.md"
SEARCHED = ("model", "optimize", "sensitivity", "tests", "conf", "benchmarks", "docs")
SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml"}
REFERENCE = re.compile(r"§(\d+)(?:\.(\d+))?")
LINK = re.compile(r"\]\(([\w./-]+\.md)(?:#[\w-]*)?\)")


def repository_files():
    """README, pyproject.toml and the text files of the packages, configs, tests and docs."""
    files = [ROOT / "README.md", ROOT / "pyproject.toml", ROOT / ".ci" / "run"]
    for top in SEARCHED:
        files += sorted(p for p in (ROOT / top).rglob("*") if p.suffix in SUFFIXES and p.is_file())
    return [p for p in files if p.exists()]


def contract_sections(text):
    """Section number -> the numbers of its numbered list items ("1." at the start of a line)."""
    sections, current = {}, None
    for line in text.splitlines():
        heading = re.match(r"## (\d+)\. ", line)
        if heading:
            current = int(heading.group(1))
            sections[current] = set()
        elif current is not None:
            item = re.match(r"(\d+)\. ", line)
            if item:
                sections[current].add(int(item.group(1)))
    return sections


def test_contract_has_the_sections_the_toolkit_builds_on():
    sections = contract_sections(CONTRACT.read_text())
    assert sorted(sections) == list(range(1, 13))
    assert sections[2] == set(range(1, 10)) and sections[4] == {1, 2, 3}


def test_contract_sections_parser_sees_a_missing_section():
    # the check below can fail: a heading that is not "## N. " is no section
    sections = contract_sections("## 1. One\n1. a\n## Two\n2. b\n### 3. Three\n")
    assert sections == {1: {1, 2}}


def test_every_section_reference_names_a_section_of_the_contract():
    sections = contract_sections(CONTRACT.read_text())
    bad = []
    for path in repository_files():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in REFERENCE.finditer(line):
                section, item = int(match.group(1)), match.group(2)
                if section not in sections or (item is not None and int(item) not in sections[section]):
                    bad.append(f"{path.relative_to(ROOT)}:{n}: {match.group(0)}")
    assert not bad, "no such section in docs/model.md:\n" + "\n".join(bad)


def test_no_reference_to_a_spec_file_the_repository_does_not_ship():
    bad = [f"{p.relative_to(ROOT)}:{n}" for p in repository_files() if p != Path(__file__)
           for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
           if re.search(r"\bSPEC\b", line)]
    assert not bad, "cite docs/model.md §N instead of SPEC:\n" + "\n".join(bad)


def test_every_document_linked_from_readme_and_docs_exists():
    missing = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in LINK.findall(path.read_text(encoding="utf-8")):
            if not (path.parent / target).exists():
                missing.append(f"{path.relative_to(ROOT)} -> {target}")
        for target in re.findall(r"\bdocs/[\w./-]+\.md\b", path.read_text(encoding="utf-8")):
            if not (ROOT / target).exists():
                missing.append(f"{path.relative_to(ROOT)} -> {target}")
    assert not missing, "\n".join(missing)
