"""The house rules, checked on the source: no private names across modules, no import cycles."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "schoolplan"


def _modules() -> dict[str, ast.Module]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return out


MODULES = _modules()

#: Documented internal modules: private to the package, shared by its modules through public names.
INTERNAL = {"_validate", "_highs", "_leaflet", "_core", "_text"}


def _package(name: str) -> str:
    return name if (SRC.parent / Path(*name.split(".")) / "__init__.py").exists() else name.rsplit(".", 1)[0]


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = _package(module).split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _imports(module: str, tree: ast.Module) -> list[tuple[str, str | None, int]]:
    """(imported module, imported name or None, line) of every schoolplan import, at any depth."""
    out: list[tuple[str, str | None, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, None, node.lineno) for a in node.names if a.name.startswith("schoolplan")]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            if target.startswith("schoolplan"):
                out += [(target, a.name, node.lineno) for a in node.names]
    return out


def _owner(module: str) -> str:
    """The unit that may use its own private names: a module, or the package a private module belongs to."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 else module


def test_no_module_imports_another_modules_private_name() -> None:
    bad = []
    for module, tree in MODULES.items():
        for target, name, line in _imports(module, tree):
            if name and name.startswith("_") and not name.startswith("__") and name not in INTERNAL \
                    and target != module \
                    and _owner(target) != _owner(module):
                bad.append(f"{module}:{line} imports {target}.{name}")
            private_module = [p for p in target.split(".")[1:] if p.startswith("_") and not p.startswith("__")
                              and p not in INTERNAL]
            if private_module and _owner(target) != _owner(module):
                bad.append(f"{module}:{line} imports the private module {target}")
        for node in ast.walk(tree):  # attribute access like report._fmt on an imported module
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.attr.startswith("_") \
                    and not node.attr.startswith("__") and node.value.id in {"report", "scenario", "snap", "query",
                                                                             "graph", "optimize", "consolidate", "maps",
                                                                             "forecast", "reserve", "metrics", "io"}:
                bad.append(f"{module}:{node.lineno} uses {node.value.id}.{node.attr}")
    assert not bad, "\n".join(bad)


def test_import_graph_has_no_cycle() -> None:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, tree in MODULES.items():
        for target, name, _line in _imports(module, tree):
            dep = f"{target}.{name}" if name and f"{target}.{name}" in MODULES else target
            if dep in MODULES and dep != module and not module.startswith(dep + "."):
                graph[module].add(dep)
    seen: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        seen[m] = 1
        stack.append(m)
        for d in sorted(graph[m]):
            if seen.get(d) == 1:
                raise AssertionError("import cycle: " + " → ".join([*stack[stack.index(d):], d]))
            if d not in seen:
                visit(d)
        stack.pop()
        seen[m] = 2

    for m in sorted(graph):
        if m not in seen:
            visit(m)
