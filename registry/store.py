"""Verdict files: a versioned model, canonical YAML, byte-stable, written atomically.

One file per (claim, run) at `verdicts/<claim-id>/<run-id>.yaml`, rewritten on each evaluation,
so `git log -p` of the file is that verdict's history. The file holds no wall-clock time and no
absolute path: the same inputs give the same bytes.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import Location, UserError, display_path
from .schema import Outcome

# Version 2 (see README "Integrity of the record"): `claim.fingerprint` (canonical, replaces v1's
# `claim.sha256`), `claim.status`, `registration`, `decision`, `expect[].resolved`. Version-1 files
# are still read (their v2-only fields are null and left out when rendered).
SCHEMA_VERSION = 2
# Floats are stored with 12 significant digits: enough for any statistic, and free of the
# last-bit noise that summation order can leave between numpy builds.
FLOAT_DIGITS = 12
# Evidence lists longer than this keep their first items and record how many there were.
EVIDENCE_ITEMS = 100


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExpectResult(_Model):
    stat: str
    """The statistic compared."""
    op: str
    """The comparison, as written in the claim."""
    value: float | int | str | bool
    """The claim's threshold."""
    observed: float | int | str | bool | None
    """What the evaluator measured; null when undefined on this run."""
    holds: bool | None
    """Whether `observed op value` is true; null when it could not be compared."""
    resolved: float | None = None
    """v2, for `value: alpha` only: the significance level it stood for (after correction)."""


class PredictionVerdict(_Model):
    id: str
    """The prediction's id within the claim."""
    level: str
    """loss, activation or text."""
    evaluator: str
    """Registered evaluator name."""
    evaluator_version: str | None
    """Its version (null when it could not be loaded)."""
    outcome: Outcome
    """pass, fail, inconclusive or error."""
    reason: str | None = None
    """Why the outcome is inconclusive or error; null otherwise."""
    n: int | None = None
    """Independent observations behind the statistics."""
    min_samples: int
    """The claim's minimum n for a pass or fail."""
    statistics: dict[str, float | int | str | bool | None] = {}
    """Every statistic the evaluator returned."""
    expect: list[ExpectResult] = []
    """Each expect line with the observed value."""
    evidence: dict[str, Any] = {}
    """Supporting detail (capped in size)."""
    artifacts: list[str] = []
    """Names of the run's artifacts this prediction read (`run-id:name` across runs)."""
    groups: dict[str, list[str]] | None = None
    """Across runs: the run ids in each group the evaluator was given."""


class ClaimRef(_Model):
    id: str
    fingerprint: str | None = None
    """v2: sha256 of the claim's canonical scientific content (registry/fingerprint.py)."""
    sha256: str | None = None
    """v1 only: the fingerprint under its earlier definition (ids included, nothing sorted)."""
    status: str | None = None
    """v2: the claim's status when it was evaluated (draft, registered or retired)."""


class Decision(_Model):
    """How `value: alpha` was resolved for this claim (v2)."""

    rule: Literal["intersection-union", "bonferroni", "none"]
    """`all`: intersection-union (every test must reject; no correction needed). `any` with k >= 2
    tests: bonferroni (each at alpha/k). `any` with fewer: none."""
    alpha: float
    """The claim's alpha: its false-pass rate under the null."""
    tests: int
    """k: predictions with at least one `value: alpha` line."""
    per_test_alpha: float
    """What `alpha` in an expect line stood for: alpha, or alpha/k under bonferroni."""


class Registration(_Model):
    """Whether the claim's content was committed before the run existed (v2); from git and run.yaml."""

    level: Literal["preregistered", "postregistered", "uncommitted", "unknown"]
    reason: str
    """One line: the evidence for the level, or why it could not be established."""
    claim_commit: str | None = None
    """The first commit of the unbroken stretch of commits whose claim file has this fingerprint."""
    claim_committed: str | None = None
    """That commit's committer date (UTC, ISO 8601)."""
    run_started: str | None = None
    """When the (earliest) run started (UTC, ISO 8601)."""
    run_started_from: Literal["manifest created", "artifacts committed"] | None = None
    """Where run_started comes from: run.yaml's `created`, or the first commit of the run's artifacts."""
    run_commit: str | None = None
    """With `artifacts committed`: that commit."""


class ArtifactRef(_Model):
    path: str
    """Relative to the run folder."""
    sha256: str


class RunRef(_Model):
    id: str
    artifacts: dict[str, ArtifactRef] = {}
    """Every artifact any prediction read, with its content hash."""


class ToolRef(_Model):
    name: Literal["claims-registry"] = "claims-registry"
    version: str


class Verdict(_Model):
    """The verdict of one claim on one run."""

    schema_version: int = Field(default=SCHEMA_VERSION)
    """Version of this file's layout."""
    claim: ClaimRef
    run: RunRef | None = None
    """The run judged (per-run claims)."""
    runs: list[RunRef] | None = None
    """Across runs: every run the claim applies to, each with the hashes of the artifacts read."""
    combine: str
    """How prediction outcomes rolled up (all | any)."""
    outcome: Outcome
    """The claim's outcome on this run."""
    predictions: list[PredictionVerdict]
    tool: ToolRef
    decision: Decision | None = None
    """v2: the claim's alpha and the multiple-comparison rule applied to `value: alpha` lines."""
    registration: Registration | None = None
    """v2: preregistered, postregistered, uncommitted or unknown, with the evidence."""

    @model_validator(mode="after")
    def _fingerprint_of_its_version(self) -> Verdict:
        if self.schema_version >= 2 and self.claim.fingerprint is None:
            raise ValueError("claim.fingerprint is required from schema version 2")
        if self.schema_version < 2 and self.claim.sha256 is None:
            raise ValueError("claim.sha256 is required in schema version 1")
        return self

    @property
    def run_label(self) -> str:
        """The run id, or `_across-runs` for a verdict over a set of runs."""
        return self.run.id if self.run is not None else ACROSS_RUNS


def canonical(value: Any) -> Any:
    """Plain, deterministic data: numpy scalars unwrapped, floats rounded, tuples as lists."""
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if hasattr(value, "tolist"):
        return canonical(value.tolist())
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return value
        rounded = float(f"{value:.{FLOAT_DIGITS}g}")
        return 0.0 if rounded == 0 else rounded
    return str(value)


def cap_evidence(evidence: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in evidence.items():
        value = canonical(value)
        if isinstance(value, list) and len(value) > EVIDENCE_ITEMS:
            out[f"{key}_total"] = len(value)
            value = value[:EVIDENCE_ITEMS]
        out[key] = value
    return out


class _Dumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_presenter)

HEADER = "# Written by `registry evaluate`; do not edit by hand. Its git history is this verdict's history.\n"


# Keys that exist only for one kind of verdict (per run / across runs): left out when empty.
_OPTIONAL_KEYS = ("run", "runs", "groups")

# The verdict file of a claim judged across runs; `_` cannot start a run id, so it never collides.
ACROSS_RUNS = "_across-runs"


# Keys of one schema version only (v1: claim.sha256; v2: the rest), and keys that are only set
# sometimes (registration details, `resolved` on `value: alpha` lines): left out when null.
_VERSIONED_KEYS = {
    "": ("decision", "registration"),
    "claim": ("fingerprint", "sha256", "status"),
    "registration": ("claim_commit", "claim_committed", "run_started", "run_started_from", "run_commit"),
    "expect": ("resolved",),
}


def _drop(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if not (k in keys and v is None)}


def _drop_unset(data: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in data.items() if not (k in _OPTIONAL_KEYS and v is None)}
    out = _drop(out, _VERSIONED_KEYS[""])
    for key in ("claim", "registration"):
        if isinstance(out.get(key), dict):
            out[key] = _drop(out[key], _VERSIONED_KEYS[key])
    if "predictions" in out:
        out["predictions"] = [{k: v for k, v in p.items() if not (k in _OPTIONAL_KEYS and v is None)} for p in out["predictions"]]
        for p in out["predictions"]:
            if isinstance(p.get("expect"), list):
                p["expect"] = [_drop(e, _VERSIONED_KEYS["expect"]) for e in p["expect"]]
    return out


def render(verdict: Verdict) -> str:
    data = canonical(_drop_unset(verdict.model_dump(mode="python")))
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=True, allow_unicode=True, default_flow_style=False, width=100)
    return HEADER + body


def verdict_path(folder: Path, claim_id: str, run_id: str | None) -> Path:
    """`verdicts/<claim>/<run>.yaml`, or `verdicts/<claim>/_across-runs.yaml` for a cross-run verdict."""
    return folder / claim_id / f"{run_id or ACROSS_RUNS}.yaml"


def write_atomic(path: Path, text: str) -> bool:
    """Write via a temporary file and rename; returns False when the file already had this text."""
    data = text.encode("utf-8")
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return True


def read_verdict(path: Path) -> Verdict:
    from .yamlsource import load_yaml

    doc = load_yaml(path)
    version = doc.data.get("schema_version")
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise UserError(
            f"verdict schema version {version} is newer than this tool reads ({SCHEMA_VERSION})",
            location=Location(display_path(path)),
            hint="upgrade claims-registry",
        )
    try:
        return Verdict.model_validate(doc.data)
    except ValidationError as exc:
        from .loading import validation_errors

        first = validation_errors(exc, doc)[0]
        raise UserError(f"not a valid verdict file: {first.message}", location=first.location) from None


def read_verdicts(folder: Path, claim_id: str) -> list[Verdict]:
    d = folder / claim_id
    if not d.is_dir():
        return []
    return [read_verdict(p) for p in sorted(d.glob("*.yaml"))]
