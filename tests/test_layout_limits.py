"""Small units: no module over 400 lines and no function over 60 lines, in registry/ and evaluators/.

Run with `pytest tests/test_layout_limits.py -s` to see the figures: each package's largest modules
and longest functions (ast-based: a module's lines, a function's lines from its `def` (or first
decorator) to its last line, nested functions counted on their own and inside their parent).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
PACKAGES = ("registry", "evaluators")


@dataclass(frozen=True)
class Figures:
    modules: list[tuple[int, str]]
    """(lines, path) of every module, largest first."""
    functions: list[tuple[int, str]]
    """(lines, path:line qualified name) of every function, longest first."""


def figures(package: str) -> Figures:
    modules: list[tuple[int, str]] = []
    functions: list[tuple[int, str]] = []
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        text = path.read_text(encoding="utf-8")
        modules.append((len(text.splitlines()), rel))

        def visit(node: ast.AST, prefix: str, rel: str = rel) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                    start = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                    assert child.end_lineno is not None
                    name = f"{prefix}{child.name}"
                    functions.append((child.end_lineno - start + 1, f"{rel}:{child.lineno} {name}"))
                    visit(child, f"{name}.")
                elif isinstance(child, ast.ClassDef):
                    visit(child, f"{prefix}{child.name}.")
                else:
                    visit(child, prefix)

        visit(ast.parse(text), "")
    return Figures(sorted(modules, reverse=True), sorted(functions, reverse=True))


@pytest.mark.parametrize("package", PACKAGES)
def test_modules_and_functions_are_small(package: str) -> None:
    f = figures(package)
    print(f"\n{package}: {len(f.modules)} modules, {sum(n for n, _ in f.modules)} lines, {len(f.functions)} functions")
    print("  largest modules:  " + ", ".join(f"{p} {n}" for n, p in f.modules[:5]))
    print("  longest functions: " + ", ".join(f"{p} {n}" for n, p in f.functions[:5]))
    big = [f"{p}: {n} lines (limit {MAX_MODULE_LINES})" for n, p in f.modules if n > MAX_MODULE_LINES]
    long = [f"{p}: {n} lines (limit {MAX_FUNCTION_LINES})" for n, p in f.functions if n > MAX_FUNCTION_LINES]
    assert not big + long, "\n".join(["too large:", *big, *long])
