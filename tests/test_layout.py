"""The import graph of the package (issue 19): no cycles at import time, dependencies
in one direction (``_core`` ← algorithm packages ← ``pipeline`` ← ``cli``), Java only in
``bridge/``, and ``pipeline/`` in modules of at most 400 lines.

Read from the source with :mod:`ast` (nothing imported): module-level imports (also
under ``if``/``try`` and in class bodies, not under ``if TYPE_CHECKING``) make the
import-time graph; the direction and Java rules also count imports inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "fijibridge"

#: packages of algorithms: they may use the Java bridge only inside the function
#: that needs it (importing them never starts Java)
ALGORITHM_PACKAGES = ("_core", "io", "psf", "deconv", "synth", "segment", "features",
                      "classify", "filters")
JAVA_MODULES = ("jpype", "scyjava", "imagej")
MAX_PIPELINE_LINES = 400

#: Known import-time cycles in files another change owns (issue 19, point 4): remove an
#: entry when its cycle is gone — the test fails on an entry that no longer exists, so
#: this list cannot outlive the cycles it names.
KNOWN_CYCLES: set[frozenset[str]] = set()


def _module_name(path: Path, pkg: Path) -> str:
    parts = list(path.relative_to(pkg.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def scan(pkg: Path) -> tuple[dict, dict]:
    """``(modules, imports)`` of the package at ``pkg``: ``{name: path}`` and
    ``{name: (module-level imports, imports inside functions)}``."""
    modules = {_module_name(p, pkg): p for p in sorted(pkg.rglob("*.py"))}
    return modules, {m: _imports(m, p, modules) for m, p in modules.items()}


def _resolve(module: str, node: ast.ImportFrom | ast.Import, modules: dict) -> list[str]:
    """Absolute names of the modules an import statement in ``module`` loads."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if node.level:
        base = module.split(".")
        if modules[module].name != "__init__.py":
            base = base[:-1]
        base = base[:len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    out = []
    for a in node.names:
        sub = f"{target}.{a.name}"
        out.append(sub if sub in modules else target)
    return out


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or \
        (isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(module: str, path: Path, modules: dict) -> tuple[list, list]:
    """``(module-level, inside functions)`` imports of a module: ``[(name, line)]``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    top, inner = [], []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, True)
            elif isinstance(child, ast.If) and _is_type_checking(child):
                for c in child.orelse:
                    visit(ast.Module(body=[c], type_ignores=[]), in_function)
            elif isinstance(child, (ast.Import, ast.ImportFrom)):
                (inner if in_function else top).extend(
                    (name, child.lineno) for name in _resolve(module, child, modules))
            else:
                visit(child, in_function)

    visit(tree, False)
    return top, inner


MODULES, IMPORTS = scan(PKG)


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _is_under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def cycles(modules: dict, imports: dict) -> set[frozenset[str]]:
    """Strongly connected components (size > 1, or a self-import) of the import-time graph."""
    graph = {m: sorted({n for n, _ in imports[m][0] if n in modules}) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[frozenset[str]] = set()

    def strongconnect(v):  # Tarjan, recursive (the graph is a few hundred modules)
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph[v]:
                found.add(frozenset(comp))

    for m in graph:
        if m not in index:
            strongconnect(m)
    return found


def test_no_import_cycles_at_module_level():
    found = cycles(MODULES, IMPORTS)
    new = [sorted(c) for c in found - KNOWN_CYCLES]
    assert not new, f"import-time cycles among modules: {new}"
    gone = [sorted(c) for c in KNOWN_CYCLES - found]
    assert not gone, f"KNOWN_CYCLES lists cycles that no longer exist; remove them: {gone}"


def violations(rule, modules=None, imports=None) -> list[str]:
    """``FILE:LINE: why`` for every import that ``rule(module, name, level)`` rejects."""
    modules, imports = (MODULES, IMPORTS) if modules is None else (modules, imports)
    out = []
    for module, (top, inner) in imports.items():
        for name, line, level in [(n, ln, "module") for n, ln in top] + \
                [(n, ln, "function") for n, ln in inner]:
            why = rule(module, name, level)
            if why:
                path = modules[module]
                depth = module.count(".") + 1 + (path.name == "__init__.py")
                out.append(f"{'/'.join(path.parts[-depth:])}:{line}: {why}")
    return out


def direction_rule(module, name, level):
    pkg = _package(module)
    if _is_under(name, "fijibridge.cli") and pkg != "cli":
        return f"imports {name} (only cli/ may import cli)"
    if _is_under(name, "fijibridge.pipeline") and pkg not in ("pipeline", "cli"):
        return f"imports {name} (only cli/ may import the pipeline; packages register " \
               "their steps in their own steps.py)"
    return None


def java_rule(module, name, level):
    if name.split(".")[0] in JAVA_MODULES and _package(module) != "bridge":
        return f"imports {name} ({level} level) outside fijibridge/bridge/"
    return None


def bridge_rule(module, name, level):
    if (level == "module" and _is_under(name, "fijibridge.bridge")
            and _package(module) in ALGORITHM_PACKAGES):
        return f"imports {name} at module level (import it inside the function that needs Java)"
    return None


def test_only_cli_imports_pipeline_and_nothing_imports_cli():
    assert violations(direction_rule) == []


def test_java_only_in_bridge():
    assert violations(java_rule) == []


def test_algorithm_packages_import_bridge_only_inside_functions():
    assert violations(bridge_rule) == []


@pytest.mark.parametrize("path", sorted((PKG / "pipeline").glob("*.py")), ids=lambda p: p.name)
def test_pipeline_modules_are_small(path):
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_PIPELINE_LINES, f"{path.name} has {n} lines (at most {MAX_PIPELINE_LINES})"


def test_the_checks_see_the_imports_they_judge():
    """The reader itself: relative, aliased and function-level imports are resolved."""
    top, inner = IMPORTS["fijibridge.pipeline.runner"]
    assert "fijibridge.pipeline.execute" in {n for n, _ in top}
    assert "fijibridge._core.paths" in {n for n, _ in top}
    # bridge is imported inside execute's macro runner, not at module level
    top, inner = IMPORTS["fijibridge.pipeline.execute"]
    assert "fijibridge.bridge" in {n for n, _ in inner}
    assert "fijibridge.bridge" not in {n for n, _ in top}
    assert len(MODULES) > 100


def test_the_rules_catch_a_package_that_breaks_them(tmp_path):
    """The same checks on a small package built to break each rule once."""
    files = {
        "__init__.py": "",
        "a.py": "from . import b\n",
        "b.py": "import fijibridge.a\n",                       # a <-> b at import time
        "c.py": "def f():\n    from . import a\n",             # inside a function: no cycle
        "segment/__init__.py": "",
        "segment/x.py": "def f():\n    import jpype\n",        # Java outside bridge
        "features/__init__.py": "",
        "features/steps.py": "def f():\n    from ..pipeline import run\n",
        "psf/__init__.py": "from ..bridge import session\n",   # bridge at module level
        "pipeline/__init__.py": "def run():\n    from ..cli import main\n",
        "bridge/__init__.py": "import jpype\nsession = None\n",
        "bridge/session.py": "",
        "cli/__init__.py": "from ..pipeline import run\n",
    }
    pkg = tmp_path / "fijibridge"
    for name, text in files.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text)
    modules, imports = scan(pkg)
    assert cycles(modules, imports) == {frozenset({"fijibridge.a", "fijibridge.b"})}
    assert violations(java_rule, modules, imports) == [
        "fijibridge/segment/x.py:2: imports jpype (function level) outside fijibridge/bridge/"]
    assert [v.split(" (")[0] for v in violations(direction_rule, modules, imports)] == [
        "fijibridge/features/steps.py:2: imports fijibridge.pipeline",
        "fijibridge/pipeline/__init__.py:2: imports fijibridge.cli"]
    assert violations(bridge_rule, modules, imports) == [
        "fijibridge/psf/__init__.py:1: imports fijibridge.bridge.session at module level (import it "
        "inside the function that needs Java)"]
