"""Reading a text log block by block without holding it: line-aligned blocks read into one reused
buffer, and a column parsed block by block (by pyarrow) copied into one array sized by the file's line
count. Shared by the CSV and JSONL metric readers; peak memory is the column, its presence and a block."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

BLOCK = 1 << 20  # bytes of text parsed per block


def blocks(path: Path, *, skip_first_line: bool) -> Iterator[memoryview]:
    """The file (after its first line, a header, with `skip_first_line`), in blocks of about BLOCK bytes
    that end at a line end, read into one reused buffer (so no block is ever allocated anew: fresh 1 MB
    objects fragment the heap and keep RSS up). Each block is valid until the next one is asked for."""
    buf = bytearray(BLOCK)
    with path.open("rb") as fh:
        if skip_first_line:
            fh.readline()  # a header: the parser is given the names
        kept = 0  # bytes of an unfinished line carried at the front of buf
        while True:
            with memoryview(buf) as view:
                n = fh.readinto(view[kept:])
            end = kept + n
            cut = buf.rfind(b"\n", 0, end) + 1 if n else end
            if n and cut == 0:  # a line longer than the buffer
                kept = end
                buf.extend(bytes(len(buf)))
                continue
            if cut:
                with memoryview(buf) as view, view[:cut] as block:
                    yield block
            if not n:
                return
            buf[: end - cut] = buf[cut:end]
            kept = end - cut


def line_count(path: Path) -> int:
    """An upper bound of the rows (line ends, plus one), without holding the file."""
    buf = bytearray(BLOCK)
    count = 0
    with path.open("rb") as fh:
        while n := fh.readinto(buf):
            count += buf.count(b"\n", 0, n)
    return count + 1


def fill_column(chunks: Iterable[Any], size: int, kind: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Arrow arrays (one per block) copied into one numpy array of at most `size` rows, and the presence
    of each row (None: every row); a float column is NaN where absent, a text column "".

    Values are taken from the Arrow buffers: Array.to_numpy and np.asarray(Array) import pandas (~50 MB)."""
    column = ColumnFill(size, kind)
    for chunk in chunks:
        column.add(chunk)
    return column.result()


class ColumnFill:
    """One column being copied block by block into its numpy array (see fill_column)."""

    def __init__(self, size: int, kind: Any):
        import numpy as np
        import pyarrow as pa

        self.text = kind == pa.string()
        self.dtype = np.dtype(object) if self.text else np.dtype(kind.to_pandas_dtype())
        self.values = np.empty(size, dtype=self.dtype) if not self.text else np.full(size, "", dtype=object)
        self.present = np.empty(size, dtype=bool)  # pages never written are never resident
        self.pos = 0

    def add(self, chunk: Any) -> None:
        import numpy as np

        pos, k = self.pos, len(chunk)
        validity, data = chunk.buffers()[:2]
        if chunk.null_count == 0:
            self.present[pos : pos + k] = True
        else:
            bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
            self.present[pos : pos + k] = bits[chunk.offset : chunk.offset + k]
        if self.text:
            self.values[pos : pos + k] = chunk.fill_null("").to_pylist()
        else:
            width = self.dtype.itemsize
            self.values[pos : pos + k] = np.frombuffer(data, dtype=self.dtype, count=k, offset=chunk.offset * width)
        self.pos = pos + k

    def result(self) -> tuple[np.ndarray, np.ndarray | None]:
        import numpy as np

        values, present = self.values[: self.pos], self.present[: self.pos]
        if not self.text and self.dtype.kind == "f" and not present.all():
            values[~present] = np.nan
        return values, None if bool(present.all()) else present
