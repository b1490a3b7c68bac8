"""CSV and TSV metric tables, read in a stream with pyarrow, only the columns a claim names.

Memory stays near the size of the columns asked for (a 300 MB log with dozens of columns is never
held whole; `benchmarks/bench_metrics_memory.py` measures it against pandas): each asked column is
parsed block by block into numpy pieces that are copied into one array at the end, one piece at a
time. An empty cell is "not written" (the column's presence), `nan`/`inf` are written values. A value
that does not parse, or a step outside int64, is an error at its line (line 1 is the header).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.errors import ArtifactError
from registry.readers.metrics.blocks import BLOCK, ColumnFill, blocks, line_count
from registry.readers.metrics.source import ColumnSource

if TYPE_CHECKING:
    import numpy as np



class CsvSource(ColumnSource):
    """Columns of a CSV/TSV file; `present(name)` is where the column has a non-empty cell."""

    def __init__(self, path: Path, sep: str = ",", *, step: str = "step", text_columns: Sequence[str] = ()):
        self.path = path
        self.sep = sep
        self.step = step
        self.text_columns = set(text_columns)  # read as strings (the `where` columns)
        self.columns = _header(path, sep)
        self._present: dict[str, np.ndarray | None] = {}

    def present(self, name: str) -> np.ndarray | None:
        return self._present.get(name)

    def read(self, names: Sequence[str]) -> dict[str, Any]:
        return self._collect(names, self._together(names) if len(names) > 1 else None)

    def read_also(self, names: Sequence[str], also: Sequence[str]) -> dict[str, Any]:
        extra = [name for name in dict.fromkeys(also) if name not in names and name in self.columns]
        together = self._together([*names, *extra]) if extra else None
        if together is None:
            return self.read(names)
        return self._collect([*names, *extra], together)

    def _collect(
        self, names: Sequence[str], together: dict[str, tuple[np.ndarray, np.ndarray | None]] | None
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in names:
            values, present = together[name] if together is not None else self._column(name)
            if name == self.step and present is not None:
                import numpy as np

                line = int(np.flatnonzero(~present)[0]) + 2
                raise ArtifactError(self.path, f"no {name!r} in this row", line=line, hint="every row needs its step")
            out[name] = values
            self._present[name] = None if present is None or bool(present.all()) else present
        return out

    def _kind(self, name: str) -> Any:
        import pyarrow as pa

        return pa.string() if name in self.text_columns else pa.int64() if name == self.step else pa.float64()

    def _together(self, names: Sequence[str]) -> dict[str, tuple[np.ndarray, np.ndarray | None]] | None:
        """Several columns in one pass over the file (the parse of a row costs the same for one column or
        all); None if any of them does not parse, which the column-by-column path then locates."""
        import pyarrow as pa

        kinds = {name: self._kind(name) for name in dict.fromkeys(names)}
        try:
            return _stream_many(self.path, self.sep, self.columns, kinds)
        except pa.ArrowInvalid:
            return None

    def _column(self, name: str) -> tuple[np.ndarray, np.ndarray | None]:
        import pyarrow as pa

        kind = self._kind(name)
        try:
            return _stream_many(self.path, self.sep, self.columns, {name: kind})[name]
        except pa.ArrowInvalid as exc:
            message = str(exc)
        if kind == pa.int64():
            try:  # steps written as "100.0": the table checks they are integers
                values, present = _stream_many(self.path, self.sep, self.columns, {name: pa.float64()})[name]
            except pa.ArrowInvalid:
                pass
            else:
                if bool((abs(values[present] if present is not None else values) < 2.0**53).all()):
                    return values, present
        raise self._located(name, message)

    def _located(self, name: str, arrow_message: str) -> ArtifactError:
        """The first line whose cell in `name` does not parse (found by a slow scan, on this error path only)."""
        import csv

        col = self.columns.index(name)
        with self.path.open(newline="", encoding="utf-8", errors="replace") as fh:
            reader = csv.reader(fh, delimiter=self.sep)
            try:
                return self._first_bad(reader, name, col) or ArtifactError(
                    self.path, f"not a readable table: {arrow_message}"
                )
            except csv.Error as exc:  # e.g. a cell longer than the csv module's field limit
                return ArtifactError(self.path, f"not a readable table: {exc}", line=reader.line_num)

    def _first_bad(self, reader: Any, name: str, col: int) -> ArtifactError | None:
        """The error of the first row that is not a table row or whose cell in `name` does not parse."""
        next(reader, None)
        for row in reader:
            line = reader.line_num
            if len(row) != len(self.columns):
                return ArtifactError(self.path, f"row has {len(row)} cells, the header {len(self.columns)}", line=line)
            cell = row[col].strip()
            if cell and not _parses(cell, integer=name == self.step):
                if name == self.step and _is_int(cell):
                    message = f"step {cell} is outside the 64-bit integer range"
                    return ArtifactError(self.path, message, line=line, hint="steps must fit in int64")
                return ArtifactError(
                    self.path,
                    f"column {name!r} is not numeric ({cell!r})",
                    line=line,
                    hint="metric columns must hold numbers; filter rows with `where:` if the table mixes kinds",
                )
        return None


def _is_int(cell: str) -> bool:
    try:
        int(cell)
    except ValueError:
        return False
    return True


def _parses(cell: str, *, integer: bool) -> bool:
    if integer:
        return _is_int(cell) and -(2**63) <= int(cell) < 2**63 or _integral_float(cell)
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _integral_float(cell: str) -> bool:
    try:
        value = float(cell)
    except ValueError:
        return False
    return value == value and abs(value) < 2.0**53 and value == round(value)


def _header(path: Path, sep: str) -> list[str]:
    import csv

    try:
        with path.open(newline="", encoding="utf-8") as fh:
            first = next(csv.reader(fh, delimiter=sep), None)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ArtifactError(path, f"cannot read: {exc}") from None
    if not first:
        raise ArtifactError(path, "file is empty", hint="a header row with a 'step' column is expected")
    return [c.strip() for c in first]


def _batches(path: Path, sep: str, names: list[str], kinds: dict[str, Any]) -> Iterator[Any]:
    """The columns `kinds` names, block by block, each block parsed on its own (pyarrow's own streaming
    reader keeps a read-ahead of ~100 MB on a 300 MB file). A quoted cell spanning lines is not
    supported here (metric logs have none)."""
    import pyarrow as pa
    import pyarrow.csv as pc

    read = pc.ReadOptions(use_threads=False, column_names=names, block_size=4 * BLOCK)
    parse = pc.ParseOptions(delimiter=sep)
    convert = pc.ConvertOptions(
        include_columns=list(kinds), column_types=kinds, null_values=[""], strings_can_be_null=True
    )
    for block in blocks(path, skip_first_line=True):
        table = pc.read_csv(pa.BufferReader(pa.py_buffer(block)), read_options=read, parse_options=parse, convert_options=convert)
        yield [column.combine_chunks() for column in table.columns]
        del table
        pa.default_memory_pool().release_unused()  # Arrow's allocator keeps freed parse buffers otherwise


def _stream_many(
    path: Path, sep: str, names: list[str], kinds: dict[str, Any]
) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Columns as numpy (text as an object array, "" where empty) with their presence (None: every row),
    in one pass."""
    size = line_count(path)
    fills = {name: ColumnFill(size, kind) for name, kind in kinds.items()}
    for chunks in _batches(path, sep, names, kinds):
        for fill, chunk in zip(fills.values(), chunks, strict=True):
            fill.add(chunk)
    return {name: fill.result() for name, fill in fills.items()}
