"""Activation tensors from `.npy` (memory-mapped), `.npz` and `.safetensors`, without torch.

Tensors are addressed by name: the `.npy` file stem, npz keys, safetensors keys. Safetensors files
are parsed here (the format is an 8-byte header length, a JSON header, then raw little-endian data)
and memory-mapped, which also gives bf16 support: numpy has no bf16, so those are widened to
float32 on access.
"""

from __future__ import annotations

import difflib
import json
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ArtifactError, CannotMeasure

if TYPE_CHECKING:
    import numpy as np

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


def widen_bf16(raw: np.ndarray) -> np.ndarray:
    """bf16 bit patterns (uint16) -> float32: bf16 is the top half of a float32."""
    import numpy as np

    return (np.asarray(raw).astype(np.uint32) << 16).view(np.float32)


class TensorStore:
    """Named tensors of one file."""

    path: Path

    def names(self) -> list[str]:
        raise NotImplementedError

    def shape(self, name: str) -> tuple[int, ...]:
        raise NotImplementedError

    def array(self, name: str) -> np.ndarray:
        """The tensor as a numpy array (memory-mapped where the format allows); bf16 widened."""
        raise NotImplementedError

    def axes(self, name: str) -> list[str] | None:
        return None

    def _missing(self, name: str) -> CannotMeasure:
        close = difflib.get_close_matches(name, self.names(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return CannotMeasure(f"{self.path.name} has no tensor {name!r}{hint}")


class NpyStore(TensorStore):
    def __init__(self, path: Path):
        import numpy as np

        self.path = path
        try:
            self._array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise ArtifactError(path, f"not a readable .npy file: {exc}", hint="the file may be truncated") from None

    def names(self) -> list[str]:
        return [self.path.stem]

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self.array(name).shape)

    def array(self, name: str) -> np.ndarray:
        if name != self.path.stem:
            raise self._missing(name)
        return self._array


class NpzStore(TensorStore):
    def __init__(self, path: Path):
        import zipfile

        import numpy as np

        self.path = path
        try:
            self._npz = np.load(path, allow_pickle=False)
            self._names = sorted(k for k in self._npz.files)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise ArtifactError(path, f"not a readable .npz file: {exc}", hint="the file may be truncated") from None
        self._cache: dict[str, np.ndarray] = {}

    def names(self) -> list[str]:
        return self._names

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self.array(name).shape)

    def array(self, name: str) -> np.ndarray:
        import zipfile

        if name not in self._names:
            raise self._missing(name)
        if name not in self._cache:
            try:
                self._cache[name] = self._npz[name]
            except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
                raise ArtifactError(self.path, f"cannot read tensor {name!r}: {exc}") from None
        return self._cache[name]


class SafetensorsStore(TensorStore):
    def __init__(self, path: Path):
        self.path = path
        try:
            size = path.stat().st_size
            with path.open("rb") as fh:
                head = fh.read(8)
                if len(head) < 8:
                    raise ValueError("shorter than its 8-byte header length")
                (n,) = struct.unpack("<Q", head)
                if n > size - 8 or n > 100_000_000:
                    raise ValueError(f"header length {n} exceeds the file")
                header = json.loads(fh.read(n))
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise ArtifactError(path, f"not a readable safetensors file: {exc}", hint="the file may be truncated") from None
        if not isinstance(header, dict):
            raise ArtifactError(path, "safetensors header is not a JSON object")
        self._metadata: dict[str, str] = header.pop("__metadata__", None) or {}
        self._data_start = 8 + n
        self._entries: dict[str, dict[str, Any]] = {}
        for name, entry in header.items():
            try:
                dtype = entry["dtype"]
                shape = tuple(int(d) for d in entry["shape"])
                begin, end = (int(x) for x in entry["data_offsets"])
            except (KeyError, TypeError, ValueError):
                raise ArtifactError(path, f"malformed header entry for tensor {name!r}") from None
            if dtype not in _ST_DTYPES:
                raise ArtifactError(path, f"tensor {name!r} has unsupported dtype {dtype}")
            import numpy as np

            itemsize = np.dtype(_ST_DTYPES[dtype]).itemsize
            count = 1
            for d in shape:
                count *= d
            if end - begin != count * itemsize:
                raise ArtifactError(path, f"tensor {name!r}: data size does not match shape {list(shape)}")
            if self._data_start + end > size:
                raise ArtifactError(
                    path,
                    f"tensor {name!r} extends past the end of the file ({self._data_start + end} > {size} bytes)",
                    hint="the file is truncated",
                )
            self._entries[name] = {"dtype": dtype, "shape": shape, "begin": begin}
        self._axes: dict[str, list[str]] = {}
        if "axes" in self._metadata:
            try:
                axes = json.loads(self._metadata["axes"])
                self._axes = {str(k): [str(a) for a in v] for k, v in axes.items()}
            except (ValueError, AttributeError, TypeError):
                raise ArtifactError(path, "metadata 'axes' is not a JSON object of name -> list of axis names") from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def shape(self, name: str) -> tuple[int, ...]:
        if name not in self._entries:
            raise self._missing(name)
        return tuple(self._entries[name]["shape"])

    def dtype(self, name: str) -> str:
        return str(self._entries[name]["dtype"])

    def raw(self, name: str) -> np.ndarray:
        """The stored values, memory-mapped (bf16 as uint16 bit patterns)."""
        import numpy as np

        if name not in self._entries:
            raise self._missing(name)
        e = self._entries[name]
        dtype = np.dtype(_ST_DTYPES[e["dtype"]])
        if 0 in e["shape"]:
            return np.empty(e["shape"], dtype=dtype)
        return np.memmap(self.path, dtype=dtype, mode="r", offset=self._data_start + e["begin"], shape=e["shape"])

    def array(self, name: str) -> np.ndarray:
        raw = self.raw(name)
        return widen_bf16(raw) if self._entries[name]["dtype"] == "BF16" else raw

    def axes(self, name: str) -> list[str] | None:
        return self._axes.get(name)


def open_tensors(path: Path, fmt: str | None = None) -> TensorStore:
    kind = (fmt or path.suffix.lstrip(".")).lower()
    if kind == "npy":
        return NpyStore(path)
    if kind == "npz":
        return NpzStore(path)
    if kind == "safetensors":
        return SafetensorsStore(path)
    raise ArtifactError(path, f"unknown activation format {kind!r}", hint="use .npy, .npz or .safetensors, or set `format:`")
