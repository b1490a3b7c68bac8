"""The verdict: a versioned, frozen model of what one evaluation of a claim on a run (or a set of runs)
measured and decided, and the canonical form of its values (so the same inputs give the same file)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from registry.language.fingerprint import fingerprint, legacy_fingerprints
from registry.language.judge import Decision
from registry.language.schema import Claim, Outcome

# Version 2 (see README "Integrity of the record"): `claim.fingerprint` (canonical, replaces v1's
# `claim.sha256`), `claim.status`, `registration`, `decision`, `expect[].resolved`. Version 3: no
# `registration` (a fact about git, computed when read: registry/integrity/registration.py), so a
# verdict committed with its claim stays current. Version-1 and -2 files are still read (fields
# of other versions are null and left out when rendered).
SCHEMA_VERSION = 3
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
    """v2: sha256 of the claim's canonical scientific content (registry/language/fingerprint.py)."""
    sha256: str | None = None
    """v1 only: the fingerprint under its earlier definition (ids included, nothing sorted)."""
    status: str | None = None
    """v2: the claim's status when it was evaluated (draft, registered or retired)."""



class Registration(_Model):
    """Whether the claim's content was committed before the run existed, from git and run.yaml.
    Stored in version-2 files only; computed when read since version 3."""

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
    reader: str | None = None
    """The version of the reader of this artifact's kind (`READER_VERSIONS` in registry/readers/formats.py),
    so `diff` and `history` can say when a reader changed; absent in files written before it was recorded."""


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
    """v2 only (read, never written): the registration level when it was evaluated. Since v3 it is
    computed when read, from git as it is then."""

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
    kind = type(value)  # the plain types first, without the slower isinstance checks (same results)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return round_float(value)
    if kind is dict:
        return {str(k): canonical(v) for k, v in value.items()}
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
        return round_float(value)
    return str(value)


def round_float(value: float) -> float:
    """A float as verdicts store it: 12 significant digits, -0.0 as 0.0; nan and inf as they are."""
    if not math.isfinite(value):
        return value
    rounded = float(f"{value:.{FLOAT_DIGITS}g}")
    return 0.0 if rounded == 0 else rounded


def cap_evidence(evidence: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in evidence.items():
        value = canonical(value)
        if isinstance(value, list) and len(value) > EVIDENCE_ITEMS:
            out[f"{key}_total"] = len(value)
            value = value[:EVIDENCE_ITEMS]
        out[key] = value
    return out


# The verdict file of a claim judged across runs; `_` cannot start a run id, so it never collides.
ACROSS_RUNS = "_across-runs"


def recorded_fingerprint(verdict: Verdict) -> str:
    """The fingerprint a verdict was recorded under (v2 `fingerprint`, v1 `sha256`)."""
    return verdict.claim.fingerprint or verdict.claim.sha256 or ""


def matches(verdict: Verdict, claim: Claim, current: str | None = None) -> bool:
    """Whether `verdict` was recorded under this version of `claim` (any schema version)."""
    if verdict.claim.fingerprint is not None:
        return verdict.claim.fingerprint == (current or fingerprint(claim))
    return verdict.claim.sha256 in legacy_fingerprints(claim)
