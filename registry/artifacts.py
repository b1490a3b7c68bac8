"""Runs: a folder with `run.yaml`, whose artifacts are opened lazily, once, and hashed when used."""

from __future__ import annotations

import fnmatch
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .errors import CannotMeasure, Location, UserError, display_path
from .schema import ArtifactSpec, RunManifest

if TYPE_CHECKING:
    from .readers.activations import ActivationArtifact
    from .readers.metrics import MetricsTable
    from .readers.text import Sample

MANIFEST = "run.yaml"


# Files at least this large have their sha256 cached (smaller ones are cheaper to hash than to look up).
HASH_CACHE_MIN_BYTES = 16 << 20
HASH_CACHE_ENV = "REGISTRY_HASH_CACHE"  # set to 0 to hash every file every time


def sha256_of(path: Path) -> str:
    """sha256 of a file, or of a folder as the sorted list of its files' relative paths and hashes.

    Large files' hashes are cached under the project's `.registry-cache/sha256/` (see `_cached_sha256`).
    """
    if path.is_dir():
        digest = hashlib.sha256()
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(f"{child.relative_to(path).as_posix()}\0{sha256_of(child)}\n".encode())
        return digest.hexdigest()
    return _cached_sha256(path)


def _hash_file(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _hash_cache_dir() -> Path | None:
    """`<project root>/.registry-cache/sha256/`: the project whose pyproject.toml has [tool.registry]
    above the working directory; None without one, or when REGISTRY_HASH_CACHE=0."""
    if os.environ.get(HASH_CACHE_ENV, "1").strip() in ("0", "false", "no", "off"):
        return None
    import tomllib

    from .config import find_pyproject

    pyproject = find_pyproject(Path.cwd())
    if pyproject is None:
        return None
    try:
        tool = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {})
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(tool, dict) or "registry" not in tool:
        return None
    return pyproject.parent / ".registry-cache" / "sha256"


def _cached_sha256(path: Path) -> str:
    """The file's sha256, from the cache when the file is provably the one hashed before.

    An entry is keyed by (real path, size, mtime_ns, ctime_ns, inode, device): any write to the file
    changes its mtime and ctime (and tools that restore mtime still move ctime, which cannot be set),
    a replaced file has a new inode. The entry stores that key and is used only on an exact match;
    it is written only if the file did not change while being hashed. Entries are small text files,
    written atomically; a cache that cannot be read or written is ignored.
    """
    try:
        st = path.stat()
    except OSError:
        return _hash_file(path)
    folder = _hash_cache_dir() if st.st_size >= HASH_CACHE_MIN_BYTES else None
    if folder is None:
        return _hash_file(path)
    key = f"{path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}\0{st.st_dev}"
    entry = folder / (hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest() + ".txt")
    try:
        stored_key, digest = entry.read_text(encoding="utf-8", errors="surrogateescape").split("\n")[:2]
        if stored_key == key and len(digest) == 64:
            return digest
    except (OSError, ValueError):
        pass
    digest = _hash_file(path)
    try:
        after = path.stat()
        if (after.st_size, after.st_mtime_ns, after.st_ctime_ns, after.st_ino) == (
            st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino
        ):
            folder.mkdir(parents=True, exist_ok=True)
            tmp = entry.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(f"{key}\n{digest}\n", encoding="utf-8", errors="surrogateescape")
            os.replace(tmp, entry)
    except OSError:
        pass
    return digest


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

    # Text artifacts up to this size are parsed once and kept (a parsed sample costs several times
    # its JSON size); larger ones are streamed on each pass (see `iter_samples`).
    SAMPLE_CACHE_BYTES: ClassVar[int] = 8 << 20

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

    def _spec_of_kind(self, name: str, kind: str) -> ArtifactSpec:
        spec = self.spec(name)
        actual = spec.resolved_kind()
        if actual is not None and actual != kind:
            raise CannotMeasure(f"artifact {name!r} of run {self.id!r} is {actual}, not {kind}")
        self._touch(name)
        return spec

    def _open(self, name: str, kind: str, opener: Any) -> Any:
        spec = self._spec_of_kind(name, kind)
        key = f"{kind}:{name}"
        if key not in self._opened:
            self._opened[key] = opener(self.paths[name], spec)
        return self._opened[key]

    def metrics(self, name: str) -> MetricsTable:
        """A step-indexed metrics table; each column is read at most once per invocation."""
        from .readers.metrics import MetricsTable

        return self._open(name, "metrics", MetricsTable)  # type: ignore[no-any-return]

    def tensors(self, name: str) -> ActivationArtifact:
        """An activation artifact: one file, or a folder of checkpoints by step, of named tensors."""
        from .readers.activations import open_activations

        return self._open(name, "activations", open_activations)  # type: ignore[no-any-return]

    def samples(self, name: str) -> list[Sample]:
        """Every text sample as a list, parsed once and kept: for small artifacts and random access.

        Evaluators should prefer `iter_samples`, which does not hold a large artifact in memory.
        """
        from .readers.text import read_samples

        return self._open(name, "text", lambda p, s: read_samples(p, s))  # type: ignore[no-any-return]

    def iter_samples(self, name: str) -> Iterator[Sample]:
        """Text samples in file order, for one pass.

        An artifact up to `SAMPLE_CACHE_BYTES` is parsed once per invocation and served from memory
        (as `samples` does); a larger one is streamed from disk on every call and never held, so
        memory stays flat whatever the file's size, at the price of one parse per pass.
        """
        from .readers.text import artifact_size, iter_samples

        spec = self._spec_of_kind(name, "text")
        path = self.paths[name]
        if f"text:{name}" in self._opened or artifact_size(path) <= self.SAMPLE_CACHE_BYTES:
            return iter(self.samples(name))
        return iter_samples(path, spec)

    def notes(self, name: str) -> tuple[str, ...]:
        """What the readers of artifact `name` reported about its data (e.g. truncation), if opened."""
        found: list[str] = []
        for key, opened in self._opened.items():
            if key.split(":", 1)[1] == name:
                found.extend(getattr(opened, "notes", ()) or ())
        return tuple(found)

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
