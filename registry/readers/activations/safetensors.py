"""`.safetensors` activation files, read without torch (bf16 widened to float32), memory-mapped."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.errors import ArtifactError, clean, quoted
from registry.readers.activations.store import ArtifactOptions, TensorStore
from registry.readers.activations.tensor import MappedTensor, Tensor, _FileMap, _prod

if TYPE_CHECKING:

    pass


_ST_DTYPES = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "BF16": "<u2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U8": "u1",
    "U16": "<u2",
    "U32": "<u4",
    "U64": "<u8",
    "BOOL": "?",
}


def _dim(value: Any) -> int:
    """A shape dimension or data offset: a non-negative JSON integer (not a float, bool or string)."""
    if type(value) is not int or value < 0:
        raise ValueError(value)
    return value


def _read_header(path: Path) -> tuple[Any, int, int]:
    """The parsed JSON header, its length and the file's size."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise ValueError("shorter than its 8-byte header length")
            (n,) = struct.unpack("<Q", head)
            if n > size - 8 or n > 100_000_000:
                raise ValueError(f"header length {n} exceeds the file")
            return json.loads(fh.read(n)), n, size
    except RecursionError:
        raise ArtifactError(path, "not a readable safetensors file: its JSON header is nested too deeply") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ArtifactError(path, f"not a readable safetensors file: {clean(str(exc), 120)}",
                            hint="the file may be truncated") from None


class SafetensorsStore(TensorStore):
    """The safetensors format, parsed here: an 8-byte header length, a JSON header, raw data."""

    def __init__(self, path: Path, options: ArtifactOptions | None = None):
        import numpy as np

        self.path = path
        self.options = options or ArtifactOptions()
        header, n, size = _read_header(path)
        if not isinstance(header, dict):
            raise ArtifactError(path, "safetensors header is not a JSON object")
        metadata = header.pop("__metadata__", None) or {}
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            raise ArtifactError(path, "safetensors __metadata__ is not a JSON object of strings")
        self.metadata: dict[str, str] = metadata
        self._data_start = 8 + n
        self._entries: dict[str, dict[str, Any]] = {}
        for name, entry in header.items():
            shown = quoted(name)
            try:
                dtype = entry["dtype"]
                shape = tuple(_dim(d) for d in entry["shape"])
                begin, end = (_dim(x) for x in entry["data_offsets"])
            except (KeyError, TypeError, ValueError):
                raise ArtifactError(path, f"malformed header entry for tensor {shown}",
                                    hint="shape and data_offsets are lists of non-negative integers") from None
            if not isinstance(dtype, str) or dtype not in _ST_DTYPES:
                raise ArtifactError(path, f"tensor {shown} has unsupported dtype {clean(str(dtype), 40)}")
            itemsize = np.dtype(_ST_DTYPES[dtype]).itemsize
            if end < begin or end - begin != _prod(shape) * itemsize:
                raise ArtifactError(
                    path,
                    f"tensor {shown}: data_offsets [{begin}, {end}] do not hold {dtype} {list(shape)} "
                    f"({_prod(shape) * itemsize} bytes)",
                )
            if self._data_start + end > size:
                raise ArtifactError(
                    path,
                    f"tensor {name!r} extends past the end of the file ({self._data_start + end} > {size} bytes)",
                    hint="the file is truncated",
                )
            self._entries[name] = {"dtype": dtype, "shape": shape, "begin": begin}
        self._axes: dict[str, list[str]] = {}
        if "axes" in self.metadata:
            try:
                axes = json.loads(self.metadata["axes"])
                self._axes = {str(k): [str(a) for a in v] for k, v in axes.items()}
            except (ValueError, AttributeError, TypeError):
                raise ArtifactError(path, "metadata 'axes' is not a JSON object of name -> list of axis names") from None
        self._map = _FileMap(path)

    def _names(self) -> list[str]:
        return list(self._entries)

    def _tensor(self, name: str) -> Tensor:
        e = self._entries[name]
        return MappedTensor(name, self._map, self._data_start + e["begin"], _ST_DTYPES[e["dtype"]], e["shape"],
                            e["dtype"], bf16=e["dtype"] == "BF16")

    def _file_axes(self, name: str) -> list[str] | None:
        return self._axes.get(name)

    def dtype(self, name: str) -> str:
        """The stored dtype label (e.g. BF16)."""
        return str(self._entries[self.resolve(name)]["dtype"])

    def close(self) -> None:
        self._map.close()
