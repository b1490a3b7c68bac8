"""`.npz` activation files: stored members memory-mapped, compressed ones streamed."""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.errors import ArtifactError, clean
from registry.readers.activations.store import ArtifactOptions, TensorStore
from registry.readers.activations.tensor import ArrayTensor, MappedTensor, Tensor, _FileMap, _prod, _read_npy_header

if TYPE_CHECKING:
    import numpy as np

# What a malformed archive or member raises: a bad zip, an unknown compression method
# (NotImplementedError), an encrypted member (RuntimeError), corrupt deflate data (zlib.error), a
# header numpy cannot parse (SyntaxError and friends from ast.literal_eval).
_ZIP_ERRORS = (ValueError, OSError, EOFError, NotImplementedError, RuntimeError, SyntaxError, TypeError, RecursionError,
               MemoryError, zlib.error, zipfile.BadZipFile)



def _hint(exc: BaseException) -> str:
    if isinstance(exc, NotImplementedError):  # zipfile's word for a compression method it does not read
        return "save it with numpy.savez or numpy.savez_compressed"
    return "the file may be truncated"


class _ZipStreamTensor(Tensor):
    """A compressed npz member: decompressed as a forward stream (re-opened to go back)."""

    def __init__(self, name: str, store: NpzStore, member: str, shape: tuple[int, ...], dtype: Any,
                 data_start: int):
        super().__init__(name, shape, dtype, str(dtype), store.path)
        self._store = store
        self._member = member
        self._data_start = data_start
        self._fh: Any = None
        self._pos = 0

    def read(self, start: int, count: int) -> np.ndarray:
        import numpy as np

        item = self.dtype.itemsize
        want = self._data_start + start * item
        try:
            if self._fh is None or self._pos > want:
                if self._fh is not None:
                    self._fh.close()
                self._fh = self._store.zip.open(self._member)
                self._pos = 0
            while self._pos < want:
                skipped = self._fh.read(min(1 << 24, want - self._pos))
                if not skipped:
                    break
                self._pos += len(skipped)
            data = self._fh.read(count * item)
            self._pos += len(data)
        except _ZIP_ERRORS as exc:
            raise ArtifactError(self.source, f"cannot read tensor {self.name!r}: {clean(str(exc), 120)}",
                                hint=_hint(exc)) from None
        if len(data) < count * item:
            raise ArtifactError(self.source, f"tensor {self.name!r} ends early", hint="the file is truncated")
        return np.frombuffer(data, dtype=self.dtype)


class NpzStore(TensorStore):
    """An npz archive: uncompressed members are memory-mapped in place, compressed ones streamed."""

    def __init__(self, path: Path, options: ArtifactOptions | None = None):
        self.path = path
        self.options = options or ArtifactOptions()
        try:
            self.zip = zipfile.ZipFile(path)
            self._members = {i.filename[:-4]: i for i in self.zip.infolist() if i.filename.endswith(".npy")}
        except _ZIP_ERRORS as exc:
            raise ArtifactError(path, f"not a readable .npz file: {clean(str(exc), 120)}",
                                hint="the file may be truncated") from None
        self._map = _FileMap(path)
        self._tensors: dict[str, Tensor] = {}

    def _names(self) -> list[str]:
        return list(self._members)

    def _tensor(self, name: str) -> Tensor:
        if name not in self._tensors:
            self._tensors[name] = self._open_member(name)
        return self._tensors[name]

    def _open_member(self, name: str) -> Tensor:
        import numpy as np

        info = self._members[name]
        try:
            with self.zip.open(info) as fh:
                shape, fortran, dtype = _read_npy_header(fh)
                header_len = fh.tell()
            if dtype.hasobject:
                raise ArtifactError(self.path, f"tensor {name!r} holds Python objects, which are not read")
            if dtype.kind not in "biuf":
                raise ArtifactError(self.path, f"tensor {name!r} has dtype {dtype.str}, not a numeric one")
            if fortran:
                with self.zip.open(info) as fh:
                    arr = np.load(fh, allow_pickle=False)
                return ArrayTensor(name, arr, str(dtype), self.path)
            if info.compress_type == zipfile.ZIP_STORED:
                with self.path.open("rb") as raw:
                    raw.seek(info.header_offset)
                    local = raw.read(30)
                    if len(local) < 30 or local[:4] != b"PK\x03\x04":
                        raise ValueError("bad local file header")
                    n_name, n_extra = struct.unpack("<HH", local[26:30])
                data = info.header_offset + 30 + n_name + n_extra + header_len
                if data + _prod(shape) * dtype.itemsize > self.path.stat().st_size:
                    raise ArtifactError(self.path, f"tensor {name!r} extends past the end of the file",
                                        hint="the file is truncated")
                return MappedTensor(name, self._map, data, dtype, shape, str(dtype))
            return _ZipStreamTensor(name, self, info.filename, shape, dtype, header_len)
        except _ZIP_ERRORS as exc:
            raise ArtifactError(self.path, f"cannot read tensor {name!r}: {clean(str(exc), 120)}", hint=_hint(exc)) from None

    def close(self) -> None:
        self._map.close()
        self.zip.close()
