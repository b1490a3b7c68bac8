"""Step-indexed metric tables: CSV/TSV, JSONL and Parquet, read lazily, each column at most once.

A table has a `step` column (integers) and metric columns. Non-numeric columns may be present;
they are read only when named (a `where` filter, or a prediction that asks for them).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.errors import ArtifactError, CannotMeasure
from registry.readers.formats import FORMATS, LOG_READERS, SUFFIX_FORMATS, name_format

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from registry.runs.manifest import ArtifactSpec


class ColumnSource:
    """Reads named columns of one file; `columns` lists what is there."""

    columns: list[str]
    # Set by a source with no data at all: why a claim cannot measure anything in it.
    empty_reason: str | None = None
    # What a reader wants the user to know about the data it read (e.g. a truncated file).
    notes: tuple[str, ...] = ()

    def read(self, names: Sequence[str]) -> dict[str, Any]:
        raise NotImplementedError


class _FrameSource(ColumnSource):
    """Formats that can only be read whole: read once, then serve columns from the frame."""

    def __init__(self, path: Path, load: Callable[[Path], pd.DataFrame]):
        self.path = path
        self._frame = load(path)
        self.columns = [str(c) for c in self._frame.columns]

    def read(self, names: Sequence[str]) -> dict[str, Any]:
        return {n: self._frame[n] for n in names}


class _ParquetSource(ColumnSource):
    def __init__(self, path: Path):
        import pyarrow.parquet as pq

        self.path = path
        try:
            self._file = pq.ParquetFile(path)
        except Exception as exc:
            raise ArtifactError(path, f"not a readable Parquet file: {exc}") from None
        self.columns = list(self._file.schema_arrow.names)

    def read(self, names: Sequence[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        try:
            for name in names:
                values = self._numeric(name)
                out[name] = values if values is not None else self._file.read(columns=[name]).column(name).to_numpy()
        except Exception as exc:
            raise ArtifactError(self.path, f"cannot read columns {list(names)}: {exc}") from None
        return out

    def _numeric(self, name: str) -> Any:
        """A numeric column without nulls, read row group by row group straight into one numpy array
        (reading it whole would hold Arrow's copy and numpy's at once); None for anything else.

        Values are taken from the Arrow buffers with numpy.frombuffer: Array.to_numpy would import
        pandas on first use (a quarter of a second), which nothing else here needs."""
        import numpy as np
        import pyarrow as pa

        kind = self._file.schema_arrow.field(name).type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)) or self._file.num_row_groups < 2:
            return None
        dtype = np.dtype(kind.to_pandas_dtype())
        out = np.empty(self._file.metadata.num_rows, dtype=dtype)
        pos = 0
        for group in range(self._file.num_row_groups):
            for chunk in self._file.read_row_group(group, columns=[name], use_threads=False).column(0).chunks:
                if chunk.null_count:
                    return None  # nulls become NaN on the whole-column path
                size = len(chunk)
                out[pos : pos + size] = np.frombuffer(
                    chunk.buffers()[1], dtype=dtype, count=size, offset=chunk.offset * dtype.itemsize
                )
                pos += size
            pa.default_memory_pool().release_unused()  # Arrow's allocator keeps freed decode buffers otherwise
        return out if pos == out.size else None


def _read_csv(sep: str) -> Callable[[Path], pd.DataFrame]:
    def load(path: Path) -> pd.DataFrame:
        import pandas as pd

        try:
            return pd.read_csv(path, sep=sep, low_memory=False)
        except pd.errors.EmptyDataError:
            raise ArtifactError(path, "file is empty", hint="a header row with a 'step' column is expected") from None
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
            raise ArtifactError(path, f"not a readable table: {str(exc).strip()}") from None

    return load


def _read_jsonl(path: Path) -> pd.DataFrame:
    import json

    import pandas as pd

    rows = []
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                # Without its newline, so that an error at the end of the line has that line's column.
                obj = json.loads(raw.decode("utf-8").rstrip("\r\n"))
            except UnicodeDecodeError as exc:
                raise ArtifactError(path, "not UTF-8", line=lineno, column=exc.start + 1) from None
            except json.JSONDecodeError as exc:
                raise ArtifactError(path, f"invalid JSON: {exc.msg}", line=lineno, column=exc.colno) from None
            if not isinstance(obj, dict):
                raise ArtifactError(path, "each line must be a JSON object", line=lineno)
            rows.append(obj)
    return pd.DataFrame.from_records(rows)


def open_source(path: Path, fmt: str, spec: ArtifactSpec | None = None) -> ColumnSource:
    if fmt in LOG_READERS:
        import importlib

        module, func = LOG_READERS[fmt]
        opener: Callable[[Path, ArtifactSpec | None], ColumnSource] = getattr(
            importlib.import_module(f"{__package__}.{module}"), func
        )
        return opener(path, spec)
    if path.is_dir():
        raise ArtifactError(path, f"is a folder, not a {fmt} file", hint=_folder_hint(path))
    if fmt == "parquet":
        return _ParquetSource(path)
    if fmt in ("csv", "tsv"):
        return _FrameSource(path, _read_csv("\t" if fmt == "tsv" else ","))
    if fmt == "jsonl":
        return _FrameSource(path, _read_jsonl)
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
        return f"a folder needs `format:` (one of {', '.join(LOG_READERS)})"
    return f"set `format: {guess}`"


def metrics_format(path: Path, declared: str | None) -> str:
    if declared:
        return declared
    by_name = name_format(path.name)
    if by_name is not None:
        return by_name
    if path.is_dir():
        raise ArtifactError(path, "is a folder: cannot tell the metrics format", hint=_folder_hint(path))
    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ArtifactError(path, f"cannot tell the metrics format from suffix {path.suffix!r}", hint="set `format:`")
    return fmt


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


class MetricsTable:
    """A step-indexed table: `steps` (sorted, unique) and `column(name)` aligned with them."""

    def __init__(self, path: Path, spec: ArtifactSpec, source: ColumnSource | None = None):
        self.path = path
        self.spec = spec
        self._source = source or open_source(path, metrics_format(path, spec.format), spec)
        self._cache: dict[str, np.ndarray] = {}
        self._select: np.ndarray | None = None
        self._steps: np.ndarray | None = None

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

    def _prepare(self) -> None:
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
        raw = self._source.read(wanted)
        n_raw = len(raw[step_col])
        # No `where`: no mask, and no copies of a long step column (10^7 rows = 80 MB each).
        mask: np.ndarray | None = None
        for col, expected in self.spec.where.items():
            values = np.asarray(raw[col])
            mask = values == expected if mask is None else mask & (values == expected)
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
        if steps.size > 1 and not np.all(steps[1:] > steps[:-1]):
            order = np.argsort(steps, kind="stable")
            steps = steps[order]
            index = order if index is None else index[order]
            dup = np.flatnonzero(steps[1:] == steps[:-1])
            if dup.size:
                raise ArtifactError(
                    self.path,
                    f"step {int(steps[dup[0]])} occurs more than once",
                    hint="filter rows with `where:` (e.g. `where: {split: train}`)",
                )
        self._select = None if index is None or (index.size == n_raw and np.all(index[1:] > index[:-1])) else index
        self._steps = steps
        for col in wanted:
            if col != step_col:
                self._cache.setdefault(col, self._pick(np.asarray(raw[col])))

    def _pick(self, values: np.ndarray) -> np.ndarray:
        return values if self._select is None else values[self._select]

    def column(self, name: str) -> np.ndarray:
        """Values of `name` as float64 aligned with `steps` (NaN where missing).

        A column the file does not have cannot be measured (the prediction is inconclusive)."""
        self.steps  # noqa: B018 — selection and order are fixed first
        file_name = self._file_name(name)
        if self._source.empty_reason is not None and (file_name not in self._source.columns or not self.steps.size):
            raise CannotMeasure(self._source.empty_reason)
        if file_name not in self._source.columns:
            close = difflib.get_close_matches(file_name, self._source.columns, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise CannotMeasure(f"{self.path.name} has no column {file_name!r}{hint}")
        key = f"float:{file_name}"
        if key not in self._cache:
            raw = self._cache.get(file_name)
            if raw is None:
                raw = self._pick(self._source.read([file_name])[file_name])
            self._cache[key] = _as_float(self.path, file_name, raw)
        return self._cache[key]

    def raw_column(self, name: str) -> np.ndarray:
        """Values of a column as stored (strings allowed), aligned with `steps`."""
        import numpy as np

        self.steps  # noqa: B018
        file_name = self._file_name(name)
        if file_name not in self._source.columns:
            raise CannotMeasure(f"{self.path.name} has no column {file_name!r}")
        if file_name not in self._cache:
            self._cache[file_name] = self._pick(np.asarray(self._source.read([file_name])[file_name]))
        return self._cache[file_name]
