"""Tensors of activation files: a common interface (shape, dtype, reading in blocks, regions and
slabs) over memory-mapped data (:class:`MappedTensor`) and in-memory arrays (:class:`ArrayTensor`)."""

from __future__ import annotations

import contextlib
import itertools
import mmap
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.errors import ArtifactError

if TYPE_CHECKING:
    import numpy as np



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

        try:
            if not index:
                return np.array(self._array[()])
            sel = tuple(i if isinstance(i, slice) else slice(int(i), int(i) + 1) for i in index)
            return np.asarray(self._array[sel])
        except (OSError, RuntimeError, ValueError, KeyError, TypeError) as exc:  # h5py on a damaged file
            raise ArtifactError(self.source, f"cannot read tensor {self.name!r}: {exc}", hint="the file may be damaged") from None

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


def _read_npy_header(fh: Any) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran order, dtype) of an .npy header; ValueError or EOFError when it is malformed."""
    from numpy.lib import format as npf

    try:
        try:
            version = npf.read_magic(fh)
        except ValueError:  # numpy's message quotes the file's first bytes: never echo content
            raise ValueError("it does not start with the .npy magic string") from None
        reader = getattr(npf, "_read_array_header", None)
        if reader is not None:
            shape, fortran, dtype = reader(fh, version)
        elif version == (1, 0):
            shape, fortran, dtype = npf.read_array_header_1_0(fh)
        else:
            shape, fortran, dtype = npf.read_array_header_2_0(fh)
    except (ValueError, EOFError, OSError):
        raise
    except Exception as exc:  # numpy parses the header dict with tokenize and ast: SyntaxError, TokenError...
        raise ValueError(f"malformed header ({type(exc).__name__})") from None
    dims = tuple(int(d) for d in shape)
    if any(d < 0 for d in dims):
        raise ValueError(f"negative dimension in shape {list(dims)}")
    return dims, bool(fortran), dtype
