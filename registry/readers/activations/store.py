"""A store of named tensors (one checkpoint file): names, aliases and axis names from the manifest,
glob matching; each format's store (npy, npz, safetensors, hdf5) subclasses :class:`TensorStore`."""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from registry.errors import CannotMeasure
from registry.files import Boundary
from registry.readers.activations.tensor import Tensor, natural_key

if TYPE_CHECKING:
    import numpy as np

    from registry.readers.formats import ArtifactSpec


@dataclass
class ArtifactOptions:
    """What the run manifest says about an activation artifact."""

    format: str | None = None
    step_pattern: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    axes: dict[str, list[str]] = field(default_factory=dict)
    boundary: Boundary | None = None
    """Where the run's files may resolve to (registry.files.contained); None: the artifact's folder."""

    @classmethod
    def from_spec(cls, spec: ArtifactSpec | None, boundary: Boundary | None = None) -> ArtifactOptions:
        if spec is None:
            return cls(boundary=boundary)
        return cls(
            format=spec.format,
            step_pattern=spec.step_pattern,
            aliases=dict(spec.aliases),
            axes={k: list(v) for k, v in spec.axes.items()},
            boundary=boundary,
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

    def _file_axes(self, name: str) -> list[str] | None:  # noqa: ARG002 (a hook: no axis metadata by default)
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
