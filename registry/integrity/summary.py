"""The parts of a verdict file that history and diff show, and what changed between two versions of one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry.errors import UserError
from registry.language.schema import Claim
from registry.verdicts.file import read_verdict
from registry.verdicts.model import recorded_fingerprint

Label = Callable[[str, int], str]
"""(recorded fingerprint, schema version) -> which version of the claim it is."""


@dataclass(frozen=True)
class PredictionSummary:
    outcome: str
    evaluator_version: str | None
    n: int | None
    observed: dict[str, Any]
    """Observed value of each expect line's statistic."""
    reason: str | None = None
    statistics: dict[str, Any] | None = None
    """Every statistic the evaluator returned."""


@dataclass(frozen=True)
class Summary:
    """The parts of a verdict file that history and diff show."""

    outcome: str
    fingerprint: str
    schema_version: int
    registration: str | None
    """Stored in version-2 files only (since version 3 it is computed when read)."""
    predictions: dict[str, PredictionSummary]
    artifacts: dict[str, str] | None = None
    """Artifact (`run-id:name` across runs) -> sha256."""
    runs: dict[str, list[str]] | None = None
    """Run id -> the paths (relative to the run folder) of the artifacts read."""
    tool_version: str | None = None
    readers: dict[str, str] | None = None
    """Artifact (as in `artifacts`) -> the version of its reader, where the file records one."""

    def key_statistics(self) -> list[str]:
        out = []
        for pid, p in self.predictions.items():
            if p.observed:
                out.append(f"{pid}: " + ", ".join(f"{s}={_num(v)}" for s, v in p.observed.items()) + f" (n={p.n})")
            else:
                out.append(f"{pid}: {p.outcome}" + (f" ({p.reason})" if p.reason else ""))
        return out


def _num(x: Any) -> str:
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def summarize(text: bytes | str) -> Summary | None:
    """A verdict file's summary, or None when it is not a verdict this tool can read."""
    try:
        verdict = read_verdict(Path("<verdict>"), text=text.decode("utf-8") if isinstance(text, bytes) else text)
    except (UserError, UnicodeDecodeError):
        return None
    predictions = {
        p.id: PredictionSummary(
            outcome=p.outcome,
            evaluator_version=p.evaluator_version,
            n=p.n,
            observed={e.stat: e.observed for e in p.expect},
            reason=p.reason,
            statistics=dict(p.statistics),
        )
        for p in verdict.predictions
    }
    refs = [verdict.run] if verdict.run is not None else list(verdict.runs or [])
    prefix = verdict.run is None
    artifacts = {(f"{r.id}:{name}" if prefix else name): a.sha256 for r in refs for name, a in sorted(r.artifacts.items())}
    readers = {
        (f"{r.id}:{name}" if prefix else name): a.reader for r in refs for name, a in sorted(r.artifacts.items()) if a.reader
    }
    return Summary(
        outcome=verdict.outcome,
        fingerprint=recorded_fingerprint(verdict),
        schema_version=verdict.schema_version,
        registration=verdict.registration.level if verdict.registration else None,
        predictions=predictions,
        artifacts=artifacts,
        runs={r.id: [a.path for _, a in sorted(r.artifacts.items())] for r in refs},
        tool_version=verdict.tool.version,
        readers=readers,
    )


def describe(before: Summary | None, after: Summary | None, claim: Claim | None = None, label: Label | None = None) -> list[str]:
    """What changed between two versions of one verdict file, most telling first: outcomes, statistic
    values (old → new), n, evaluator versions, the claim's fingerprint, each artifact's hash (by name),
    the tool's version. `label` names a claim version (default: from the claim's amendments)."""
    if after is None:
        return ["verdict removed"]
    if before is None:
        return ["new verdict", *after.key_statistics()]
    out: list[str] = []
    for pid, p in after.predictions.items():
        q = before.predictions.get(pid)
        if q is None:
            out.append(f"{pid}: new prediction ({p.outcome})")
            continue
        out.extend(_prediction_changes(pid, q, p))
    for pid in before.predictions:
        if pid not in after.predictions:
            out.append(f"{pid}: prediction removed")
    if before.schema_version != after.schema_version:
        out.append(f"verdict schema v{before.schema_version} → v{after.schema_version}")
    if before.fingerprint != after.fingerprint:
        now = claim_version(after, claim, label).removeprefix("fingerprint ")
        out.append(f"claim fingerprint {before.fingerprint[:12]} → {now}")
    out.extend(_artifact_changes(before.artifacts or {}, after.artifacts or {}))
    out.extend(_reader_changes(before.readers or {}, after.readers or {}))
    if before.tool_version != after.tool_version and before.tool_version and after.tool_version:
        out.append(f"tool version {before.tool_version} → {after.tool_version}")
    return out


def _prediction_changes(pid: str, q: PredictionSummary, p: PredictionSummary) -> list[str]:
    out = []
    if q.outcome != p.outcome:
        out.append(f"{pid}: {q.outcome} → {p.outcome}")
    old_stats = {**(q.statistics or {}), **q.observed}
    new_stats = {**(p.statistics or {}), **p.observed}
    for stat in [*p.observed, *(s for s in new_stats if s not in p.observed)]:
        value = new_stats[stat]
        if stat in old_stats and not _same(old_stats[stat], value):
            out.append(f"{pid}.{stat} {_num(old_stats[stat])} → {_num(value)}")
        elif stat not in old_stats and stat in p.observed:
            out.append(f"{pid}.{stat}={_num(value)}")
    if q.n != p.n and p.n is not None:
        out.append(f"{pid}.n {q.n} → {p.n}")
    if q.evaluator_version != p.evaluator_version:
        out.append(f"{pid}: evaluator version {q.evaluator_version} → {p.evaluator_version}")
    return out


def _same(a: Any, b: Any) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and a != a and b != b)


def _artifact_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    out = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if old is None:
            out.append(f"artifact {name} now read (sha256 {new and new[:12]})")
        elif new is None:
            out.append(f"artifact {name} no longer read")
        else:
            out.append(f"artifact {name} changed (sha256 {old[:12]} → {new[:12]})")
    return out


def _reader_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Reader versions that changed for an artifact read on both sides (files before readers were
    recorded have none: nothing to compare)."""
    return [
        f"reader of artifact {name}: version {before[name]} → {after[name]}"
        for name in sorted(set(before) & set(after))
        if before[name] != after[name]
    ]


def claim_version(summary: Summary, claim: Claim | None, label: Label | None = None) -> str:
    """Which version of the claim the verdict was recorded under (fingerprint, and label if known):
    from the verified amendment chain when `label` is given, else from the claim's amendments."""
    shown = f"fingerprint {summary.fingerprint[:12]}"
    if claim is None:
        return shown
    if label is not None:
        return f"{shown} ({label(summary.fingerprint, summary.schema_version)})"
    from registry.language.changes import version_label

    return f"{shown} ({version_label(claim, summary.fingerprint, summary.schema_version)})"


def _unreadable(before_src: object, before: Summary | None, after_src: object, after: Summary | None) -> list[str]:
    """A note for a version that exists but cannot be read (a newer schema version, or not a verdict)."""
    sides = [name for name, src, s in (("before", before_src, before), ("after", after_src, after)) if src and s is None]
    if not sides:
        return []
    return [f"cannot read the verdict {' and '.join(sides)} (a newer schema version than this tool, or not a verdict file)"]
