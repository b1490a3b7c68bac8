"""Parquet metric tables: columns read one at a time from the Arrow buffers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.errors import ArtifactError
from registry.readers.metrics.source import ColumnSource

if TYPE_CHECKING:
    import numpy as np


class ParquetSource(ColumnSource):
    def __init__(self, path: Path):
        import pyarrow.parquet as pq

        self.path = path
        try:
            self._file = pq.ParquetFile(path)
        except Exception as exc:
            raise ArtifactError(path, f"not a readable Parquet file: {exc}") from None
        self.columns = list(self._file.schema_arrow.names)
        self._present: dict[str, np.ndarray] = {}

    def present(self, name: str) -> np.ndarray | None:
        return self._present.get(name)

    def read(self, names: Sequence[str]) -> dict[str, Any]:
        import numpy as np

        out: dict[str, Any] = {}
        try:
            for name in names:
                values = self._numeric(name)
                if values is None:
                    column = self._file.read(columns=[name]).column(name)
                    if column.null_count:  # a null cell is "not written"
                        self._present[name] = np.asarray(column.is_valid())
                    values = column.to_numpy()
                out[name] = values
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
