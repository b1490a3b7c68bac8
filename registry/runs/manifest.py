"""run.yaml: its models, reading it (located errors), and finding run folders. The one module that owns run.yaml."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from registry.errors import ArtifactError, Location, UserError, UserErrors, display_path, quoted
from registry.files import Boundary, contained, walk
from registry.readers.formats import (
    ALL_FORMATS,
    METRICS_FORMATS,
    RUN_FORMATS,
    SUFFIX_KINDS,
    TABLE,
    ArtifactKind,
    ScalarValue,
)
from registry.yamlsource import YamlDocument, load_yaml, located

MANIFEST = "run.yaml"

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ArtifactSpec(Strict):
    """One named artifact of a run: a file (or folder) relative to the run folder."""

    path: NonEmpty
    kind: ArtifactKind | None = None
    format: str | None = None
    # Keep only rows whose columns equal these values (e.g. `{split: train}`).
    where: dict[str, ScalarValue] = {}
    # Metric names as claims use them -> names in the file (e.g. `loss: train/loss`).
    columns: dict[str, str] = {}
    # Metrics only: which run, in a log store holding several (an MLflow store: run id or run
    # name; a W&B CSV export of several runs: the run name its columns start with).
    run: NonEmpty | None = None
    # Activations only. A folder artifact holds one file (or sub-folder) per checkpoint; this regex,
    # matched against each entry's whole name, says which entries are checkpoints and gives the step
    # in its named group `step` (default: `step_000500.safetensors`, `step-500.npz`, `step500.h5`, ...).
    step_pattern: str | None = None
    # Activations only. Tensor names as claims use them -> names in the file (e.g. `logits: ":out[0]"`).
    aliases: dict[str, str] = {}
    # Activations only. Axis names per tensor: key is a tensor name, an alias or a glob; the first
    # exact key, else the first matching glob in manifest order, wins. Overrides the file's metadata.
    axes: dict[str, list[str]] = {}

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str | None, info: ValidationInfo) -> str | None:
        """One of the formats table's names (for a declared or suffix-told kind, one of that kind's)."""
        if value is None or value in ALL_FORMATS:
            return value
        import difflib

        path = str(info.data.get("path", ""))
        kind = info.data.get("kind") or SUFFIX_KINDS.get("." + path.rsplit(".", 1)[-1].lower() if "." in path else "")
        names = [f.name for f in TABLE if kind is None or f.kind == kind]
        close = difflib.get_close_matches(value, names, n=1, cutoff=0.5)
        guess = f"did you mean {close[0]!r}? " if close else ""
        what = f"{kind} artifacts take" if kind else "formats:"
        raise ValueError(f"unknown format {value!r}; {guess}{what} {', '.join(names)}")

    @field_validator("step_pattern")
    @classmethod
    def _step_group(cls, value: str | None) -> str | None:
        if value is None:
            return value
        import re2  # linear time (RE2): a pattern cannot hang the folder scan

        try:
            compiled = re2.compile(value)
        except re2.error as exc:
            why = exc.args[0] if exc.args else exc
            raise ValueError(
                "step_pattern is not a regular expression RE2 runs (no backreferences or lookaround): "
                f"{why.decode() if isinstance(why, bytes) else why}"
            ) from None
        if "step" not in compiled.groupindex:
            raise ValueError("step_pattern needs a named group `step`, e.g. 'ckpt-(?P<step>\\d+)\\.npz'")
        return value

    @field_validator("axes")
    @classmethod
    def _unique_axes(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for tensor, names in value.items():
            dup = sorted({a for a in names if names.count(a) > 1})
            if dup:
                raise ValueError(f"axes of {tensor!r} name {dup[0]!r} twice")
        return value

    @model_validator(mode="after")
    def _activation_options(self) -> ArtifactSpec:
        used = [k for k in ("step_pattern", "aliases", "axes") if k in self.model_fields_set]
        kind = self.resolved_kind()
        if used and kind not in (None, "activations"):
            raise ValueError(f"{used[0]} is for activation artifacts; this one is {kind}")
        return self

    @model_validator(mode="after")
    def _run_needs_a_store(self) -> ArtifactSpec:
        fmt = self.format or ("mlflow" if self.path.rstrip("/").endswith("mlflow.db") else None)
        if self.run is not None and fmt not in RUN_FORMATS:
            raise ValueError(f"`run:` only applies to `format: {'` or `format: '.join(RUN_FORMATS)}`")
        return self

    def resolved_kind(self) -> ArtifactKind | None:
        if self.kind is not None:
            return self.kind
        if self.format in METRICS_FORMATS:
            return "metrics"
        name = self.path.rstrip("/").rsplit("/", 1)[-1]
        if name in ("trainer_state.json", "mlflow.db") or name.startswith("events.out.tfevents"):
            return "metrics"
        suffix = "." + self.path.rsplit(".", 1)[-1].lower() if "." in self.path else ""
        return SUFFIX_KINDS.get(suffix)


class RunManifest(Strict):
    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=200)]
    description: str | None = None
    tags: list[str] = []
    config: dict[str, Any] = {}
    created: dt.datetime | dt.date | None = None
    artifacts: dict[str, ArtifactSpec] = {}

    @field_validator("artifacts")
    @classmethod
    def _names(cls, value: dict[str, ArtifactSpec]) -> dict[str, ArtifactSpec]:
        for name in value:
            if not re.match(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$", name):
                raise ValueError(f"artifact name {name!r} must be letters, digits, '_', '-' or '.'")
        return value



def load_run_manifest(path: Path) -> tuple[RunManifest, YamlDocument]:
    doc = load_yaml(path)
    try:
        return RunManifest.model_validate(doc.data), doc
    except ValidationError as exc:
        raise UserErrors(located(exc, doc, RunManifest)) from None


def resolve_inside(folder: Path, relative: str, loc: Location, boundary: Boundary | None = None) -> Path:
    """The artifact's path, refusing anything that leaves the run folder: `..`, an absolute path, and
    (through `registry.files.contained`, the one containment check) any link of the artifact or of a
    member of a folder artifact that resolves outside it, and FIFOs and devices."""
    shown = quoted(relative)
    if len(relative) > 1024 or "\0" in relative or any(len(part) > 255 for part in Path(relative).parts):
        raise UserError(
            f"artifact path {shown} is not a usable file name",
            location=loc,
            hint="paths are at most 1024 characters, 255 per name, without NUL",
        )
    rel = Path(relative)
    if rel.is_absolute() or ".." in rel.parts:
        raise UserError(
            f"artifact path {shown} leaves the run folder",
            location=loc,
            hint="artifact paths are relative to the folder holding run.yaml, without '..'",
        )
    target = folder / rel
    try:
        exists, is_link = target.exists(), target.is_symlink()
    except OSError as exc:
        raise UserError(f"artifact path {shown} cannot be looked up: {exc.strerror}", location=loc) from None
    if not exists:
        if is_link:
            raise UserError(f"artifact {shown} is a broken symlink", location=loc)
        raise UserError(
            f"artifact file {shown} does not exist",
            location=loc,
            hint=f"looked for {display_path(target)}",
        )
    try:
        contained(target, boundary or Boundary.of(folder), folder=True)
    except ArtifactError as exc:
        where = "" if exc.path == target else f" ({display_path(exc.path)})"
        raise UserError(f"artifact path {shown}{where} {exc.message}", location=loc, hint=exc.hint) from None
    if not os.access(target, os.R_OK):
        raise UserError(f"artifact file {shown} is not readable", location=loc)
    return target


def find_run_manifests(roots: list[Path]) -> list[Path]:
    """Every `run.yaml` below the given folders (or a folder that is itself a run), sorted.

    A run's own folders are its artifacts, not more runs: the walk stops at a folder holding run.yaml."""
    found: set[Path] = set()
    for root in roots:
        if root.is_file() and root.name == MANIFEST:
            found.add(root)
        elif (root / MANIFEST).is_file():
            found.add(root / MANIFEST)
        elif root.is_dir():
            found.update(f for f in walk(root, descend=lambda d: not (d / MANIFEST).is_file()) if f.name == MANIFEST)
    return sorted(found)
