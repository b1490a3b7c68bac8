"""JSONL metric tables: one JSON object per line (a row), with a `step`; and the one reader of JSON
lines for metric logs (W&B's scan_history() export reads its rows through it too).

The table is streamed: opening it reads the keys and the steps; each column a claim names is one
more pass that keeps only that column (8 bytes a row and its presence), so memory follows the columns
asked for, not the file. A key absent from a line (or `null`) is "not written"; `NaN`/`Infinity`
tokens are written values. Errors name the line."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.errors import ArtifactError
from registry.readers.metrics.source import ColumnSource

if TYPE_CHECKING:
    import numpy as np


def json_objects(path: Path, what: str = "a JSON object") -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a bad line is an ArtifactError at its line and column."""
    try:
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
                    raise ArtifactError(path, f"each line must be {what}", line=lineno)
                yield lineno, obj
    except OSError as exc:
        raise ArtifactError(path, f"cannot read: {exc}") from None


class JsonlSource(ColumnSource):
    """Columns of a metrics JSONL file; `present(name)` is where the line has the key (not null)."""

    def __init__(self, path: Path, *, step: str = "step", text_columns: Sequence[str] = ()):
        from array import array

        self.path = path
        self.step = step
        self.text_columns = set(text_columns)  # may hold text (the `where` columns)
        self._present: dict[str, np.ndarray | None] = {}
        keys: dict[str, None] = {}
        steps = array("q")
        missing: int | None = None
        for lineno, obj in json_objects(path):
            keys.update(dict.fromkeys(obj))
            value = obj.get(step)
            if value is None and missing is None:
                missing = lineno
            steps.append(_step(path, lineno, step, value) if value is not None else 0)
        if missing is not None and step in keys:
            raise ArtifactError(path, f"no {step!r} on this line", line=missing, hint="every row of the log needs its step")
        self.columns = list(keys)
        self._steps = steps

    def present(self, name: str) -> np.ndarray | None:
        return self._present.get(name)

    def read(self, names: Sequence[str]) -> dict[str, Any]:
        import numpy as np

        out: dict[str, Any] = {}
        for name in names:
            if name == self.step:
                values: Any = np.frombuffer(self._steps, dtype=np.int64) if self._steps else np.empty(0, np.int64)
                present = np.ones(values.size, dtype=bool)
            else:
                values, present = self._column(name)
            out[name] = values
            self._present[name] = None if bool(present.all()) else present
        return out

    def _column(self, name: str) -> tuple[Any, np.ndarray]:
        import math
        from array import array

        import numpy as np

        numbers = array("d")
        texts: list[Any] | None = [] if name in self.text_columns else None
        present = bytearray()
        for lineno, obj in json_objects(self.path):
            value = obj.get(name)
            present.append(value is not None)
            if texts is not None:
                texts.append(value)
            elif value is None:
                numbers.append(math.nan)
            elif isinstance(value, int | float):
                numbers.append(float(value))
            else:
                raise ArtifactError(
                    self.path,
                    f"column {name!r} is not numeric ({value!r})",
                    line=lineno,
                    hint="metric columns must hold numbers; filter rows with `where:` if the table mixes kinds",
                )
        mask = np.frombuffer(bytes(present), dtype=bool)
        if texts is not None:
            return np.asarray(texts, dtype=object), mask
        return (np.frombuffer(numbers, dtype=np.float64) if numbers else np.empty(0)), mask


def _step(path: Path, lineno: int, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or value != round(value):
        raise ArtifactError(path, f"{name!r} is {value!r}, not an integer step", line=lineno)
    if not -(2**63) <= value < 2**63:
        message = f"step {value!r} is outside the 64-bit integer range"
        raise ArtifactError(path, message, line=lineno, hint="steps must fit in int64")
    return int(value)
