"""`.npy` activation files: one array, memory-mapped."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from registry.errors import ArtifactError, clean
from registry.readers.activations.store import ArtifactOptions, TensorStore
from registry.readers.activations.tensor import ArrayTensor, MappedTensor, Tensor, _FileMap, _prod, _read_npy_header

if TYPE_CHECKING:

    pass


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
        except (ValueError, OSError, EOFError, SyntaxError, TypeError, RecursionError, MemoryError) as exc:
            # numpy parses the header with ast.literal_eval: a malformed one raises any of these
            raise ArtifactError(path, f"not a readable .npy file: {clean(str(exc), 120)}",
                                hint="the file may be truncated") from None
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

    def _tensor(self, name: str) -> Tensor:  # noqa: ARG002 (one tensor: resolve() has checked the name)
        return self._t

    def close(self) -> None:
        self._map.close()
