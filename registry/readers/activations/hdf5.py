"""HDF5 activation files (`.h5`, `.hdf5`), through h5py — the optional `hdf5` extra, imported here only.

Tensors are the file's datasets, named by their path without the leading slash (`acts/layer0`).
Axis names come from the dataset's `axes` attribute (a list of strings, or JSON), else from its
dimension-scale labels when every axis has one. A contiguous, uncompressed dataset is memory-mapped
like an `.npy` file; a chunked or compressed one is read through h5py, region by region.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from registry.errors import ArtifactError, quoted
from registry.readers.activations.store import ArtifactOptions, TensorStore
from registry.readers.activations.tensor import ArrayTensor, MappedTensor, Tensor, _FileMap


def _import_h5py(path: Path) -> Any:
    try:
        import h5py
    except ImportError:
        raise ArtifactError(
            path,
            "reading HDF5 activation files needs h5py, which is not installed",
            hint="pip install 'claims-registry[hdf5]'",
        ) from None
    return h5py


_T = TypeVar("_T")


def _elsewhere(ds: Any) -> bool:
    """The dataset keeps its data in other files (external storage, or a virtual dataset)."""
    return bool(ds.external or ds.is_virtual)


class H5Store(TensorStore):
    def __init__(self, path: Path, options: ArtifactOptions | None = None):
        h5py = _import_h5py(path)
        self.path = path
        self.options = options or ArtifactOptions()
        try:
            self._file = h5py.File(path, "r")
            datasets: dict[str, Any] = {}

            def visit(name: str, obj: Any) -> None:
                if isinstance(obj, h5py.Dataset):
                    datasets[name] = obj

            self._file.visititems(visit)
        except Exception as exc:  # h5py raises OSError, RuntimeError, KeyError, ValueError... on a damaged file
            with contextlib.suppress(Exception):
                self._file.close()
            raise ArtifactError(path, f"not a readable HDF5 file: {exc}", hint="the file may be truncated") from None
        for name, ds in datasets.items():
            if self._guard(functools.partial(_elsewhere, ds)):
                self._file.close()
                raise ArtifactError(
                    path,
                    f"dataset {quoted(name)} keeps its data in other files "
                    f"({'a virtual dataset' if ds.is_virtual else 'external storage'}), which are not read",
                    hint="write the data into the .h5 file itself (h5py: no `external=`, no VirtualLayout)",
                )
        self._datasets = datasets
        self._map = _FileMap(path)

    def _guard(self, read: Callable[[], _T]) -> _T:
        """`read()` on the h5py objects of this file: what h5py raises on a damaged file is bad input."""
        try:
            return read()
        except ArtifactError:
            raise
        except Exception as exc:
            raise ArtifactError(self.path, f"not a readable HDF5 file: {exc}", hint="the file may be damaged") from None

    def _names(self) -> list[str]:
        return list(self._datasets)

    def _tensor(self, name: str) -> Tensor:
        return self._guard(lambda: self._open_tensor(name))

    def _open_tensor(self, name: str) -> Tensor:
        ds = self._datasets[name]
        if ds.dtype.kind not in "biuf":
            raise ArtifactError(self.path, f"dataset {name!r} has dtype {ds.dtype}, not a numeric tensor")
        try:
            offset = ds.id.get_offset()
        except Exception:  # h5py raises various errors for virtual or external layouts
            offset = None
        if offset is not None and ds.chunks is None and ds.compression is None and ds.dtype.isnative:
            return MappedTensor(name, self._map, int(offset), ds.dtype, tuple(ds.shape), str(ds.dtype))
        return ArrayTensor(name, ds, str(ds.dtype), self.path)

    def _file_axes(self, name: str) -> list[str] | None:
        return self._guard(lambda: self._axes_of(name))

    def _axes_of(self, name: str) -> list[str] | None:
        ds = self._datasets[name]
        raw = ds.attrs.get("axes")
        if raw is not None:
            if isinstance(raw, bytes):
                raw = raw.decode()
            if isinstance(raw, str):
                try:
                    raw = json.loads(raw)
                except ValueError:
                    raise ArtifactError(self.path, f"dataset {name!r}: attribute 'axes' is not a JSON list") from None
            return [a.decode() if isinstance(a, bytes) else str(a) for a in raw]
        labels = [d.label for d in ds.dims]
        return labels if labels and all(labels) else None

    def close(self) -> None:
        self._map.close()
        with contextlib.suppress(Exception):
            self._file.close()
