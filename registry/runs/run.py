"""Runs: a folder with `run.yaml`, whose artifacts are opened lazily, once, and hashed when used."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from registry.config import Settings
from registry.errors import CannotMeasure, UserError, UserErrors, display_path
from registry.files import Boundary
from registry.runs.hashing import sha256_of
from registry.runs.manifest import ArtifactSpec, RunManifest, find_run_manifests, load_run_manifest, resolve_inside
from registry.yamlsource import load_yaml

if TYPE_CHECKING:
    from registry.readers.activations.artifact import ActivationArtifact
    from registry.readers.metrics.table import MetricsTable
    from registry.readers.text.columns import TextColumns
    from registry.readers.text.sample import Sample


@dataclass(eq=False)  # a run is itself (hashable by identity: caches of derived values key on it)
class Run:
    """One run: its manifest and lazily opened artifacts. Built once per invocation."""

    manifest: RunManifest
    folder: Path
    manifest_path: Path
    paths: dict[str, Path]
    boundary: Boundary | None = None
    """Where its files may resolve to (registry.files.contained); the run folder when None."""
    _opened: dict[str, Any] = field(default_factory=dict, repr=False)
    _hashes: dict[str, str] = field(default_factory=dict, repr=False)
    _touched: set[str] | None = field(default=None, repr=False)
    # Artifacts whose file is missing or unreadable: only the predictions that use one are affected.
    broken: dict[str, UserError] = field(default_factory=dict)

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
        self._check(name)
        self._touch(name)
        return self.paths[name]

    def _check(self, name: str) -> None:
        if name in self.broken:
            raise self.broken[name]

    def _touch(self, name: str) -> None:
        if self._touched is not None:
            self._touched.add(name)

    def _spec_of_kind(self, name: str, kind: str) -> ArtifactSpec:
        spec = self.spec(name)
        actual = spec.resolved_kind()
        if actual is not None and actual != kind:
            raise CannotMeasure(f"artifact {name!r} of run {self.id!r} is {actual}, not {kind}")
        self._check(name)
        self._touch(name)
        return spec

    @property
    def bounds(self) -> Boundary:
        return self.boundary or Boundary.of(self.folder)

    def _open(self, name: str, kind: str, opener: Any) -> Any:
        spec = self._spec_of_kind(name, kind)
        key = f"{kind}:{name}"
        if key not in self._opened:
            self._opened[key] = opener(self.paths[name], spec)
        return self._opened[key]

    def metrics(self, name: str) -> MetricsTable:
        """A step-indexed metrics table; each column is read at most once per invocation."""
        from registry.readers.metrics.table import MetricsTable

        return self._open(name, "metrics", lambda p, s: MetricsTable(p, s, boundary=self.bounds))  # type: ignore[no-any-return]

    def tensors(self, name: str) -> ActivationArtifact:
        """An activation artifact: one file, or a folder of checkpoints by step, of named tensors."""
        from registry.readers.activations.artifact import open_activations

        return self._open(name, "activations", lambda p, s: open_activations(p, s, self.bounds))  # type: ignore[no-any-return]

    def samples(self, name: str) -> list[Sample]:
        """Every text sample as a list, parsed once and kept: for small artifacts and random access.

        Evaluators should prefer `iter_samples`, which does not hold a large artifact in memory.
        """
        from registry.readers.text.read import read_samples

        return self._open(name, "text", lambda p, s: read_samples(p, s, self.bounds))  # type: ignore[no-any-return]

    def iter_samples(self, name: str) -> Iterator[Sample]:
        """Text samples in file order, for one pass.

        An artifact up to `SAMPLE_CACHE_BYTES` is parsed once per invocation and served from memory
        (as `samples` does); a larger one is streamed from disk on every call and never held, so
        memory stays flat whatever the file's size, at the price of one parse per pass.
        """
        from registry.readers.text.lines import artifact_size
        from registry.readers.text.read import iter_samples

        spec = self._spec_of_kind(name, "text")
        path = self.paths[name]
        if f"text:{name}" in self._opened or artifact_size(path, self.bounds) <= self.SAMPLE_CACHE_BYTES:
            return iter(self.samples(name))
        return iter_samples(path, spec, self.bounds)

    def text_columns(self, name: str) -> TextColumns:
        """The text and step of every sample, read once per invocation for all the predictions on this
        run (the built-in text evaluators that read only text and steps use it).

        A small artifact comes from the parsed samples (`samples`); a larger one is read in one pass
        that keeps only these two columns (so memory grows with the texts' size, unlike `iter_samples`).
        """
        from registry.readers.text.columns import columns_of, read_columns
        from registry.readers.text.lines import artifact_size
        from registry.readers.text.read import iter_samples

        spec = self._spec_of_kind(name, "text")
        key = f"columns:{name}"
        if key not in self._opened:
            path = self.paths[name]
            if f"text:{name}" in self._opened or artifact_size(path, self.bounds) <= self.SAMPLE_CACHE_BYTES:
                self._opened[key] = columns_of(self.samples(name))
            else:
                self._opened[key] = read_columns(path, spec, self.bounds, iter_samples(path, spec, self.bounds))
        return self._opened[key]  # type: ignore[no-any-return]

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

    def release(self) -> None:
        """Forget the opened artifacts (their data is freed; hashes are kept): called once every claim
        on this run is measured, so a sweep's memory does not grow with its number of runs."""
        self._opened.clear()

    def artifact_hash(self, name: str) -> str:
        if name not in self._hashes:
            self._hashes[name] = sha256_of(self.paths[name], self.bounds)
        return self._hashes[name]


def _allowed(allow_outside: Sequence[Path] | None) -> tuple[Path, ...]:
    """The storage roots links may point into: as given, or (None) the project's `allow_outside`."""
    if allow_outside is not None:
        return tuple(allow_outside)
    from registry.config import load_settings

    return load_settings().allow_outside


def load_run(manifest_path: Path, allow_outside: Sequence[Path] | None = None) -> Run:
    """Read and check `run.yaml`: schema, and every artifact path exists inside the folder (links
    may also resolve below the `allow_outside` storage roots of [tool.registry])."""
    manifest, yaml_doc = load_run_manifest(manifest_path)
    folder = manifest_path.parent
    boundary = Boundary.of(folder, _allowed(allow_outside))
    paths: dict[str, Path] = {}
    broken: dict[str, UserError] = {}
    for name, spec in manifest.artifacts.items():
        loc = yaml_doc.locate(("artifacts", name, "path"))
        try:
            paths[name] = resolve_inside(folder, spec.path, loc, boundary)
        except UserError as exc:  # only the predictions that read this artifact are affected
            broken[name] = exc
            paths[name] = folder / spec.path
    return Run(manifest=manifest, folder=folder, manifest_path=manifest_path, paths=paths, broken=broken,
               boundary=boundary)


def selects(applies_tags: list[str], applies_runs: list[str], run: Run) -> bool:
    if any(tag not in run.manifest.tags for tag in applies_tags):
        return False
    return not applies_runs or any(fnmatch.fnmatchcase(run.id, g) for g in applies_runs)


def load_runs(roots: Sequence[Path], allow_outside: Sequence[Path] | None = None) -> list[Run]:
    """Every run below `roots`; all manifest errors are collected, and run ids must be unique."""
    runs, errors = load_runs_isolated(roots, allow_outside)
    errors.extend(e for run in runs for e in run.broken.values())
    if errors:
        raise UserErrors(errors)
    return runs


def load_runs_isolated(
    roots: Sequence[Path], allow_outside: Sequence[Path] | None = None
) -> tuple[list[Run], list[UserError]]:
    """Every readable run below `roots`, and the errors of the others (a broken manifest, or a run id
    used twice: the later folder is left out), so one broken run never stops the rest."""
    allow_outside = _allowed(allow_outside)
    runs: list[Run] = []
    errors: list[UserError] = []
    for manifest in find_run_manifests(list(roots)):
        try:
            runs.append(load_run(manifest, allow_outside))
        except UserErrors as exc:
            errors.extend(exc.errors)
        except UserError as exc:
            errors.append(exc)
    seen: dict[str, Run] = {}
    for run in runs:
        if run.id in seen:
            errors.append(
                UserError(
                    f"duplicate run id {run.id!r} (also in {display_path(seen[run.id].manifest_path)})",
                    location=load_yaml(run.manifest_path).locate(("id",)),
                    hint="run ids are unique across all run folders",
                )
            )
            continue
        seen[run.id] = run
    return list(seen.values()), errors


def run_roots(settings: Settings) -> list[Path]:
    """The folders to look for runs in: the configured local ones that exist, and a local mirror of
    each remote one (registry/runs/remote.py)."""
    from registry.runs.hashing import cache_dir
    from registry.runs.remote import mirror

    cache = (cache_dir() or settings.root / ".registry-cache") / "remote"
    local = [r for r in settings.runs if r.exists()]
    return local + [mirror(url, settings.storage_options, cache) for url in settings.remote_runs]
