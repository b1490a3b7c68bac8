"""Step-indexed metric tables, read lazily, each column at most once; the reader of each format is
picked here from registry/readers/formats.py (CSV/TSV, JSONL and Parquet, and the training-log formats).

A table has a `step` column (integers) and metric columns. Non-numeric columns may be present;
they are read only when named (a `where` filter, or a prediction that asks for them)."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.errors import ArtifactError, CannotMeasure
from registry.files import Boundary, contained
from registry.readers.formats import FORMATS, LOG_FORMATS, SUFFIX_FORMATS, name_format
from registry.readers.metrics.csv import CsvSource
from registry.readers.metrics.jsonl import JsonlSource
from registry.readers.metrics.parquet import ParquetSource
from registry.readers.metrics.source import ColumnSource

if TYPE_CHECKING:
    import numpy as np

    from registry.readers.formats import ArtifactSpec


def _log_opener(fmt: str) -> Callable[[Path, ArtifactSpec | None], ColumnSource] | None:
    """The reader of a training-log format (each imported only when its format is read)."""
    if fmt == "tensorboard":
        from registry.readers.metrics.tensorboard import open_tensorboard

        return open_tensorboard
    if fmt == "mlflow":
        from registry.readers.metrics.mlflow import open_mlflow

        return open_mlflow
    if fmt == "hf_trainer_state":
        from registry.readers.metrics.hf import open_trainer_state

        return open_trainer_state
    if fmt == "lightning":
        from registry.readers.metrics.lightning import open_lightning

        return open_lightning
    if fmt == "wandb":
        from registry.readers.metrics.wandb import open_wandb

        return open_wandb
    return None


def open_source(path: Path, fmt: str, spec: ArtifactSpec | None = None) -> ColumnSource:
    opener = _log_opener(fmt)
    if opener is not None:
        return opener(path, spec)
    if path.is_dir():
        raise ArtifactError(path, f"is a folder, not a {fmt} file", hint=_folder_hint(path))
    if fmt == "parquet":
        return ParquetSource(path)
    step = spec.columns.get("step", "step") if spec is not None else "step"
    text = list(spec.where) if spec is not None else []
    if fmt in ("csv", "tsv"):
        return CsvSource(path, "\t" if fmt == "tsv" else ",", step=step, text_columns=text)
    if fmt == "jsonl":
        return JsonlSource(path, step=step, text_columns=text)
    raise ArtifactError(path, f"unknown metrics format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")


def _folder_hint(path: Path) -> str:
    """`format:` to set for a folder, guessed from what it holds."""
    if next(path.rglob("events.out.tfevents.*"), None) is not None:
        guess = "tensorboard"
    elif any(next(path.glob(g), None) is not None for g in ("metrics", "*/metrics", "*/*/metrics")):
        guess = "mlflow"
    elif (path / "trainer_state.json").is_file():
        guess = "hf_trainer_state"
    elif (path / "metrics.csv").is_file():
        guess = "lightning"
    else:
        return f"a folder needs `format:` (one of {', '.join(LOG_FORMATS)})"
    return f"set `format: {guess}`"


def metrics_format(path: Path, declared: str | None) -> str:
    if declared:
        return declared
    by_name = name_format(path.name)
    if by_name is not None:
        return by_name
    if path.is_dir():
        raise ArtifactError(path, "is a folder: cannot tell the metrics format", hint=_folder_hint(path))
    sniffed = sniff_format(path)
    if sniffed is not None:
        return sniffed
    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ArtifactError(path, f"cannot tell the metrics format from suffix {path.suffix!r}", hint="set `format:`")
    return fmt


def sniff_format(path: Path) -> str | None:
    """A training-log format told by the file's first line, for an artifact without `format:`: a W&B
    UI export (`Step`, `<run> - <metric>` columns) or scan_history rows (`_step`), Lightning's CSVLogger
    (`metrics.csv` with `step` and `epoch`), a Hugging Face trainer_state.json under another name."""
    import csv
    import json

    suffix = path.suffix.lower()
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            first = fh.readline(1 << 16)
    except (OSError, UnicodeDecodeError):
        return None
    if suffix in (".csv", ".tsv"):
        header = next(csv.reader([first], delimiter="\t" if suffix == ".tsv" else ","), [])
        if "step" not in header and ("Step" in header or "_step" in header):
            return "wandb"
        if "step" not in header and any(" - " in c for c in header):
            return "wandb"
        if path.name == "metrics.csv" and {"step", "epoch"} <= set(header):
            return "lightning"
    if suffix == ".json" and '"log_history"' in path.read_text(encoding="utf-8", errors="replace")[: 1 << 20]:
        return "hf_trainer_state"
    if suffix == ".jsonl":
        try:
            row = json.loads(first)
        except ValueError:
            return None
        if isinstance(row, dict) and "_step" in row and "step" not in row:
            return "wandb"
    return None


def _as_float(path: Path, name: str, values: Any) -> np.ndarray:
    import numpy as np

    arr = np.asarray(values)
    if arr.dtype.kind in "fiub":
        return arr.astype(np.float64, copy=False)
    import pandas as pd  # only for columns that are not numbers already (it takes a quarter second to import)

    series = pd.Series(values)
    converted = pd.to_numeric(series, errors="coerce")
    bad = converted.isna() & series.notna() & (series.astype(str).str.strip() != "")
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ArtifactError(
            path,
            f"column {name!r} is not numeric (row {row + 1}: {series.iloc[row]!r})",
            hint="metric columns must hold numbers; filter rows with `where:` if the table mixes kinds",
        )
    out: np.ndarray = converted.to_numpy(dtype=np.float64)
    return out


# Rows compared at a time by `_increasing`: its temporaries stay at 1 MB, reused from block to block.
_CHECK_ROWS = 1 << 20


def _increasing(steps: np.ndarray) -> bool:
    """Strictly increasing, block by block: one comparison of the whole column would allocate a fresh
    boolean array as long as it (10 MB at 10^7 rows), whose first touch costs more than the compare."""
    import numpy as np

    for start in range(0, steps.size - 1, _CHECK_ROWS):
        stop = min(steps.size - 1, start + _CHECK_ROWS)
        if not np.all(steps[start + 1 : stop + 1] > steps[start:stop]):
            return False
    return True


def _matches(values: np.ndarray, expected: object) -> np.ndarray:
    """Rows whose `where` cell equals `expected` (a text cell "1" or "1.0" equals the number 1)."""
    import numpy as np

    if values.dtype != object or isinstance(expected, str):
        return np.asarray(values == expected, dtype=bool)
    if isinstance(expected, bool):
        return np.asarray([str(v).strip().lower() == str(expected).lower() for v in values], dtype=bool)
    def number(v: object) -> float | None:
        try:
            return float(v)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None

    return np.asarray([number(v) == expected for v in values], dtype=bool)


_VALIDATION = ("val", "eval", "valid", "test")


def nearest_column(name: str, columns: list[str]) -> str | None:
    """The column a misspelt `name` most likely meant; for a loss, the training loss before validation ones."""
    close = difflib.get_close_matches(name, columns, n=5, cutoff=0.5)
    if "loss" in name and not any(v in name.lower() for v in _VALIDATION):
        losses = [c for c in columns if "loss" in c.lower() and not any(v in c.lower() for v in _VALIDATION)]
        ranked = [c for c in close if c in losses] or sorted(losses, key=len)
        if ranked:
            return ranked[0]
    return close[0] if close else None


# The columns claims asked for, by (reader, header): what the next file with that header will be asked.
_ASKED: dict[tuple[str, ...], set[str]] = {}
_ASKED_HEADERS = 1000


class MetricsTable:
    """A step-indexed table: `steps` (sorted, unique) and `column(name)` aligned with them."""

    def __init__(self, path: Path, spec: ArtifactSpec, source: ColumnSource | None = None, boundary: Boundary | None = None):
        self.path = path
        self.spec = spec
        if source is None:
            # Every file of the artifact (a log folder's too) resolves inside the run: registry.files.contained.
            contained(path, boundary or Boundary.around(path), folder=True)
        self._source = source or open_source(path, metrics_format(path, spec.format), spec)
        self._cache: dict[str, np.ndarray] = {}
        self._select: np.ndarray | None = None
        self._steps: np.ndarray | None = None
        self._header: tuple[str, ...] | None = None

    @property
    def notes(self) -> tuple[str, ...]:
        """What the reader wants known about the data (e.g. a truncated log read up to the cut)."""
        return self._source.notes

    def available(self) -> list[str]:
        """Column names a claim may use: the file's columns and the declared aliases."""
        return sorted(set(self._source.columns) | set(self.spec.columns))

    def _file_name(self, name: str) -> str:
        return self.spec.columns.get(name, name)

    @property
    def steps(self) -> np.ndarray:
        if self._steps is None:
            self._prepare()
        assert self._steps is not None
        return self._steps

    def _prepare(self, also: str | None = None) -> None:
        """Read the steps (and `where` columns), and with them column `also`: one pass over a text log."""
        import numpy as np

        # The step column may be aliased like any other (`columns: {step: iter}`).
        step_col = self._file_name("step")
        if step_col not in self._source.columns:
            columns = ", ".join(self._source.columns[:12]) or "none"
            raise ArtifactError(
                self.path,
                "no 'step' column" if step_col == "step" else f"no column {step_col!r} (the manifest's alias for step)",
                hint=f"columns are {columns}; rename the step column or alias it with `columns: {{step: <name>}}`",
            )
        wanted = [step_col, *[c for c in self.spec.where if c != step_col]]
        missing = [c for c in wanted if c not in self._source.columns]
        if missing:
            raise ArtifactError(self.path, f"`where` names column {missing[0]!r}, which the file does not have")
        if also is not None and also not in wanted and also in self._source.columns:
            wanted.append(also)
        # Columns claims asked for in other files with this header (the runs of a sweep): read in the
        # same pass, at little cost, rather than in a pass each when asked for.
        likely = sorted(_ASKED.get(self._header_key(), set()) - set(wanted))
        raw = self._source.read_also(wanted, likely) if likely else self._source.read(wanted)
        n_raw = len(raw[step_col])
        # No `where`: no mask, and no copies of a long step column (10^7 rows = 80 MB each).
        mask: np.ndarray | None = None
        for col, expected in self.spec.where.items():
            hit = _matches(np.asarray(raw[col]), expected)
            mask = hit if mask is None else mask & hit
        step_raw = np.asarray(raw[step_col])
        if step_raw.dtype.kind not in "iuf":
            step_raw = _as_float(self.path, step_col, step_raw)
        if mask is not None:
            step_raw = step_raw[mask]
        if step_raw.dtype.kind == "f":
            if not np.all(np.isfinite(step_raw)):
                raise ArtifactError(self.path, "column 'step' has missing or non-finite values")
            if not np.all(step_raw == np.round(step_raw)):
                raise ArtifactError(self.path, "column 'step' has non-integer values")
        steps = step_raw.astype(np.int64, copy=False)
        index = np.flatnonzero(mask) if mask is not None else None
        if not _increasing(steps):
            order = np.argsort(steps, kind="stable")
            steps = steps[order]
            index = order if index is None else index[order]
            dup = np.flatnonzero(steps[1:] == steps[:-1])
            if dup.size:
                raise ArtifactError(
                    self.path,
                    f"step {int(steps[dup[0]])} occurs more than once",
                    hint="filter rows with `where:` (e.g. `where: {split: train}`), or for a log with one row per "
                    "logging call (Lightning's CSVLogger) set `format: lightning`",
                )
        self._select = None if index is None or (index.size == n_raw and np.all(index[1:] > index[:-1])) else index
        self._steps = steps
        for col in raw:
            if col != step_col:
                self._cache.setdefault(col, self._pick(np.asarray(raw[col])))

    def _header_key(self) -> tuple[str, ...]:
        if self._header is None:
            self._header = (type(self._source).__name__, *self._source.columns)
        return self._header

    def _pick(self, values: np.ndarray) -> np.ndarray:
        return values if self._select is None else values[self._select]

    def series(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The column as the series of its own written rows: (steps, float64 values). A step at which
        only other columns were written is absent, not NaN; a NaN here was logged as NaN."""
        values = self.column(name)
        present = self.present(name)
        if present is None:
            return self.steps, values
        return self.steps[present], values[present]

    def present(self, name: str) -> np.ndarray | None:
        """The rows of `steps` at which `name` was written (None: every row)."""
        file_name = self._file_name(name)
        key = f"present:{file_name}"
        if key not in self._cache:
            self.column(name)
            mask = self._source.present(file_name)
            if mask is not None:
                self._cache[key] = self._pick(mask)
        return self._cache.get(key)

    def column(self, name: str) -> np.ndarray:
        """Values of `name` as float64 aligned with `steps` (NaN where missing).

        A column the file does not have cannot be measured (the prediction is inconclusive)."""
        file_name = self._file_name(name)
        if self._steps is None:  # selection and order are fixed first
            self._prepare(also=file_name)
        if self._source.empty_reason is not None and (file_name not in self._source.columns or not self.steps.size):
            raise CannotMeasure(self._source.empty_reason)
        if file_name not in self._source.columns:
            close = nearest_column(file_name, self._source.columns)
            hint = f"; did you mean {close!r}?" if close else ""
            raise CannotMeasure(f"{self.path.name} has no column {file_name!r}{hint}")
        header = self._header_key()
        if header in _ASKED or len(_ASKED) < _ASKED_HEADERS:
            _ASKED.setdefault(header, set()).add(file_name)
        key = f"float:{file_name}"
        if key not in self._cache:
            raw = self._cache.get(file_name)
            if raw is None:
                raw = self._pick(self._source.read([file_name])[file_name])
            self._cache[key] = _as_float(self.path, file_name, raw)
        return self._cache[key]
