"""PyTorch Lightning ``CSVLogger`` output (``metrics.csv``) as a step-indexed table.

Manifest (a ``metrics.csv`` is a plain CSV unless told otherwise, so ``format`` is needed; the
path may also be the logger's ``version_N`` folder)::

    metrics: {path: lightning_logs/version_0/metrics.csv, format: lightning}
    metrics: {path: lightning_logs/version_0, format: lightning, columns: {loss: train_loss_step}}

The logger writes one row per ``log_metrics`` call, with ``step`` (and usually ``epoch``) and
only the metrics of that call filled in, so rows are sparse and several rows share a step (a
training row and a validation row at the same step, say). Rows are merged per step: each cell
of the merged row is the last non-empty value written at that step (rows in file order). An
empty cell is "not logged"; ``nan``/``inf`` are values.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from registry.errors import ArtifactError
from registry.readers.metrics.rows import ArraySource, csv_rows, read_csv_strings, source_from_rows

if TYPE_CHECKING:
    from registry.readers.formats import ArtifactSpec

FILE_NAME = "metrics.csv"


def open_lightning(path: Path, spec: ArtifactSpec | None = None) -> ArraySource:
    if path.is_dir():
        if not (path / FILE_NAME).is_file():
            raise ArtifactError(path, f"no {FILE_NAME} in this folder", hint="point `path:` at the CSVLogger's version_N folder")
        path = path / FILE_NAME
    table = read_csv_strings(path)
    log = csv_rows(path, table, "step", hint="Lightning's CSVLogger writes a 'step' column")
    return source_from_rows(log, spec, what="rows")
