"""The layout's rules hold: the core is pure, imports point down a fixed order of layers, private
names stay private.

Read from the source (``ast``), not by importing, so a rule broken inside a function body is
caught too.

The layers, bottom up; a module may import its own layer and those below, never one above:

0. ``model``, the cost model core (every module of ``model/`` but ``model/app/`` and
   ``model/__main__.py``): typed inputs (``model.schema``), no Hydra, no OmegaConf, no files.
1. ``model.app`` (but ``model.app.view``): the application layer every app stands on: Hydra's
   composition and runner (``model.app.config``, ``model.app.runner``), the apps' settings and
   checks (``model.app.schema``, ``model.app.validate``), I/O, the dask cluster, reports, plots.
2. ``model.app.view``, the page: its shell, the pieces every tab uses (widgets, figures, the
   command line) and the calculator tab.  It finds the other tabs by entry point
   (``llm_serving_economics.view_tabs``), so it imports neither ``optimize`` nor ``sensitivity``.
3. ``optimize``, the fleet planner app (with its tab, ``optimize.view_tab``).
4. ``sensitivity`` (with ``sensitivity.uncertainty``, whose robust plan is the planner's; each
   with its tab).
5. a package's ``__main__`` (``python -m model``): a command line, the top of the stack.

One door climbs on purpose, named in :data:`UPWARD_EXPORTS`: ``model.load_config`` and
``model.validate`` are the app layer's, re-exported lazily (by name, on first use) by
``model/__init__.py`` as the public API's entry (docs/python-api.md).
"""
import ast
from pathlib import Path

import pytest

from tests.helpers import ROOT

PACKAGES = ("model", "optimize", "sensitivity")
# Layer of a module: the longest prefix that names one (see the module docstring).
LAYERS = {"model": 0, "model.app": 1, "model.app.view": 2, "optimize": 3, "sensitivity": 4}
ENTRY_LAYER = 5
# model/__init__.py's lazy re-exports that reach up on purpose: (exporting module, target module)
UPWARD_EXPORTS = {("model", "model.app.config"), ("model", "model.app.validate")}
FORBIDDEN_IN_CORE = ("omegaconf", "hydra")


def modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def layer(name: str) -> int | None:
    """The layer of a module of ours (None for another package's)."""
    if name.rpartition(".")[2] == "__main__":
        return ENTRY_LAYER
    best = None
    for prefix, level in LAYERS.items():
        if (name == prefix or name.startswith(prefix + ".")) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, level)
    return None if best is None else best[1]


def core_modules() -> dict[str, Path]:
    return {name: path for name, path in modules().items() if layer(name) == 0}


CORE = sorted(name.removeprefix("model.") for name in core_modules() if name != "model")


def imported(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, names imported from it, line) for every import statement of a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [a.name for a in node.names], node.lineno))
    return found


def every_import(path: Path, package: str) -> list[tuple[str, list[str], int]]:
    """:func:`imported` plus relative imports resolved against ``package``, and modules named to
    ``importlib.import_module`` / ``__import__`` as a constant string."""
    found = imported(path)
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")
            base = base[: len(base) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
            found.append((target, [a.name for a in node.names], node.lineno))
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__"):
                found.append((node.args[0].value, [], node.lineno))
    return found


def test_the_core_is_every_module_of_model_but_the_app_layer():
    assert {"schema", "validate", "parameters", "equations", "engine", "evaluate", "lazy", "calibration"} <= set(CORE)
    assert not any(name.startswith("app") or name == "__main__" or name == "config" for name in CORE)


@pytest.mark.parametrize("name", sorted(core_modules()))
def test_core_imports_no_omegaconf_or_hydra(name):
    """The core reads typed inputs: no module of it imports OmegaConf or Hydra, at module level or
    inside a function."""
    path = core_modules()[name]
    for module, _, line in every_import(path, name if path.name == "__init__.py" else name.rpartition(".")[0]):
        root = module.split(".")[0]
        assert root not in FORBIDDEN_IN_CORE, f"{path}:{line} imports {module}: the core reads typed inputs"


def test_no_package_imports_a_layer_above_it():
    """Every import of ours points to the importer's layer or one below (the order in the module
    docstring), inside functions too; model/__init__'s lazy exports are checked the same way."""
    mods = modules()
    climbs = []
    for name, path in mods.items():
        own = layer(name)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = [(module, line) for module, _, line in every_import(path, package)]
        if path.name == "__init__.py":  # lazy_exports(__name__, {"name": "module", ...}): imports by name
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "lazy_exports" \
                        and len(node.args) == 2 and isinstance(node.args[1], ast.Dict):
                    targets += [(v.value, node.lineno) for v in node.args[1].values if isinstance(v, ast.Constant)]
        for module, line in targets:
            other = layer(module)
            if other is not None and other > own and (name, module) not in UPWARD_EXPORTS:
                climbs.append(f"{path.relative_to(ROOT)}:{line} ({name}, layer {own}) imports {module} "
                              f"(layer {other})")
    assert not climbs, "imports that climb a layer:\n" + "\n".join(climbs)


@pytest.mark.parametrize("name", CORE)
def test_core_never_imports_the_app_layer(name):
    path = core_modules()[f"model.{name}"]
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


def test_the_view_imports_no_app_it_shows():
    """The page sits below the apps whose tabs it shows: no module of ``model.app.view`` imports
    ``optimize`` or ``sensitivity``, even inside a function (the tabs come by entry point)."""
    assert layer("model.app.view.state") < layer("optimize.view_tab") < layer("sensitivity.view_tab")
    found = []
    for name, path in modules().items():
        if layer(name) != LAYERS["model.app.view"]:
            continue
        for module, _, line in every_import(path, name if path.name == "__init__.py" else name.rpartition(".")[0]):
            if module.split(".")[0] in ("optimize", "sensitivity"):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not found, "the view imports an app above it (register its tab by entry point):\n" + "\n".join(found)


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
