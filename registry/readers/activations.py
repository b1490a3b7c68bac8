"""Activation artifacts: named tensors in `.safetensors`, `.npy`, `.npz` or `.h5` files, or a folder
holding one such file (or one sub-folder of them) per checkpoint, named with its step.

Tensors are addressed by name: safetensors and npz keys, HDF5 dataset paths, the `.npy` file stem;
the manifest may add `aliases` and declare `axes` per tensor (safetensors files may carry them too,
as JSON under the `axes` metadata key). Only the tensors a prediction names are read, and they are
read in bounded pieces:

- `Tensor.blocks(n)` yields the elements in C order, at most `n` at a time (the fast path for
  statistics over every element);
- `Tensor.slabs(n, ...)` yields contiguous regions along the leading axes, each a full-rank array,
  for reductions that keep axes or need whole rows (attention, the logit lens, CKA).

Tensors stored raw (npy, safetensors, uncompressed npz members, contiguous HDF5 datasets) are read
through one read-only memory map per file, and the pages of each block are dropped from the process
(`MADV_DONTNEED`) once it is used: resident memory stays bounded by the block size whatever the
file's size, while the page cache keeps the file warm. Compressed npz members are decompressed as a
stream. bf16 (which numpy lacks) is widened to float32 per block; float16 is delivered as is.

Errors: an unreadable or truncated file is bad input (`ArtifactError`, exit 2); a tensor that is not
there, or whose declared axes do not fit it, makes the prediction inconclusive (`CannotMeasure`).
"""

from __future__ import annotations

import contextlib
import difflib
import fnmatch
import itertools
import json
import mmap
import os
import re
import struct
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.errors import ArtifactError, CannotMeasure

if TYPE_CHECKING:
    import numpy as np

    from registry.runs.manifest import ArtifactSpec

SUFFIXES = (".safetensors", ".npy", ".npz", ".h5", ".hdf5")
# Checkpoint entries of a folder artifact: `step_000500.safetensors`, `step-500.npz`, `step500/`...
DEFAULT_STEP_PATTERN = r"step[_-]?(?P<step>\d+)(?:\.(?:safetensors|npy|npz|h5|hdf5))?"
# Checkpoint stores kept open at once when a folder is walked (each holds a file descriptor).
_OPEN_STORES = 8

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


def natural_key(name: str) -> tuple[Any, ...]:
    """Sort key that puts `blocks.10` after `blocks.9`."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def _prod(values: Any) -> int:
    out = 1
    for v in values:
        out *= int(v)
    return out


Index = tuple[int | slice, ...]


def slab_plan(shape: tuple[int, ...], max_elements: int, fixed: Mapping[int, int] | None = None,
              whole_trailing: int = 0) -> Iterator[Index]:
    """Indices of contiguous C-order regions covering a tensor, each of at most `max_elements`
    (unless the `whole_trailing` last axes alone are larger: those are never split).

    Each index is `j` integers (the leading axes) then one slice of axis `j`; later axes are whole.
    `fixed` (axis -> index) skips the leading indices it excludes; a fixed axis at or after `j` is the
    caller's to select in memory (see `Tensor.slabs`).
    """
    fixed = dict(fixed or {})
    ndim = len(shape)
    if ndim == 0:
        yield ()
        return
    if 0 in shape:
        return
    suffix = [1] * (ndim + 1)
    for k in range(ndim - 1, -1, -1):
        suffix[k] = suffix[k + 1] * shape[k]
    j = next(k for k in range(ndim) if suffix[k + 1] <= max_elements)
    j = max(0, min(j, ndim - 1 - whole_trailing))
    rows = max(1, max_elements // suffix[j + 1])
    ranges = [[fixed[k]] if k in fixed else range(shape[k]) for k in range(j)]
    for prefix in itertools.product(*ranges):
        if j in fixed:
            yield (*prefix, slice(fixed[j], fixed[j] + 1))
        else:
            for a in range(0, shape[j], rows):
                yield (*prefix, slice(a, min(a + rows, shape[j])))


class Tensor:
    """One named tensor of one file, read in bounded pieces.

    `dtype` is what reads deliver (bf16 is delivered as float32); `stored` names the dtype on disk.
    """

    def __init__(self, name: str, shape: tuple[int, ...], dtype: Any, stored: str, source: Path):
        import numpy as np

        self.name = name
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.stored = stored
        self.source = source
        self.axes: list[str] | None = None
        self.axes_source: str | None = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return _prod(self.shape)

    def describe(self) -> str:
        return f"{self.source.name}: tensor {self.name!r}"

    # -- primitives --------------------------------------------------------------------------
    def read(self, start: int, count: int) -> np.ndarray:
        """Elements [start, start+count) in C order, 1-d. May be a view, valid until `release`."""
        raise NotImplementedError

    def release(self, start: int, count: int) -> None:
        """The caller is done with a range returned by `read` (drops its pages from memory)."""

    # -- built on them ------------------------------------------------------------------------
    def blocks(self, max_elements: int, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """Elements in C order, at most `max_elements` at a time; each block is valid until the next."""
        stop = self.size if stop is None else stop
        for s in range(start, stop, max_elements):
            c = min(max_elements, stop - s)
            yield self.read(s, c)
            self.release(s, c)

    def region(self, index: Index) -> np.ndarray:
        """A copy of the contiguous region `index` (as made by `slab_plan`), full-rank: integer
        indices become axes of length 1."""
        import numpy as np

        if not index:
            out = np.array(self.read(0, 1)).reshape(())
            self.release(0, 1)
            return out
        j = len(index) - 1
        last = index[j]
        assert isinstance(last, slice)
        strides = [_prod(self.shape[k + 1 :]) for k in range(self.ndim)]
        start = int(last.start) * strides[j]
        for k in range(j):
            i = index[k]
            start += (i.start if isinstance(i, slice) else int(i)) * strides[k]
        rows = int(last.stop) - int(last.start)
        count = rows * strides[j]
        out = np.array(self.read(start, count))  # a copy: the view's pages are released below
        self.release(start, count)
        return out.reshape((1,) * j + (rows,) + self.shape[j + 1 :])

    def slabs(self, max_elements: int, fixed: Mapping[int, int] | None = None,
              whole_trailing: int = 0) -> Iterator[tuple[tuple[slice, ...], np.ndarray]]:
        """Full-rank regions covering the tensor (restricted to `fixed` axis indices), with their
        index: one integer-free tuple of slices per region, relative to the whole tensor."""
        fixed = dict(fixed or {})
        for index in slab_plan(self.shape, max_elements, fixed, whole_trailing):
            arr = self.region(index)
            j = len(index) - 1
            full: list[slice] = []
            for k in range(self.ndim):
                i = index[k] if k <= j else slice(0, self.shape[k])
                full.append(i if isinstance(i, slice) else slice(i, i + 1))
            later = {k: v for k, v in fixed.items() if k > j}
            if later:
                arr = arr[tuple(slice(later[k], later[k] + 1) if k in later else slice(None) for k in range(self.ndim))]
                for k, v in later.items():
                    full[k] = slice(v, v + 1)
            yield tuple(full), arr

    def load(self) -> np.ndarray:
        """The whole tensor as an in-memory array (for small tensors: labels, unembedding, norms)."""
        import numpy as np

        if self.size == 0:
            return np.empty(self.shape, dtype=self.dtype)
        out = np.empty(self.size, dtype=self.dtype)
        pos = 0
        for block in self.blocks(1 << 22):
            out[pos : pos + block.size] = block
            pos += block.size
        return out.reshape(self.shape)


class _FileMap:
    """One read-only memory map of a whole file, shared by the tensors in it."""

    def __init__(self, path: Path):
        self.path = path
        self._mm: mmap.mmap | None = None
        self._page = mmap.PAGESIZE

    def _map(self) -> mmap.mmap:
        if self._mm is None:
            with self.path.open("rb") as fh:
                try:
                    self._mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
                except (OSError, ValueError) as exc:
                    raise ArtifactError(self.path, f"cannot map the file: {exc}") from None
        return self._mm

    def view(self, offset: int, dtype: Any, count: int) -> np.ndarray:
        import numpy as np

        mm = self._map()
        if offset + count * np.dtype(dtype).itemsize > len(mm):
            raise ArtifactError(self.path, "the file is shorter than its header says", hint="the file is truncated")
        return np.frombuffer(mm, dtype=dtype, count=count, offset=offset)

    def release(self, offset: int, nbytes: int) -> None:
        # Drops the range's pages from this process's page tables; a later read maps them again from
        # the page cache, so a view still held elsewhere stays valid.
        if self._mm is None or not hasattr(self._mm, "madvise") or nbytes <= 0:
            return
        start = offset - offset % self._page
        end = min(offset + nbytes, len(self._mm))
        if end > start:
            with contextlib.suppress(OSError, ValueError):
                self._mm.madvise(mmap.MADV_DONTNEED, start, end - start)

    def close(self) -> None:
        if self._mm is not None:
            with contextlib.suppress(BufferError):  # a view is still alive; the map goes when it does
                self._mm.close()
            self._mm = None


class MappedTensor(Tensor):
    """A tensor stored raw, C order, at a byte offset of a file."""

    def __init__(self, name: str, fmap: _FileMap, offset: int, raw_dtype: Any, shape: tuple[int, ...],
                 stored: str, bf16: bool = False):
        import numpy as np

        super().__init__(name, shape, np.float32 if bf16 else raw_dtype, stored, fmap.path)
        self._map = fmap
        self._offset = offset
        self._raw = np.dtype(raw_dtype)
        self._bf16 = bf16

    def read(self, start: int, count: int) -> np.ndarray:
        import numpy as np

        if count <= 0:
            return np.empty(0, dtype=self.dtype)
        raw = self._map.view(self._offset + start * self._raw.itemsize, self._raw, count)
        return widen_bf16(raw) if self._bf16 else raw

    def release(self, start: int, count: int) -> None:
        self._map.release(self._offset + start * self._raw.itemsize, count * self._raw.itemsize)


class ArrayTensor(Tensor):
    """A tensor behind anything numpy-indexable (an h5py dataset, a Fortran-ordered memmap, an array)."""

    def __init__(self, name: str, array: Any, stored: str, source: Path):
        super().__init__(name, tuple(array.shape), array.dtype, stored, source)
        self._array = array

    def region(self, index: Index) -> np.ndarray:
        import numpy as np

        if not index:
            return np.array(self._array[()])
        sel = tuple(i if isinstance(i, slice) else slice(int(i), int(i) + 1) for i in index)
        return np.asarray(self._array[sel])

    def read(self, start: int, count: int) -> np.ndarray:
        import numpy as np

        # Only small reads come here (streaming goes through `blocks`, which reads regions): the
        # rows of the first axis that cover the range, flattened and cut.
        if self.ndim == 0:
            return np.asarray(self._array[()]).reshape(-1)
        row = _prod(self.shape[1:]) or 1
        first, last = start // row, -(-(start + count) // row)
        rows = np.asarray(self._array[first:last]).reshape(-1)
        return rows[start - first * row : start - first * row + count]

    def blocks(self, max_elements: int, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        if start != 0 or (stop is not None and stop != self.size):
            yield from super().blocks(max_elements, start, stop)
            return
        for _, arr in self.slabs(max_elements):
            yield arr.reshape(-1)


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
        import zipfile

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
        except (OSError, EOFError, zipfile.BadZipFile, ValueError) as exc:
            raise ArtifactError(self.source, f"cannot read tensor {self.name!r}: {exc}",
                                hint="the file may be truncated") from None
        if len(data) < count * item:
            raise ArtifactError(self.source, f"tensor {self.name!r} ends early", hint="the file is truncated")
        return np.frombuffer(data, dtype=self.dtype)


def _read_npy_header(fh: Any) -> tuple[tuple[int, ...], bool, np.dtype]:
    from numpy.lib import format as npf

    version = npf.read_magic(fh)
    reader = getattr(npf, "_read_array_header", None)
    if reader is not None:
        shape, fortran, dtype = reader(fh, version)
    elif version == (1, 0):
        shape, fortran, dtype = npf.read_array_header_1_0(fh)
    else:
        shape, fortran, dtype = npf.read_array_header_2_0(fh)
    return tuple(int(d) for d in shape), bool(fortran), dtype


@dataclass
class ArtifactOptions:
    """What the run manifest says about an activation artifact."""

    format: str | None = None
    step_pattern: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    axes: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_spec(cls, spec: ArtifactSpec | None) -> ArtifactOptions:
        if spec is None:
            return cls()
        return cls(
            format=spec.format,
            step_pattern=spec.step_pattern,
            aliases=dict(spec.aliases),
            axes={k: list(v) for k, v in spec.axes.items()},
        )


class TensorStore:
    """The named tensors of one checkpoint: a file, or a folder of files."""

    path: Path
    options: ArtifactOptions
    _names_cache: set[str] | None = None

    # -- what each format provides --------------------------------------------------------------
    def _names(self) -> list[str]:
        raise NotImplementedError

    def _tensor(self, name: str) -> Tensor:
        raise NotImplementedError

    def _file_axes(self, name: str) -> list[str] | None:
        return None

    def close(self) -> None:
        """Release file handles and maps."""

    # -- public ---------------------------------------------------------------------------------
    def names(self) -> list[str]:
        return sorted(self._names(), key=natural_key)

    def resolve(self, name: str) -> str:
        """The name in the file for a name or alias; CannotMeasure (with a did-you-mean) if absent."""
        target = self.options.aliases.get(name, name)
        if target not in self._name_set():
            if target != name:
                missing = self._missing(target)
                raise CannotMeasure(f"{missing.reason} (the alias {name!r} names it)")
            raise self._missing(name)
        return target

    def match(self, pattern: str) -> list[str]:
        """Names in the file matching a name, an alias or a glob over either, in natural order."""
        names = self._name_set()
        if pattern in names:  # exact names first: `:out[0]` is a name, not a glob
            return [pattern]
        if self.options.aliases.get(pattern) in names:
            return [self.options.aliases[pattern]]
        found: set[str] = set()
        for alias, target in self.options.aliases.items():
            if fnmatch.fnmatchcase(alias, pattern) and target in names:
                found.add(target)
        found.update(n for n in names if fnmatch.fnmatchcase(n, pattern))
        return sorted(found, key=natural_key)

    def tensor(self, name: str) -> Tensor:
        """The tensor `name` (or alias), with its axis names attached and checked against its rank."""
        real = self.resolve(name)
        t = self._tensor(real)
        axes, source = self._declared_axes(real)
        if axes is not None:
            if len(axes) != t.ndim:
                raise CannotMeasure(
                    f"{self.path.name}: tensor {real!r} has shape {list(t.shape)} ({t.ndim} axes), "
                    f"but {source} names {len(axes)} axes {axes}"
                )
            t.axes, t.axes_source = list(axes), source
        return t

    def shape(self, name: str) -> tuple[int, ...]:
        return self._tensor(self.resolve(name)).shape

    def axes(self, name: str) -> list[str] | None:
        return self._declared_axes(self.resolve(name))[0]

    def array(self, name: str) -> np.ndarray:
        """The whole tensor in memory (bf16 widened). Prefer `tensor(name)` for anything large."""
        return self._tensor(self.resolve(name)).load()

    # -- helpers ----------------------------------------------------------------------------------
    def _name_set(self) -> set[str]:
        if self._names_cache is None:
            self._names_cache = set(self._names())
        return self._names_cache

    def _declared_axes(self, real: str) -> tuple[list[str] | None, str]:
        declared = self.options.axes
        aliases = [a for a, t in self.options.aliases.items() if t == real]
        for key in (real, *aliases):
            if key in declared:
                return declared[key], "the run manifest's `axes`"
        for key, value in declared.items():
            if any(fnmatch.fnmatchcase(n, key) for n in (real, *aliases)):
                return value, f"the run manifest's `axes` entry {key!r}"
        return self._file_axes(real), "the file's `axes` metadata"

    def _missing(self, name: str) -> CannotMeasure:
        candidates = sorted(self._name_set() | set(self.options.aliases))
        close = difflib.get_close_matches(name, candidates, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return CannotMeasure(f"{self.path.name} has no tensor {name!r}{hint}")


class NpyStore(TensorStore):
    """One tensor, named by the file's stem."""

    def __init__(self, path: Path, options: ArtifactOptions | None = None):
        import numpy as np

        self.path = path
        self.options = options or ArtifactOptions()
        try:
            size = path.stat().st_size
            with path.open("rb") as fh:
                shape, fortran, dtype = _read_npy_header(fh)
                offset = fh.tell()
        except (ValueError, OSError, EOFError) as exc:
            raise ArtifactError(path, f"not a readable .npy file: {exc}", hint="the file may be truncated") from None
        if dtype.hasobject:
            raise ArtifactError(path, "the .npy file holds Python objects, which are not read (only numeric arrays)")
        if dtype.kind not in "biuf":  # strings, records, complex, dates: no activation statistic applies
            raise ArtifactError(path, f"tensor {path.stem!r} has dtype {dtype.str}, not a numeric one")
        need = _prod(shape) * dtype.itemsize
        if offset + need > size:
            raise ArtifactError(
                path,
                f"not a readable .npy file: tensor {path.stem!r} {list(shape)} {dtype} needs {need} bytes of data "
                f"after its header, the file has {size - offset}",
                hint="the file is truncated",
            )
        self._map = _FileMap(path)
        if fortran:
            # Rare for activations: served through numpy's own memmap (not page-released).
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
            self._t: Tensor = ArrayTensor(path.stem, arr, str(dtype), path)
        else:
            self._t = MappedTensor(path.stem, self._map, offset, dtype, shape, str(dtype))

    def _names(self) -> list[str]:
        return [self.path.stem]

    def _tensor(self, name: str) -> Tensor:
        return self._t

    def close(self) -> None:
        self._map.close()


class NpzStore(TensorStore):
    """An npz archive: uncompressed members are memory-mapped in place, compressed ones streamed."""

    def __init__(self, path: Path, options: ArtifactOptions | None = None):
        import zipfile

        self.path = path
        self.options = options or ArtifactOptions()
        try:
            self.zip = zipfile.ZipFile(path)
            self._members = {i.filename[:-4]: i for i in self.zip.infolist() if i.filename.endswith(".npy")}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise ArtifactError(path, f"not a readable .npz file: {exc}", hint="the file may be truncated") from None
        self._map = _FileMap(path)
        self._tensors: dict[str, Tensor] = {}

    def _names(self) -> list[str]:
        return list(self._members)

    def _tensor(self, name: str) -> Tensor:
        if name not in self._tensors:
            self._tensors[name] = self._open_member(name)
        return self._tensors[name]

    def _open_member(self, name: str) -> Tensor:
        import zipfile

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
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise ArtifactError(self.path, f"cannot read tensor {name!r}: {exc}", hint="the file may be truncated") from None

    def close(self) -> None:
        self._map.close()
        self.zip.close()


class SafetensorsStore(TensorStore):
    """The safetensors format, parsed here: an 8-byte header length, a JSON header, raw data."""

    def __init__(self, path: Path, options: ArtifactOptions | None = None):
        import numpy as np

        self.path = path
        self.options = options or ArtifactOptions()
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
        self.metadata: dict[str, str] = header.pop("__metadata__", None) or {}
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
            itemsize = np.dtype(_ST_DTYPES[dtype]).itemsize
            if end - begin != _prod(shape) * itemsize:
                raise ArtifactError(path, f"tensor {name!r}: data size does not match shape {list(shape)}")
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


class DirStore(TensorStore):
    """A checkpoint that is a folder of activation files (e.g. one `.npy` per tensor)."""

    def __init__(self, path: Path, options: ArtifactOptions | None = None):
        self.path = path
        self.options = options or ArtifactOptions()
        self._stores: list[TensorStore] = []
        self._owner: dict[str, TensorStore] = {}
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
        if not files:
            raise ArtifactError(path, "checkpoint folder holds no activation file",
                                hint=f"expected files ending in {', '.join(SUFFIXES)}")
        inner = ArtifactOptions(format=None)
        for f in files:
            store = open_tensors(f, self.options.format, inner)
            self._stores.append(store)
            for n in store._names():
                if n in self._owner:
                    raise ArtifactError(path, f"tensor {n!r} is in both {self._owner[n].path.name} and {f.name}")
                self._owner[n] = store

    def _names(self) -> list[str]:
        return list(self._owner)

    def _tensor(self, name: str) -> Tensor:
        return self._owner[name]._tensor(name)

    def _file_axes(self, name: str) -> list[str] | None:
        return self._owner[name]._file_axes(name)

    def close(self) -> None:
        for s in self._stores:
            s.close()


def open_tensors(path: Path, fmt: str | None = None, options: ArtifactOptions | None = None) -> TensorStore:
    """The tensors of one checkpoint file (or checkpoint folder)."""
    if path.is_dir():
        return DirStore(path, options)
    kind = (fmt or path.suffix.lstrip(".")).lower()
    if kind == "npy":
        return NpyStore(path, options)
    if kind == "npz":
        return NpzStore(path, options)
    if kind == "safetensors":
        return SafetensorsStore(path, options)
    if kind in ("h5", "hdf5"):
        from .activation_hdf5 import H5Store

        return H5Store(path, options)
    raise ArtifactError(
        path, f"unknown activation format {kind!r}", hint="use .safetensors, .npy, .npz or .h5, or set `format:`"
    )


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint of an activation artifact; `step` is None for a lone file without one."""

    step: int | None
    path: Path

    @property
    def label(self) -> str:
        return f"step {self.step}" if self.step is not None else self.path.name


class ActivationArtifact:
    """An activation artifact: one file (a single checkpoint) or a folder of checkpoints by step."""

    def __init__(self, path: Path, options: ArtifactOptions | None = None):
        self.path = path
        self.options = options or ArtifactOptions()
        self.pattern = re.compile(self.options.step_pattern or DEFAULT_STEP_PATTERN)
        self.is_folder = path.is_dir()
        if self.is_folder:
            self.checkpoints = self._scan()
        else:
            m = self.pattern.fullmatch(path.name)
            self.checkpoints = [Checkpoint(int(m.group("step")) if m else None, path)]
        self._stores: OrderedDict[Path, TensorStore] = OrderedDict()

    def _scan(self) -> list[Checkpoint]:
        found: dict[int, Path] = {}
        entries = sorted(os.listdir(self.path))
        for entry in entries:
            m = self.pattern.fullmatch(entry)
            if not m:
                continue
            step = int(m.group("step"))
            if step in found:
                raise ArtifactError(self.path, f"step {step} has two checkpoints: {found[step].name} and {entry}",
                                    hint="keep one file per step")
            found[step] = self.path / entry
        if not found:
            shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "") if entries else "nothing"
            raise ArtifactError(
                self.path,
                f"no checkpoint in this folder matches the step pattern '{self.pattern.pattern}' (it holds: {shown})",
                hint="name checkpoints like step_000500.safetensors, or set `step_pattern:` "
                "(a regex with a group `step`) for this artifact in run.yaml",
            )
        return [Checkpoint(s, found[s]) for s in sorted(found)]

    @property
    def steps(self) -> list[int]:
        return [c.step for c in self.checkpoints if c.step is not None]

    def store(self, checkpoint: Checkpoint | None = None) -> TensorStore:
        """The tensors of one checkpoint (default: the only or the last one), opened once."""
        ckpt = checkpoint or self.checkpoints[-1]
        store = self._stores.get(ckpt.path)
        if store is None:
            store = open_tensors(ckpt.path, self.options.format, self.options)
            self._stores[ckpt.path] = store
            while len(self._stores) > _OPEN_STORES:
                _, old = self._stores.popitem(last=False)
                old.close()
        else:
            self._stores.move_to_end(ckpt.path)
        return store

    def within(self, window: tuple[int | None, int | None] | None) -> list[Checkpoint]:
        """Checkpoints whose step is inside an inclusive window (all when no window is given)."""
        if window is None:
            return list(self.checkpoints)
        lo, hi = window
        return [
            c for c in self.checkpoints
            if c.step is not None and (lo is None or c.step >= lo) and (hi is None or c.step <= hi)
        ]

    def pick(self, step: int | str) -> Checkpoint:
        """The checkpoint at `step` (an integer, or `first` / `last`)."""
        if step == "first":
            return self.checkpoints[0]
        if step == "last":
            return self.checkpoints[-1]
        for c in self.checkpoints:
            if c.step == step:
                return c
        have = self.steps
        shown = ", ".join(str(s) for s in have[:10]) + (", ..." if len(have) > 10 else "")
        raise CannotMeasure(f"{self.path.name} has no checkpoint at step {step} (steps: {shown or 'none'})")


def open_activations(path: Path, spec: ArtifactSpec | None = None) -> ActivationArtifact:
    """The activation artifact at `path`, as its manifest entry describes it."""
    return ActivationArtifact(path, ArtifactOptions.from_spec(spec))
