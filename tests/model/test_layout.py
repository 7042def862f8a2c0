"""The layout's rules hold: the core is pure, imports form no cycle, private names stay private.

Read from the source (``ast``), not by importing, so a rule broken inside a function body is
caught too.
"""
import ast
from pathlib import Path

import pytest

from tests.helpers import ROOT

PACKAGES = ("model", "optimize", "sensitivity")
# The cost model core: never the app layer, Hydra's runner, or an exit.
CORE = ("config", "schema", "fields", "errors", "validate", "parameters", "equations", "engine",
        "results", "evaluate", "lazy", "pointwise", "interactivity", "spend", "cheapest", "calibration", "exports")


def modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def imported(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, names imported from it, line) for every import statement of a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [a.name for a in node.names], node.lineno))
    return found


def test_every_core_module_exists():
    for name in CORE:
        assert (ROOT / "model" / f"{name}.py").exists(), name


@pytest.mark.parametrize("name", CORE)
def test_core_never_imports_the_app_layer(name):
    path = ROOT / "model" / f"{name}.py"
    tree = ast.parse(path.read_text())
    for module, names, line in imported(path):
        assert not module.startswith("model.app"), f"{path}:{line} imports {module}"
        assert not (module == "model" and "app" in names), f"{path}:{line} imports model.app"
        assert not (module == "hydra" and "main" in names), f"{path}:{line} imports hydra.main"
        assert module not in ("optimize", "sensitivity") and not module.startswith(("optimize.", "sensitivity.")), \
            f"{path}:{line}: the core imports its consumer {module}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("exit", "main"):
            base = node.value
            if isinstance(base, ast.Name) and (base.id, node.attr) in (("sys", "exit"), ("hydra", "main")):
                pytest.fail(f"{path}:{node.lineno} calls {base.id}.{node.attr}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
                "to_netcdf", "savefig", "write_text", "write_bytes"):
            pytest.fail(f"{path}:{node.lineno} writes a file ({node.func.attr}): the core writes none")


def test_imports_form_no_cycle():
    mods = modules()
    graph = {name: set() for name in mods}
    for name, path in mods.items():
        for module, names, _ in imported(path):
            targets = [f"{module}.{n}" for n in names] + [module]
            for target in targets:
                if target in mods and target != name:
                    graph[name].add(target)
                    break
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join(trail[trail.index(nxt):] + [node, nxt]))
            if nxt not in state:
                visit(nxt, trail + [node])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])


def test_private_names_stay_in_their_module():
    for path in modules().values():
        for module, names, line in imported(path):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            assert not private, f"{path}:{line} imports private {private} from {module}"
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                base = node.value
                if isinstance(base, ast.Name) and base.id in ("engine", "parameters", "equations", "results"):
                    pytest.fail(f"{path}:{node.lineno} uses {base.id}.{node.attr}")


def test_plot_modules_choose_no_backend():
    for path in ROOT.glob("*/**/plots.py"):
        assert "matplotlib.use(" not in path.read_text(), path
