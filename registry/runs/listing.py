"""`registry runs`: the runs with their tags, artifacts and the step range of their metric artifacts."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass

from registry.errors import RegistryError
from registry.runs.run import Run


@dataclass(frozen=True)
class RunRow:
    id: str
    tags: list[str]
    artifacts: list[str]
    """Each artifact as `name (kind)`."""
    steps: str
    """`first–last` over the metric artifacts, `?` when one cannot be read, empty without metrics."""


def _steps(run: Run) -> str:
    lo: list[int] = []
    hi: list[int] = []
    for name in run.artifact_names():
        if run.spec(name).resolved_kind() != "metrics":
            continue
        try:
            steps = run.metrics(name).steps
        except (RegistryError, OSError, ValueError):
            return "?"
        if steps.size:
            lo.append(int(steps.min()))
            hi.append(int(steps.max()))
    return f"{min(lo)}–{max(hi)}" if lo else ""


def run_rows(runs: Sequence[Run], tags: Sequence[str] = (), pattern: str | None = None) -> list[RunRow]:
    """Runs carrying every tag in `tags` whose id matches the glob `pattern`, sorted by id."""
    chosen = [r for r in runs if set(tags) <= set(r.tags) and (pattern is None or fnmatch.fnmatchcase(r.id, pattern))]
    return [
        RunRow(
            r.id,
            list(r.tags),
            [f"{n} ({r.spec(n).resolved_kind() or '?'})" for n in r.artifact_names()],
            _steps(r),
        )
        for r in sorted(chosen, key=lambda r: r.id)
    ]
