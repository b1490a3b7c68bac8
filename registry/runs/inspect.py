"""`registry inspect RUN`: what a claim writer needs before writing `column:` or `tensor:` -- each
artifact's format and, for a metrics table, every column with its number of written rows and step
range; for activations, the checkpoints and each tensor's shape; for text, the number of samples."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from registry.errors import CannotMeasure, UserError
from registry.runs.manifest import MANIFEST
from registry.runs.run import Run, load_run, load_runs_isolated


@dataclass(frozen=True)
class Entry:
    """One column (rows, first and last step) or tensor (shape), or a note about the artifact."""

    name: str
    detail: str


@dataclass
class ArtifactSummary:
    name: str
    path: str
    kind: str
    format: str
    entries: list[Entry] = field(default_factory=list)
    problem: str | None = None
    """Why the artifact could not be read (the located message); the others are still listed."""


def find_run(ref: str, roots: Sequence[Path]) -> Run:
    """A run folder (or its run.yaml), or the id of a run below `roots`."""
    path = Path(ref)
    if path.is_dir() and (path / MANIFEST).is_file():
        path = path / MANIFEST
    if path.name == MANIFEST and path.is_file():
        return load_run(path)
    runs, _ = load_runs_isolated([r for r in roots if r.exists()])
    by_id = {r.id: r for r in runs}
    if ref not in by_id:
        import difflib

        close = difflib.get_close_matches(ref, list(by_id), n=1)
        hint = f"did you mean {close[0]!r}?" if close else "give a run folder, or the id of a run in the configured runs folders"
        raise UserError(f"no run {ref!r}", hint=hint)
    return by_id[ref]


def inspect_run(run: Run) -> list[ArtifactSummary]:
    out: list[ArtifactSummary] = []
    for name in run.artifact_names():
        spec = run.spec(name)
        kind = spec.resolved_kind() or "metrics"
        summary = ArtifactSummary(name, spec.path, kind, spec.format or "")
        try:
            if kind == "metrics":
                _metrics(run, name, summary)
            elif kind == "activations":
                _activations(run, name, summary)
            else:
                n = sum(1 for _ in run.iter_samples(name))
                summary.format = summary.format or "samples"
                summary.entries.append(Entry("samples", f"{n:,}"))
        except UserError as exc:
            summary.problem = exc.render()
        except CannotMeasure as exc:
            summary.problem = exc.reason
        out.append(summary)
    return out


def _metrics(run: Run, name: str, summary: ArtifactSummary) -> None:
    from registry.readers.metrics.table import metrics_format

    table = run.metrics(name)
    summary.format = metrics_format(run.paths[name], run.spec(name).format)
    summary.entries.append(Entry("step", f"{table.steps.size:,} rows" + _span(table.steps)))
    for column in table.available():
        if column == "step":
            continue
        if column in run.spec(name).where:
            summary.entries.append(Entry(column, "`where:` column"))
            continue
        try:
            steps, _ = table.series(column)
        except UserError as exc:
            summary.entries.append(Entry(column, f"not numeric ({exc.message})"))
            continue
        except CannotMeasure as exc:
            summary.entries.append(Entry(column, exc.reason))
            continue
        summary.entries.append(Entry(column, f"{steps.size:,} rows" + _span(steps)))


def _span(steps: object) -> str:
    import numpy as np

    arr = np.asarray(steps)
    return f", steps {int(arr[0])}..{int(arr[-1])}" if arr.size else ""


def _activations(run: Run, name: str, summary: ArtifactSummary) -> None:
    art = run.tensors(name)
    steps = art.steps
    summary.format = summary.format or art.checkpoints[-1].path.suffix.lstrip(".")
    if steps:
        summary.entries.append(Entry("checkpoints", f"{len(steps)}, steps {steps[0]}..{steps[-1]}"))
    store = art.store()
    for tensor in store.names():
        axes = store.axes(tensor)
        shape = "x".join(str(d) for d in store.shape(tensor)) or "scalar"
        summary.entries.append(Entry(tensor, shape + (f" ({', '.join(axes)})" if axes else "")))
