"""`registry inspect RUN`: what a claim writer needs before writing `column:` or `tensor:` -- each
artifact's format and, for a metrics table, every column with its number of written rows and step
range; for activations, the checkpoints and each tensor's shape; for text, the number of samples."""

from __future__ import annotations

from dataclasses import dataclass, field

from registry.errors import CannotMeasure, UserError
from registry.runs.run import Run


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
