"""What every training-log reader shares: per-metric series joined on step into one table.

Each log reader (TensorBoard, MLflow, Hugging Face, Lightning, W&B) reduces its file to, per metric,
the steps at which a value was written and those values in write order. They become one
step-indexed table the same way for every format:

* **outer join on step**: the table's steps are every step at which any metric was written, sorted;
  a metric not written at a step is NaN there (None in a text column);
* **last written wins**: a metric written more than once at one step keeps the value written last
  (file order; across several files, the order the reader documents);
* **not written vs. written NaN**: an empty cell or an absent key is "not written"; a written NaN or
  ±inf is a value and is kept (in the joined float column both read as NaN/inf);
* a column holding both numbers and text is bad input, reported (with its place in the file) when a
  claim reads that column;
* a metric named ``step`` that is not the log's own step index is exposed as ``step_logged``.

Row-oriented logs (Lightning CSV, ``trainer_state.json``, W&B history) apply the manifest's
``where:`` filter to their rows *before* merging rows per step, so rows of another split never
leak into the merged row of a step.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.errors import ArtifactError
from registry.readers.metrics.source import ColumnSource

if TYPE_CHECKING:
    import numpy as np

    from registry.readers.formats import ArtifactSpec

STEP_RENAMED = "step_logged"

# Row index -> (text that names the place, e.g. "log_history[3]: ", and a 1-based line or None).
Locator = Callable[[int], tuple[str, int | None]]


class ArraySource(ColumnSource):
    """A table already in memory: one array per column, `step` first, sorted and unique."""

    def __init__(
        self,
        path: Path,
        data: dict[str, np.ndarray],
        *,
        problems: dict[str, ArtifactError] | None = None,
        empty_reason: str | None = None,
        notes: Sequence[str] = (),
    ):
        self.path = path
        self._data = data
        # Per column, the rows (steps) at which it was written; a column written at every step has none.
        self._present: dict[str, np.ndarray] = {}
        self._problems = problems or {}
        self.columns = list(data) + [c for c in self._problems if c not in data]
        self.empty_reason = empty_reason
        self.notes = tuple(notes)

    def read(self, names: Sequence[str]) -> dict[str, Any]:
        for name in names:
            if name in self._problems:
                raise self._problems[name]
        return {n: self._data[n] for n in names}

    def present(self, name: str) -> np.ndarray | None:
        return self._present.get(name)

    def set_present(self, name: str, mask: np.ndarray) -> None:
        if not bool(mask.all()):
            self._present[name] = mask


def last_per_step(steps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique steps and, for each, the value written last."""
    import numpy as np

    if steps.size < 2 or bool(np.all(steps[1:] > steps[:-1])):
        return steps, values
    uniq, first_in_reversed = np.unique(steps[::-1], return_index=True)
    return uniq, values[::-1][first_in_reversed]


def join_on_step(
    series: dict[str, tuple[np.ndarray, np.ndarray]],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Outer join of per-metric (steps, values) series; `step` is the first key of the result. Also
    each column's presence: the joined rows at which it was written."""
    import numpy as np

    deduped = {name: last_per_step(s.astype(np.int64, copy=False), v) for name, (s, v) in series.items()}
    pieces = [s for s, _ in deduped.values()]
    steps = np.unique(np.concatenate(pieces)) if pieces else np.empty(0, dtype=np.int64)
    out: dict[str, np.ndarray] = {"step": steps}
    present: dict[str, np.ndarray] = {}
    for name, (s, v) in deduped.items():
        key = STEP_RENAMED if name == "step" else name
        col = np.full(steps.size, None, dtype=object) if v.dtype == object else np.full(steps.size, np.nan)
        pos = np.searchsorted(steps, s)
        col[pos] = v
        out[key] = col
        present[key] = np.zeros(steps.size, dtype=bool)
        present[key][pos] = True
    return out, present


def _array_source(
    path: Path,
    data: dict[str, np.ndarray],
    present: dict[str, np.ndarray],
    **kwargs: Any,
) -> ArraySource:
    source = ArraySource(path, data, **kwargs)
    for name, mask in present.items():
        source.set_present(name, mask)
    return source


def source_from_series(
    path: Path, series: dict[str, tuple[np.ndarray, np.ndarray]], *, empty_reason: str, notes: Sequence[str] = ()
) -> ArraySource:
    data, present = join_on_step(series)
    return _array_source(path, data, present, empty_reason=empty_reason if data["step"].size == 0 else None, notes=notes)


# ---------------------------------------------------------------------------------------------
# Row-oriented logs


@dataclass
class RowLog:
    """A log as rows: per row its step (as written), per column the rows that hold a value."""

    path: Path
    steps: list[Any]
    locate: Locator
    step_name: str = "step"
    # column -> (row indices holding a value, in increasing order; those values)
    columns: dict[str, tuple[list[int], list[Any]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, row: int, name: str, value: Any) -> None:
        rows, values = self.columns.setdefault(name, ([], []))
        rows.append(row)
        values.append(value)

    def error(self, row: int, message: str, hint: str | None = None) -> ArtifactError:
        place, line = self.locate(row)
        return ArtifactError(self.path, place + message, line=line, hint=hint)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool | int | float):
        return True
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return False
        return True
    return False


def _classify(log: RowLog, name: str, rows: list[int], values: list[Any]) -> np.ndarray | ArtifactError | None:
    """float64 for numbers, object (str) for text, an error for a mix; None if not scalar at all."""
    import numpy as np

    try:
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim == 1:
            return arr
    except (ValueError, TypeError):
        pass
    kinds = ["number" if _is_number(v) else "text" if isinstance(v, str) else "other" for v in values]
    first = kinds[0]
    if all(k == first for k in kinds):
        if first == "text":
            return np.asarray(values, dtype=object)
        if first == "number":
            return np.asarray([float(v) for v in values], dtype=np.float64)
        return None  # lists, dicts, media: not a scalar metric
    odd = next(i for i, k in enumerate(kinds) if k != first)
    place, line = log.locate(rows[odd])
    what = {"number": "a number", "text": "text", "other": "a non-scalar value"}
    return ArtifactError(
        log.path,
        f"{place}column {name!r} mixes {what[first]} and {what[kinds[odd]]}: {values[odd]!r}",
        line=line,
        hint="a metric column must hold numbers in every row that has a value",
    )


def _step_array(log: RowLog) -> np.ndarray:
    import math

    import numpy as np

    out = np.empty(len(log.steps), dtype=np.int64)
    for i, raw in enumerate(log.steps):
        value: float | None
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            raise log.error(i, f"no {log.step_name!r}", hint="every row of the log needs its step")
        try:
            value = float(raw)
        except (TypeError, ValueError):
            value = None
        if value is None or isinstance(raw, bool) or not math.isfinite(value) or value != round(value):
            raise log.error(i, f"{log.step_name!r} is {raw!r}, not an integer step")
        if not -(2**63) <= value < 2**63:
            raise log.error(i, f"step {raw} is outside the 64-bit integer range", hint="steps must fit in int64")
        out[i] = int(raw) if isinstance(raw, int) else int(value)
    return out


def source_from_rows(log: RowLog, spec: ArtifactSpec | None, *, what: str) -> ArraySource:
    """Classify columns, apply `where` to rows, merge rows per step (last written value wins)."""
    import numpy as np

    steps = _step_array(log)
    typed: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    problems: dict[str, ArtifactError] = {}
    for name, (rows, values) in log.columns.items():
        arr = _classify(log, name, rows, values)
        if arr is None:
            continue
        if isinstance(arr, ArtifactError):
            problems[name] = arr
        else:
            typed[name] = (np.asarray(rows, dtype=np.int64), arr)

    keep = np.ones(steps.size, dtype=bool)
    where = dict(spec.where) if spec is not None else {}
    for col, expected in where.items():
        if col == "step":
            keep &= steps == expected
            continue
        if col in problems:
            raise problems[col]
        if col not in typed:
            close = difflib.get_close_matches(col, list(typed), n=1)
            raise ArtifactError(
                log.path,
                f"`where` names column {col!r}, which the file does not have",
                hint=f"did you mean {close[0]!r}?" if close else None,
            )
        where_rows, where_values = typed[col]
        matches = np.zeros(steps.size, dtype=bool)
        matches[where_rows[where_values == expected]] = True
        keep &= matches

    series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, (col_rows, col_values) in typed.items():
        sel = keep[col_rows]
        series[name] = (steps[col_rows[sel]], col_values[sel])
    data, present = join_on_step(series)
    # Every kept row has a step, even one without any value: its step is in the table.
    kept_steps = np.unique(steps[keep])
    if kept_steps.size != data["step"].size:
        data, present = _reindex(data, present, kept_steps)
    empty_reason = None
    if kept_steps.size == 0:
        if steps.size == 0:
            empty_reason = f"{log.path.name} holds no {what}"
        else:
            cond = ", ".join(f"{k} == {v!r}" for k, v in where.items())
            empty_reason = f"{log.path.name}: no {what} where {cond} ({steps.size} rows in all)"
    return _array_source(log.path, data, present, problems=problems, empty_reason=empty_reason, notes=log.notes)


def _reindex(
    data: dict[str, np.ndarray], present: dict[str, np.ndarray], steps: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    import numpy as np

    out: dict[str, np.ndarray] = {"step": steps}
    out_present: dict[str, np.ndarray] = {}
    pos = np.searchsorted(steps, data["step"])
    for name, col in data.items():
        if name == "step":
            continue
        new = np.full(steps.size, None, dtype=object) if col.dtype == object else np.full(steps.size, np.nan)
        new[pos] = col
        out[name] = new
        out_present[name] = np.zeros(steps.size, dtype=bool)
        out_present[name][pos] = present[name]
    return out, out_present


def read_csv_strings(path: Path, sep: str = ",") -> dict[str, np.ndarray]:
    """A CSV as strings, one object array per column (an empty cell is "")."""
    import pandas as pd

    try:
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.EmptyDataError:
        raise ArtifactError(path, "file is empty", hint="a header row is expected") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise ArtifactError(path, f"not a readable CSV table: {str(exc).strip()}") from None
    return {str(c): frame[c].to_numpy(dtype=object) for c in frame.columns}


def csv_rows(path: Path, table: dict[str, np.ndarray], step_name: str, *, hint: str) -> RowLog:
    """A RowLog from CSV string columns; row i is on line i + 2 (line 1 is the header)."""
    import numpy as np

    if step_name not in table:
        have = ", ".join(list(table)[:12]) or "none"
        raise ArtifactError(path, f"no {step_name!r} column (columns are {have})", line=1, hint=hint)
    log = RowLog(path, list(table[step_name]), lambda i: ("", i + 2), step_name=step_name)
    for name, col in table.items():
        if name == step_name:
            continue
        present = np.flatnonzero(col != "")
        log.columns[name] = (present.tolist(), col[present].tolist())
    return log
