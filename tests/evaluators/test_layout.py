"""The shape of evaluators/: one evaluator per module, imports only from `registry` (the public plugin
API) and `evaluators._lib`, no evaluator module imported by another, no import cycles (function-level
imports included), small modules."""

from __future__ import annotations

import ast
from pathlib import Path

import registry

ROOT = Path(__file__).resolve().parents[2] / "evaluators"
MODULES = {".".join(p.relative_to(ROOT.parent).with_suffix("").parts).removesuffix(".__init__"): p for p in ROOT.rglob("*.py")}


def _imports(name: str, path: Path) -> set[str]:
    """Every module `name` imports, at any level (relative imports resolved)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES)
    return out


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _is_evaluator_module(name: str) -> bool:
    return name.count(".") == 2 and not name.startswith("evaluators._lib")


def test_evaluators_import_only_the_public_api_and_lib() -> None:
    for name, imported in GRAPH.items():
        for target in imported:
            if target.startswith("registry"):
                assert target == "registry", f"{name} imports {target}: use `from registry import ...`"
            if target.startswith("evaluators") and target in MODULES and target != name:
                assert target.startswith("evaluators._lib") or target == "evaluators", f"{name} imports {target}"


def test_the_public_api_exports_what_evaluators_use() -> None:
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "registry" and not node.level:
                for alias in node.names:
                    assert alias.name in registry.__all__, f"{name} uses registry.{alias.name}, which is not exported"


KINDS = ("Evaluator", "CrossRunEvaluator")


def test_one_evaluator_per_module() -> None:
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        classes = [
            n.name
            for n in tree.body
            if isinstance(n, ast.ClassDef)
            and any(
                isinstance(b, ast.Subscript) and getattr(b.value, "id", "") in ("Evaluator", "CrossRunEvaluator") for b in n.bases
            )
        ]
        assert len(classes) == (1 if _is_evaluator_module(name) else 0), (name, classes)


def test_no_import_cycles() -> None:
    seen: dict[str, int] = {}  # 1: on the stack, 2: done

    def visit(node: str, stack: list[str]) -> None:
        seen[node] = 1
        for nxt in sorted(t for t in GRAPH.get(node, ()) if t in MODULES and t != "evaluators"):
            assert seen.get(nxt) != 1, "import cycle: " + " -> ".join([*stack, node, nxt])
            if nxt not in seen:
                visit(nxt, [*stack, node])
        seen[node] = 2

    for module in sorted(MODULES):
        if module not in seen:
            visit(module, [])


def test_small_units() -> None:
    for name, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        assert text.count("\n") <= 400, f"{name} has more than 400 lines"
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                assert node.end_lineno - node.lineno + 1 <= 60, f"{name}.{node.name} is longer than 60 lines"
