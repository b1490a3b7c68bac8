"""Step-indexed metric tables: CSV/TSV, JSONL and Parquet, read lazily, each column at most once.

A table has a `step` column (integers) and metric columns. Non-numeric columns may be present;
they are read only when named (a `where` filter, or a prediction that asks for them).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ArtifactError, CannotMeasure

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ..schema import ArtifactSpec


class ColumnSource:
    """Reads named columns of one file; `columns` lists what is there."""

    columns: list[str]

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
        try:
            table = self._file.read(columns=list(names))
        except Exception as exc:
            raise ArtifactError(self.path, f"cannot read columns {list(names)}: {exc}") from None
        return {n: table.column(n).to_numpy() for n in names}


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
                obj = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ArtifactError(path, f"invalid JSON: {exc}", line=lineno) from None
            if not isinstance(obj, dict):
                raise ArtifactError(path, "each line must be a JSON object", line=lineno)
            rows.append(obj)
    return pd.DataFrame.from_records(rows)


def open_source(path: Path, fmt: str) -> ColumnSource:
    if fmt == "parquet":
        return _ParquetSource(path)
    if fmt in ("csv", "tsv"):
        return _FrameSource(path, _read_csv("\t" if fmt == "tsv" else ","))
    if fmt == "jsonl":
        return _FrameSource(path, _read_jsonl)
    raise ArtifactError(path, f"unknown metrics format {fmt!r}", hint="use csv, tsv, jsonl or parquet")


SUFFIX_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".parquet": "parquet", ".pq": "parquet"}


def metrics_format(path: Path, declared: str | None) -> str:
    if declared:
        return declared
    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ArtifactError(path, f"cannot tell the metrics format from suffix {path.suffix!r}", hint="set `format:`")
    return fmt


def _as_float(path: Path, name: str, values: Any) -> np.ndarray:
    import numpy as np
    import pandas as pd

    arr = np.asarray(values)
    if arr.dtype.kind in "fiub":
        return arr.astype(np.float64, copy=False)
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
    return converted.to_numpy(dtype=np.float64)


class MetricsTable:
    """A step-indexed table: `steps` (sorted, unique) and `column(name)` aligned with them."""

    def __init__(self, path: Path, spec: ArtifactSpec, source: ColumnSource | None = None):
        self.path = path
        self.spec = spec
        self._source = source or open_source(path, metrics_format(path, spec.format))
        self._cache: dict[str, np.ndarray] = {}
        self._select: np.ndarray | None = None
        self._steps: np.ndarray | None = None

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

        if "step" not in self._source.columns:
            raise ArtifactError(
                self.path,
                "no 'step' column",
                hint=f"columns are {', '.join(self._source.columns[:12]) or 'none'}; "
                "rename the step column or alias it with `columns: {step: <name>}`"
                if "step" not in self.spec.columns
                else None,
            )
        wanted = ["step", *[c for c in self.spec.where if c != "step"]]
        missing = [c for c in wanted if c not in self._source.columns]
        if missing:
            raise ArtifactError(self.path, f"`where` names column {missing[0]!r}, which the file does not have")
        raw = self._source.read(wanted)
        mask = np.ones(len(raw["step"]), dtype=bool)
        for col, expected in self.spec.where.items():
            values = np.asarray(raw[col])
            mask &= values == expected
        step_raw = np.asarray(raw["step"])
        if step_raw.dtype.kind not in "iuf":
            step_raw = _as_float(self.path, "step", step_raw)
        step_raw = step_raw[mask]
        if step_raw.dtype.kind == "f":
            if not np.all(np.isfinite(step_raw)):
                raise ArtifactError(self.path, "column 'step' has missing or non-finite values")
            if not np.all(step_raw == np.round(step_raw)):
                raise ArtifactError(self.path, "column 'step' has non-integer values")
        steps = step_raw.astype(np.int64)
        index = np.flatnonzero(mask)
        if steps.size > 1 and not np.all(steps[1:] > steps[:-1]):
            order = np.argsort(steps, kind="stable")
            steps = steps[order]
            index = index[order]
            dup = np.flatnonzero(steps[1:] == steps[:-1])
            if dup.size:
                raise ArtifactError(
                    self.path,
                    f"step {int(steps[dup[0]])} occurs more than once",
                    hint="filter rows with `where:` (e.g. `where: {split: train}`)",
                )
        self._select = None if index.size == mask.size and np.all(index[1:] > index[:-1]) else index
        self._steps = steps
        for col in wanted:
            if col != "step":
                self._cache.setdefault(col, self._pick(np.asarray(raw[col])))

    def _pick(self, values: np.ndarray) -> np.ndarray:
        return values if self._select is None else values[self._select]

    def has(self, name: str) -> bool:
        return self._file_name(name) in self._source.columns

    def column(self, name: str) -> np.ndarray:
        """Values of `name` as float64 aligned with `steps` (NaN where missing).

        A column the file does not have cannot be measured (the prediction is inconclusive)."""
        self.steps  # noqa: B018 — selection and order are fixed first
        file_name = self._file_name(name)
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
