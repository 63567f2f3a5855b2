"""Architecture checks that parse the sources (``ast`` and the standard library only).

* No import cycle between the modules of ``sim/`` (imports at any depth, functions included).
* No module under ``sim/``, ``analyses/``, ``benchmarks/`` or ``tests/`` over 400 lines.
* Outside ``tests/``, no access to another object's private (``_x``) attributes: ``obj._x``,
  ``getattr(obj, "_x")`` and its kin, ``vars(obj)["_x"]``, or ``from m import _x``.

Each checker is a plain function, first tested on small inline sources (so these tests can
fail), then run over the tree; a failure lists every offender as ``file:line: what``.
"""

from __future__ import annotations

import ast
from collections import defaultdict, deque
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 400
LENGTH_DIRS = ("sim", "analyses", "benchmarks", "tests")
PRIVATE_DIRS = ("sim", "analyses", "benchmarks")  # everything but tests/
OWN = frozenset({"self", "cls"})
#: Underscored names that are public API: namedtuple's methods and fields.
PUBLIC_UNDERSCORE = frozenset({"_replace", "_asdict", "_fields", "_make", "_field_defaults"})
#: (object name, attribute) pairs that are documented public API despite the underscore.
ALLOWED_ON = frozenset({("sys", "_getframe")})
ATTR_FUNCS = frozenset({"getattr", "hasattr", "setattr", "delattr"})


def py_files(*dirs: str, root: Path = ROOT) -> list[Path]:
    return sorted(p for d in dirs for p in (root / d).rglob("*.py") if "__pycache__" not in p.parts)


# ============================================================================ import cycles
def module_sources(package_dir: Path) -> tuple[dict[str, str], set[str]]:
    """``{module name: source}`` for every ``.py`` of a package directory, and the set of names
    that are packages (their ``__init__``)."""
    root = package_dir.parent
    sources, packages = {}, set()
    for path in py_files(package_dir.name, root=root):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
            packages.add(".".join(parts))
        sources[".".join(parts)] = path.read_text(encoding="utf-8")
    return sources, packages


def module_file(module: str, packages: set[str]) -> str:
    return module.replace(".", "/") + ("/__init__.py" if module in packages else ".py")


def imports_of(source: str, module: str, is_package: bool, modules, filename: str = "<source>"):
    """``[(imported module, line)]``: the modules among ``modules`` that ``source`` imports.

    Every ``import``/``from ... import`` counts, at any depth. Relative imports are resolved
    against ``module``. ``from pkg import name`` is an import of submodule ``pkg.name`` when
    that is a module, else of ``pkg`` itself (its ``__init__``); ``import a.b.c`` is an import
    of ``a.b.c`` (the longest prefix that is a module), not of the packages above it.
    """
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                for n in range(len(parts), 0, -1):
                    if ".".join(parts[:n]) in modules:
                        found.append((".".join(parts[:n]), node.lineno))
                        break
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".") if package else []
                if node.level > 1:
                    base_parts = base_parts[:len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                if f"{base}.{alias.name}" in modules:
                    found.append((f"{base}.{alias.name}", node.lineno))
                elif base in modules:
                    found.append((base, node.lineno))
    return [(target, line) for target, line in found if target != module]


def import_graph(sources: dict[str, str], packages: set[str]) -> dict[str, dict[str, list[int]]]:
    """``{importer: {imported: [lines]}}`` over the modules of ``sources``."""
    graph = {m: defaultdict(set) for m in sources}
    for module, source in sources.items():
        for target, line in imports_of(source, module, module in packages, sources, module_file(module, packages)):
            graph[module][target].add(line)
    return {m: {t: sorted(lines) for t, lines in targets.items()} for m, targets in graph.items()}


def strongly_connected(graph) -> list[list[str]]:
    """Tarjan's strongly connected components of ``{node: iterable of successors}``."""
    index, low, on_stack, stack, comps, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            comps.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return comps


def _shortest_path(graph, start, goal, allowed):
    prev, queue = {start: None}, deque([start])
    while queue:
        v = queue.popleft()
        if v == goal:
            path = [v]
            while prev[path[-1]] is not None:
                path.append(prev[path[-1]])
            return path[::-1]
        for w in sorted(graph.get(v, ())):
            if w in allowed and w not in prev:
                prev[w] = v
                queue.append(w)
    return None


def find_cycles(graph) -> list[list[str]]:
    """Import cycles of ``{node: iterable of successors}``, each as ``[a, b, ..., a]``.

    For every edge inside a strongly connected component, the shortest cycle through it
    (duplicates removed), so every import that takes part in a cycle shows up in one.
    """
    cycles, seen = [], set()
    for comp in strongly_connected(graph):
        members = set(comp)
        for u in comp:
            for v in sorted(graph.get(u, ())):
                if v not in members:
                    continue
                back = _shortest_path(graph, v, u, members)
                cycle = [u] + back if u != v else [u, u]
                i = cycle.index(min(cycle[:-1]))
                key = tuple(cycle[i:-1] + cycle[:i])
                if key not in seen:
                    seen.add(key)
                    cycles.append(list(key) + [key[0]])
    return cycles


def describe_cycle(cycle, graph, packages) -> str:
    steps = [f"{a} -> {b} ({module_file(a, packages)}:{','.join(map(str, graph[a][b]))})"
             for a, b in zip(cycle, cycle[1:])]
    return " -> ".join(cycle) + "\n      " + "\n      ".join(steps)


TASKS = {  # the layout of sim/tasks: a package __init__ that re-exports its submodules
    "sim": "from sim import tasks\n",
    "sim.tasks": "from sim.tasks.registry import get\nfrom sim.tasks.task import Task\nfrom sim.tasks import toys\n",
    "sim.tasks.task": "import numpy as np\n",
    "sim.tasks.toys": "from .task import Task\n",
    "sim.tasks.registry": "from sim.tasks.task import Task\nfrom sim.tasks import toys\n"
                          "def later():\n    import sim.tasks.toys\n",
}


def test_imports_resolve_submodules_packages_and_relative_imports():
    mods = set(TASKS) | {"sim.errors", "sim.substrate", "sim.substrate.neurons", "sim.substrate.network"}
    assert imports_of("from sim.substrate import neurons\n", "sim.substrate.network", False, mods) == [
        ("sim.substrate.neurons", 1)]
    assert imports_of("from sim.tasks import toys, Task\n", "sim.tasks.registry", False, mods) == [
        ("sim.tasks.toys", 1), ("sim.tasks", 1)]
    src = "def f():\n    from .. import errors\n    from . import neurons\n    import sim.tasks.toys as t\n"
    assert imports_of(src, "sim.substrate.network", False, mods) == [
        ("sim.errors", 2), ("sim.substrate.neurons", 3), ("sim.tasks.toys", 4)]
    assert imports_of("from . import toys\nfrom .task import Task\n", "sim.tasks", True, mods) == [
        ("sim.tasks.toys", 1), ("sim.tasks.task", 2)]
    assert imports_of("import numpy\nfrom os import path\n", "sim.tasks", True, mods) == []


def test_package_init_reexporting_submodules_is_no_cycle():
    graph = import_graph(TASKS, {"sim", "sim.tasks"})
    assert graph["sim.tasks.registry"] == {"sim.tasks.task": [1], "sim.tasks.toys": [2, 4]}
    assert find_cycles(graph) == []


def test_importing_a_package_name_from_a_submodule_is_a_cycle():
    sources = dict(TASKS, **{"sim.tasks.registry": "from sim.tasks import Task\n"})
    graph = import_graph(sources, {"sim", "sim.tasks"})
    assert find_cycles(graph) == [["sim.tasks", "sim.tasks.registry", "sim.tasks"]]
    assert "sim/tasks/registry.py:1" in describe_cycle(find_cycles(graph)[0], graph, {"sim", "sim.tasks"})


def test_find_cycles_on_synthetic_graphs():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    two = find_cycles({"a": {"b", "c"}, "b": {"a"}, "c": {"a"}})
    assert sorted(two) == [["a", "b", "a"], ["a", "c", "a"]]
    assert find_cycles({"a": {"a"}}) == [["a", "a"]]


def test_no_import_cycle_inside_sim():
    sources, packages = module_sources(ROOT / "sim")
    graph = import_graph(sources, packages)
    cycles = find_cycles(graph)
    assert not cycles, f"{len(cycles)} import cycle(s) inside sim/:\n" + "\n".join(
        "  " + describe_cycle(c, graph, packages) for c in cycles)


# ============================================================================ module length
def long_modules(paths, limit: int = MAX_LINES, root: Path = ROOT) -> list[str]:
    """``"path: N lines"`` for every file of ``paths`` with more than ``limit`` lines."""
    out = []
    for path in paths:
        n = len(Path(path).read_text(encoding="utf-8").splitlines())
        if n > limit:
            out.append(f"{Path(path).relative_to(root)}: {n} lines")
    return out


def test_long_modules_counts_lines(tmp_path):
    (tmp_path / "ok.py").write_text("x = 1\n" * 400)
    (tmp_path / "long.py").write_text("x = 1\n" * 401)
    assert long_modules(sorted(tmp_path.glob("*.py")), root=tmp_path) == ["long.py: 401 lines"]


def test_no_module_over_400_lines():
    offenders = long_modules(py_files(*LENGTH_DIRS))
    assert not offenders, f"modules over {MAX_LINES} lines (split them by topic):\n  " + "\n  ".join(offenders)


# ============================================================================ private reads
def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_own(node: ast.AST, in_class: set[int]) -> bool:
    """``self``, ``cls`` or ``super()`` in the code of a class: the object (or class) whose code
    this is. Outside a class body ``self`` and ``cls`` are ordinary names (e.g. ``cls = REGISTRY[k]``)."""
    if id(node) not in in_class:
        return False
    if isinstance(node, ast.Name):
        return node.id in OWN
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


def _private_str(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and any(
        _is_private(part) and part not in PUBLIC_UNDERSCORE for part in node.value.split("."))


def _dict_of_other(node: ast.AST, in_class: set[int]) -> bool:
    """``vars(obj)`` or ``obj.__dict__`` with ``obj`` not self/cls."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "vars":
        return len(node.args) == 1 and not _is_own(node.args[0], in_class)
    return isinstance(node, ast.Attribute) and node.attr == "__dict__" and not _is_own(node.value, in_class)


def _short(node: ast.AST, width: int = 70) -> str:
    text = ast.unparse(node)
    return text if len(text) <= width else text[:width - 3] + "..."


def private_reads(source: str, filename: str) -> list[str]:
    """``"file:line: what"`` for every access to another object's private attribute in ``source``.

    Offenders: ``x._a`` (read, write or delete) unless ``x`` is ``self``, ``cls`` or ``super()``
    inside a class body (a module-level function's ``cls = REGISTRY[k]; cls._a`` is flagged);
    ``getattr``/``hasattr``/``setattr``/``delattr(x, "_a", ...)``, ``operator.attrgetter("_a")``,
    ``vars(x)["_a"]``, ``x.__dict__["_a"]`` (and ``.get("_a")``) likewise; ``from m import _a``.
    Dunders (``__class__``, ``__dict__``), namedtuple's ``_replace``/``_asdict``/``_fields``/
    ``_make``/``_field_defaults`` and ``sys._getframe`` are allowed.
    """
    tree = ast.parse(source, filename)
    in_class = {id(n) for c in ast.walk(tree) if isinstance(c, ast.ClassDef) for n in ast.walk(c)}
    found = []

    def flag(node, what):
        found.append((node.lineno, node.col_offset, f"{filename}:{node.lineno}: {what}"))

    kinds = {ast.Load: "read", ast.Store: "write", ast.Del: "delete"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            if not _is_private(node.attr) or node.attr in PUBLIC_UNDERSCORE or _is_own(node.value, in_class):
                continue
            if isinstance(node.value, ast.Name) and (node.value.id, node.attr) in ALLOWED_ON:
                continue
            flag(node, f"{_short(node)} ({kinds.get(type(node.ctx), 'access')} of private attribute {node.attr})")
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            by_name = len(node.args) >= 2 and _private_str(node.args[1]) and not _is_own(node.args[0], in_class)
            if name in ATTR_FUNCS and by_name:
                flag(node, f"{_short(node)} ({name} of a private attribute by name)")
            elif name == "attrgetter" and any(_private_str(a) for a in node.args):
                flag(node, f"{_short(node)} (attrgetter of a private attribute)")
            elif (isinstance(func, ast.Attribute) and func.attr in ("get", "pop", "setdefault")
                  and _dict_of_other(func.value, in_class) and node.args and _private_str(node.args[0])):
                flag(node, f"{_short(node)} (private attribute through the instance dict)")
        elif isinstance(node, ast.Subscript):
            if _dict_of_other(node.value, in_class) and _private_str(node.slice):
                flag(node, f"{_short(node)} (private attribute through the instance dict)")
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if _is_private(alias.name) and alias.name not in PUBLIC_UNDERSCORE:
                    module = "." * node.level + (node.module or "")
                    flag(node, f"from {module} import {alias.name} (import of another module's private name)")
    return [text for _, _, text in sorted(found)]


@pytest.mark.parametrize("source, what", [
    ("model._rule.reset()\n", "model._rule"),
    ("x = self.network_._conns[0]\n", "self.network_._conns"),
    ("other._cache = None\n", "write of private attribute _cache"),
    ("n = getattr(m, '_N', 0)\n", "getattr(m, '_N', 0)"),
    ("hasattr(m, '_hp')\n", "hasattr"),
    ("setattr(m, '_hp', {})\n", "setattr"),
    ("from a import _b\n", "from a import _b"),
    ("from .mod import x, _y\n", "from .mod import _y"),
    ("attrgetter('net._rule')(m)\n", "attrgetter"),
    ("vars(m)['_rule']\n", "instance dict"),
    ("m.__dict__.get('_rule')\n", "instance dict"),
    ("def f(o):\n    return o._secret\n", "o._secret"),
    ("obj.__mangled\n", "obj.__mangled"),
    ("def make(name):\n    cls = REGISTRY[name]\n    return cls._param_names()\n", "cls._param_names"),
    ("def free(self):\n    return self._x\n", "self._x"),
])
def test_private_reads_flags(source, what):
    found = private_reads(source, "m.py")
    assert len(found) == 1 and what in found[0], found
    assert found[0].startswith("m.py:")


def test_private_reads_allows_own_dunder_and_public_underscore_names():
    source = """
import sys
from collections import namedtuple
from m import public, __version__
from ._panels import task_order
class A:
    def f(self):
        self._x = 1
        return self._x + self.__dict__["_x"] + vars(self)["_x"] + getattr(self, "_x")
    @classmethod
    def g(cls):
        return cls._y, super()._z()
def h(obj, t):
    return obj.__class__, obj.__dict__, t._replace(a=1), t._asdict(), t._fields, type(t)._make([1])
frame = sys._getframe(0)
getattr(obj, "public", None)
"""
    assert private_reads(source, "m.py") == []


def test_private_reads_reports_line_numbers():
    assert private_reads("a = 1\n\nb = getattr(m, '_N', 0)\n", "pkg/m.py") == [
        "pkg/m.py:3: getattr(m, '_N', 0) (getattr of a private attribute by name)"]


def test_no_private_reads_outside_tests():
    by_file = defaultdict(list)
    for path in py_files(*PRIVATE_DIRS):
        rel = str(path.relative_to(ROOT))
        for offence in private_reads(path.read_text(encoding="utf-8"), rel):
            by_file[rel].append(offence)
    n = sum(map(len, by_file.values()))
    assert not by_file, (
        f"{n} access(es) to another object's private attributes outside tests/ (give the owner a public "
        "method or property; renaming a private to make it public is no seam):\n"
        + "\n".join(f"  {f}:\n    " + "\n    ".join(o[len(f) + 1:] for o in offs) for f, offs in by_file.items()))
