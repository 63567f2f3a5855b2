"""Studies: the import seams. No import cycle through `sim.study` (imports at any depth, lazy ones
included), the store and the schema do not import the config parser, and the analyses use only
public names of `sim`."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _modules(package: str) -> dict[str, Path]:
    out = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, known) -> set[str]:
    """Modules of ``known`` that module ``name`` imports (every import statement, any depth).
    ``from a import b`` is an import of ``a.b`` when that is a module, else of ``a``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            for a in node.names:
                if f"{base}.{a.name}" in known:
                    out.add(f"{base}.{a.name}")
                elif base in known:
                    out.add(base)
    return out - {name}


def _graph():
    mods = _modules("sim")
    return {m: _imports(m, p, mods) for m, p in mods.items()}


def _closure(graph, start):
    seen, todo = set(), [start]
    while todo:
        for dep in graph[todo.pop()]:
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def test_no_import_cycle_through_the_study_modules():
    graph = _graph()
    study = [m for m in graph if m.startswith("sim.study")]
    assert {"sim.study.spec", "sim.study.store", "sim.study.schema", "sim.study.worker"} <= set(study)
    cycles = [m for m in study if m in _closure(graph, m)]
    assert cycles == [], f"modules that import themselves through others: {cycles}"


def test_store_and_schema_do_not_import_the_config_parser():
    graph = _graph()
    for name in ("sim.study.store", "sim.study.schema", "sim.study.spec", "sim.study.worker"):
        assert "sim.study.config" not in _closure(graph, name), name
    assert "sim.study.worker" not in _closure(graph, "sim.study.store")


def test_analyses_use_only_public_names_of_sim():
    for path in sorted((ROOT / "analyses").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sim" and not node.level:
                names = node.module.split(".") + [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                names = [part for a in node.names if a.name.split(".")[0] == "sim" for part in a.name.split(".")]
            elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                names = [node.attr]
            private = [n for n in names if n.startswith("_")]
            assert not private, f"{path.name}:{node.lineno} uses {private}"
        assert "tomllib" not in path.read_text(), f"{path.name} reads the study file itself"
        assert "load_task" not in path.read_text() and "subsample_rng" not in path.read_text(), path.name
