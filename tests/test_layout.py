"""The package's layout: train/'s groups import one way, and no module imports itself back in a circle."""

import ast
from pathlib import Path

import pytest

import mclnn

ROOT = Path(mclnn.__file__).parent

# Lower groups never import higher ones; groups of one level never import each other.
LEVELS = {"trial_files": 0, "pictures": 0, "clips": 1, "model": 2, "fit": 3, "evaluate": 3, "run": 4, "predict": 4}


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[0] in ("tests", "benchmarks", ".venv", "build") or "site-packages" in parts:
            continue
        name = ".".join(("mclnn", *(part for part in parts if part != "__init__")))
        yield name, path


def _imports(path, *, top_level_only):
    """The mclnn modules that ``path`` imports (``from X import name`` counts X.name where that is a module)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("mclnn")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mclnn"):
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


MODULES = dict(_modules())


def _group(module):
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "train" else None


@pytest.mark.parametrize("module", sorted(name for name in MODULES if _group(name)))
def test_train_groups_import_one_way(module):
    group = _group(module)
    for imported in _imports(MODULES[module], top_level_only=False):
        other = _group(imported)
        if other is None or other == group or imported not in MODULES:
            continue
        assert LEVELS[other] < LEVELS[group], f"{module} ({group}) imports {imported} ({other})"


def test_no_module_level_import_circle():
    graph = {name: {imported for imported in _imports(path, top_level_only=True) if imported in MODULES and
                    imported != name} for name, path in MODULES.items()}
    done, active = set(), []

    def visit(name):
        if name in active:
            pytest.fail("import circle: " + " -> ".join(active[active.index(name):] + [name]))
        if name in done:
            return
        active.append(name)
        for imported in sorted(graph[name]):
            visit(imported)
        active.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)


def test_the_layout_test_sees_the_train_groups():
    assert {_group(name) for name in MODULES} - {None} == set(LEVELS)
