"""Runs: a folder with `run.yaml`, whose artifacts are opened lazily, once, and hashed when used."""

from __future__ import annotations

import fnmatch
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import CannotMeasure, Location, UserError, display_path
from .schema import ArtifactSpec, RunManifest

if TYPE_CHECKING:
    from .readers.activations import TensorStore
    from .readers.metrics import MetricsTable
    from .readers.text import Sample

MANIFEST = "run.yaml"


def sha256_of(path: Path) -> str:
    """sha256 of a file, or of a folder as the sorted list of its files' relative paths and hashes."""
    if path.is_dir():
        digest = hashlib.sha256()
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(f"{child.relative_to(path).as_posix()}\0{sha256_of(child)}\n".encode())
        return digest.hexdigest()
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def resolve_inside(folder: Path, relative: str, manifest: Path, key: str, loc: Location) -> Path:
    """The artifact's path, refusing anything that leaves the run folder."""
    rel = Path(relative)
    if rel.is_absolute() or ".." in rel.parts:
        raise UserError(
            f"artifact path {relative!r} leaves the run folder",
            location=loc,
            hint="artifact paths are relative to the folder holding run.yaml, without '..'",
        )
    target = folder / rel
    if not target.exists():
        if target.is_symlink():
            raise UserError(f"artifact {relative!r} is a broken symlink", location=loc)
        raise UserError(
            f"artifact file {relative!r} does not exist",
            location=loc,
            hint=f"looked for {display_path(target)}",
        )
    real_folder = folder.resolve()
    real_target = target.resolve()
    if real_target != real_folder and real_folder not in real_target.parents:
        raise UserError(
            f"artifact path {relative!r} resolves outside the run folder (a symlink?)",
            location=loc,
            hint="copy or move the file into the run folder",
        )
    if not os.access(target, os.R_OK):
        raise UserError(f"artifact file {relative!r} is not readable", location=loc)
    return target


@dataclass
class Run:
    """One run: its manifest and lazily opened artifacts. Built once per invocation."""

    manifest: RunManifest
    folder: Path
    manifest_path: Path
    paths: dict[str, Path]
    _opened: dict[str, Any] = field(default_factory=dict, repr=False)
    _hashes: dict[str, str] = field(default_factory=dict, repr=False)
    _touched: set[str] | None = field(default=None, repr=False)

    @property
    def id(self) -> str:
        return self.manifest.id

    @property
    def tags(self) -> list[str]:
        return list(self.manifest.tags)

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.manifest.config)

    def artifact_names(self) -> list[str]:
        return sorted(self.manifest.artifacts)

    def spec(self, name: str) -> ArtifactSpec:
        """The declared artifact `name`; a run without it cannot be measured (inconclusive)."""
        spec = self.manifest.artifacts.get(name)
        if spec is None:
            have = ", ".join(self.artifact_names()) or "none"
            raise CannotMeasure(f"run {self.id!r} declares no artifact {name!r} (it has: {have})")
        return spec

    def path(self, name: str) -> Path:
        self.spec(name)
        self._touch(name)
        return self.paths[name]

    def _touch(self, name: str) -> None:
        if self._touched is not None:
            self._touched.add(name)

    def _open(self, name: str, kind: str, opener: Any) -> Any:
        spec = self.spec(name)
        actual = spec.resolved_kind()
        if actual is not None and actual != kind:
            raise CannotMeasure(f"artifact {name!r} of run {self.id!r} is {actual}, not {kind}")
        self._touch(name)
        key = f"{kind}:{name}"
        if key not in self._opened:
            self._opened[key] = opener(self.paths[name], spec)
        return self._opened[key]

    def metrics(self, name: str) -> MetricsTable:
        """A step-indexed metrics table; each column is read at most once per invocation."""
        from .readers.metrics import MetricsTable

        return self._open(name, "metrics", MetricsTable)  # type: ignore[no-any-return]

    def tensors(self, name: str) -> TensorStore:
        """Named activation tensors (memory-mapped where possible)."""
        from .readers.activations import open_tensors

        return self._open(name, "activations", lambda p, s: open_tensors(p, s.format))  # type: ignore[no-any-return]

    def samples(self, name: str) -> list[Sample]:
        """Text samples, parsed once."""
        from .readers.text import read_samples

        return self._open(name, "text", lambda p, s: read_samples(p))  # type: ignore[no-any-return]

    @contextmanager
    def tracking(self) -> Iterator[set[str]]:
        """Collect the names of the artifacts used inside the block."""
        previous, self._touched = self._touched, set()
        try:
            yield self._touched
        finally:
            self._touched = previous

    def artifact_hash(self, name: str) -> str:
        if name not in self._hashes:
            self._hashes[name] = sha256_of(self.paths[name])
        return self._hashes[name]


def load_run(manifest_path: Path, doc: Any = None) -> Run:
    """Read and check `run.yaml`: schema, and every artifact path exists inside the folder."""
    from .loading import load_run_manifest

    manifest, yaml_doc = load_run_manifest(manifest_path)
    folder = manifest_path.parent
    paths: dict[str, Path] = {}
    for name, spec in manifest.artifacts.items():
        loc = yaml_doc.locate(("artifacts", name, "path"))
        paths[name] = resolve_inside(folder, spec.path, manifest_path, name, loc)
    return Run(manifest=manifest, folder=folder, manifest_path=manifest_path, paths=paths)


def find_run_manifests(roots: list[Path]) -> list[Path]:
    """Every `run.yaml` below the given folders (or a folder that is itself a run), sorted."""
    found: set[Path] = set()
    for root in roots:
        if root.is_file() and root.name == MANIFEST:
            found.add(root)
        elif (root / MANIFEST).is_file():
            found.add(root / MANIFEST)
        elif root.is_dir():
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                if MANIFEST in filenames:
                    found.add(Path(dirpath) / MANIFEST)
                    dirnames[:] = []  # a run's own folders are its artifacts, not more runs
    return sorted(found)


def selects(applies_tags: list[str], applies_runs: list[str], run: Run) -> bool:
    if any(tag not in run.manifest.tags for tag in applies_tags):
        return False
    return not applies_runs or any(fnmatch.fnmatchcase(run.id, g) for g in applies_runs)
