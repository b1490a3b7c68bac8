"""An activation artifact: one checkpoint file, or a folder of checkpoints by step; picks each
file's reader from its format (registry/readers/formats.py)."""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from registry.errors import ArtifactError, CannotMeasure
from registry.files import Boundary, contained
from registry.readers.activations.npy import NpyStore
from registry.readers.activations.npz import NpzStore
from registry.readers.activations.safetensors import SafetensorsStore
from registry.readers.activations.store import ArtifactOptions, TensorStore
from registry.readers.activations.tensor import Tensor
from registry.readers.formats import ACTIVATION_SUFFIXES

if TYPE_CHECKING:

    from registry.readers.formats import ArtifactSpec


SUFFIXES = tuple(ACTIVATION_SUFFIXES)


# Checkpoint entries of a folder artifact: `step_000500.safetensors`, `step-500.npz`, `step500/`...
DEFAULT_STEP_PATTERN = r"step[_-]?(?P<step>\d+)(?:\.(?:safetensors|npy|npz|h5|hdf5))?"


# Checkpoint stores kept open at once when a folder is walked (each holds a file descriptor).
_OPEN_STORES = 8


class DirStore(TensorStore):
    """A checkpoint that is a folder of activation files (e.g. one `.npy` per tensor)."""

    def __init__(self, path: Path, options: ArtifactOptions | None = None):
        self.path = path
        self.options = options or ArtifactOptions()
        self._stores: list[TensorStore] = []
        self._owner: dict[str, TensorStore] = {}
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES and not p.is_dir())
        if not files:
            raise ArtifactError(path, "checkpoint folder holds no activation file",
                                hint=f"expected files ending in {', '.join(SUFFIXES)}")
        inner = ArtifactOptions(format=None, boundary=self.options.boundary)
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
    """The tensors of one checkpoint file (or checkpoint folder), checked by `registry.files.contained`."""
    boundary = (options.boundary if options is not None else None) or Boundary.around(path)
    if contained(path, boundary, folder=True).is_dir():
        return DirStore(path, options)
    kind = (fmt or path.suffix.lstrip(".")).lower()
    if kind == "npy":
        return NpyStore(path, options)
    if kind == "npz":
        return NpzStore(path, options)
    if kind == "safetensors":
        return SafetensorsStore(path, options)
    if kind in ("h5", "hdf5"):
        from registry.readers.activations.hdf5 import H5Store

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
        import re2  # the manifest's step_pattern runs in linear time (RE2), like claim patterns

        self.pattern = re2.compile(self.options.step_pattern or DEFAULT_STEP_PATTERN)
        self.is_folder = contained(path, self.options.boundary or Boundary.around(path), folder=True).is_dir()
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


def open_activations(path: Path, spec: ArtifactSpec | None = None, boundary: Boundary | None = None) -> ActivationArtifact:
    """The activation artifact at `path`, as its manifest entry describes it."""
    return ActivationArtifact(path, ArtifactOptions.from_spec(spec, boundary))
