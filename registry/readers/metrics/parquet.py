"""Parquet metric tables: columns read one at a time from the Arrow buffers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.errors import ArtifactError
from registry.readers.metrics.source import ColumnSource

if TYPE_CHECKING:
    import numpy as np


# Rows per batch of a numeric column, and bytes per read of the file: a few MB in flight at most.
BATCH_ROWS = 1 << 16
STREAM_BYTES = 1 << 20


class ParquetSource(ColumnSource):
    def __init__(self, path: Path):
        # pyarrow.parquet's reader class, without pyarrow.parquet: that module imports pyarrow.fs (the
        # S3, GCS, HDFS and Azure bindings, OpenSSL), 12 ms and 8.5 MB of every process that reads a log.
        from pyarrow._parquet import ParquetReader

        self.path = path
        self._file = ParquetReader()
        try:
            # A buffered stream reads a column chunk piece by piece, not whole (see `_numeric`).
            self._file.open(str(path), buffer_size=STREAM_BYTES, pre_buffer=False)
        except Exception as exc:
            raise ArtifactError(path, f"not a readable Parquet file: {exc}") from None
        self.columns = list(self._file.schema_arrow.names)
        self._present: dict[str, np.ndarray] = {}

    def _indices(self, name: str) -> list[int]:
        """The Parquet leaf columns of a top-level column (one, unless it is nested)."""
        return [i for i, path in enumerate(self._file.column_paths) if path[0] == name]

    def present(self, name: str) -> np.ndarray | None:
        return self._present.get(name)

    def read(self, names: Sequence[str]) -> dict[str, Any]:
        import numpy as np

        out: dict[str, Any] = {}
        try:
            for name in names:
                values = self._numeric(name)
                if values is None:
                    column = self._file.read_all(column_indices=self._indices(name)).column(name)
                    if column.null_count:  # a null cell is "not written"
                        self._present[name] = np.asarray(column.is_valid())
                    values = column.to_numpy()
                out[name] = values
        except Exception as exc:
            raise ArtifactError(self.path, f"cannot read columns {list(names)}: {exc}") from None
        return out

    def _numeric(self, name: str) -> Any:
        """A numeric column without nulls, streamed in batches of BATCH_ROWS straight into one numpy
        array; None for anything else.

        Reading a column whole, or a row group at a time, would hold Arrow's decoded copy beside numpy's
        (tens of MB for a long log). Small batches read through a buffered stream keep that to a few
        MB, reused from batch to batch instead of freshly allocated (first touches of memory are what
        reading costs). Values come from the Arrow buffers with numpy.frombuffer: Array.to_numpy would
        import pandas on first use (a quarter of a second), which nothing else here needs."""
        import numpy as np
        import pyarrow as pa

        kind = self._file.schema_arrow.field(name).type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            return None
        dtype = np.dtype(kind.to_pandas_dtype())
        out = np.empty(self._file.metadata.num_rows, dtype=dtype)
        pos = 0
        groups = range(self._file.num_row_groups)
        for batch in self._file.iter_batches(BATCH_ROWS, groups, column_indices=self._indices(name), use_threads=False):
            chunk = batch.column(0)
            if chunk.null_count:
                return None  # nulls become NaN on the whole-column path
            size = len(chunk)
            out[pos : pos + size] = np.frombuffer(
                chunk.buffers()[1], dtype=dtype, count=size, offset=chunk.offset * dtype.itemsize
            )
            pos += size
        pa.default_memory_pool().release_unused()  # Arrow's allocator would keep the batch buffers otherwise
        return out if pos == out.size else None
