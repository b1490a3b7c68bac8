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
                except ValueError:  # an integer of more digits than Python converts
                    raise ArtifactError(path, "invalid JSON: an integer has too many digits", line=lineno) from None
                except RecursionError:
                    raise ArtifactError(path, "invalid JSON: nested too deeply", line=lineno) from None
                if not isinstance(obj, dict):
                    raise ArtifactError(path, f"each line must be {what}", line=lineno)
                yield lineno, obj
    except OSError as exc:
        raise ArtifactError(path, f"cannot read: {exc}") from None


class JsonlSource(ColumnSource):
    """Columns of a metrics JSONL file; `present(name)` is where the line has the key (not null).

    Each column is parsed by pyarrow block by block (only that key: an explicit schema, other keys
    ignored); a column pyarrow refuses (NaN/Infinity tokens, a text value, a step beyond int64) is read
    by the line-by-line path, which keeps logged NaNs and names the line of a bad value."""

    def __init__(self, path: Path, *, step: str = "step", text_columns: Sequence[str] = ()):
        self.path = path
        self.step = step
        self.text_columns = set(text_columns)  # may hold text (the `where` columns)
        self._present: dict[str, np.ndarray | None] = {}
        self.columns = _keys(path)

    def present(self, name: str) -> np.ndarray | None:
        return self._present.get(name)

    def read(self, names: Sequence[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in names:
            values, present = self._arrow(name) if name not in self.text_columns else (None, None)
            if values is None or (name == self.step and present is not None):
                values, present = self._column(name)  # the line-by-line path: exact values, located errors
            out[name] = values
            self._present[name] = None if present is None or bool(present.all()) else present
        return out

    def _arrow(self, name: str) -> tuple[Any, np.ndarray | None]:
        import pyarrow as pa
        import pyarrow.json as pj

        from registry.readers.metrics.blocks import BLOCK, blocks, fill_column, line_count

        kind = pa.int64() if name == self.step else pa.float64()
        schema = pa.schema([(name, kind)])
        read = pj.ReadOptions(use_threads=False, block_size=4 * BLOCK)
        parse = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")

        def chunks() -> Iterator[Any]:
            for block in blocks(self.path, skip_first_line=False):
                table = pj.read_json(pa.BufferReader(pa.py_buffer(block)), read_options=read, parse_options=parse)
                yield table.column(0).combine_chunks()
                del table
                pa.default_memory_pool().release_unused()

        try:
            return fill_column(chunks(), line_count(self.path), kind)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None, None

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
            if name == self.step:
                if value is None:
                    hint = "every row of the log needs its step"
                    raise ArtifactError(self.path, f"no {name!r} on this line", line=lineno, hint=hint)
                numbers.append(_step(self.path, lineno, name, value))
            elif texts is not None:
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
        values = np.frombuffer(numbers, dtype=np.float64) if numbers else np.empty(0)
        return (values.astype(np.int64) if name == self.step else values), mask


def _keys(path: Path) -> list[str]:
    """Every key of any line, in first-seen order (pyarrow's inferred schema per block; the
    line-by-line path when pyarrow refuses a block)."""
    import pyarrow as pa
    import pyarrow.json as pj

    from registry.readers.metrics.blocks import BLOCK, blocks

    keys: dict[str, None] = {}
    try:
        for block in blocks(path, skip_first_line=False):
            options = pj.ReadOptions(use_threads=False, block_size=4 * BLOCK)
            table = pj.read_json(pa.BufferReader(pa.py_buffer(block)), read_options=options)
            keys.update(dict.fromkeys(table.column_names))
            del table
            pa.default_memory_pool().release_unused()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError):  # a key that is not UTF-8, say
        keys = {}
        for _, obj in json_objects(path):
            keys.update(dict.fromkeys(obj))
    return list(keys)


def _step(path: Path, lineno: int, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or value != round(value):
        raise ArtifactError(path, f"{name!r} is {value!r}, not an integer step", line=lineno)
    if not -(2**63) <= value < 2**63:
        message = f"step {value!r} is outside the 64-bit integer range"
        raise ArtifactError(path, message, line=lineno, hint="steps must fit in int64")
    return int(value)
