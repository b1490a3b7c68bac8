"""The parts of a verdict file that history and diff show, and what changed between two versions of one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry.errors import UserError
from registry.language.schema import Claim
from registry.verdicts.file import read_verdict
from registry.verdicts.model import recorded_fingerprint


@dataclass(frozen=True)
class PredictionSummary:
    outcome: str
    evaluator_version: str | None
    n: int | None
    observed: dict[str, Any]
    """Observed value of each expect line's statistic."""
    reason: str | None = None


@dataclass(frozen=True)
class Summary:
    """The parts of a verdict file that history and diff show."""

    outcome: str
    fingerprint: str
    schema_version: int
    registration: str | None
    predictions: dict[str, PredictionSummary]

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
        )
        for p in verdict.predictions
    }
    return Summary(
        outcome=verdict.outcome,
        fingerprint=recorded_fingerprint(verdict),
        schema_version=verdict.schema_version,
        registration=verdict.registration.level if verdict.registration else None,
        predictions=predictions,
    )


def describe(before: Summary | None, after: Summary | None, claim: Claim | None = None) -> list[str]:
    """What changed between two versions of one verdict file, most telling first."""
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
        if q.outcome != p.outcome:
            out.append(f"{pid}: {q.outcome} → {p.outcome}")
        for stat, value in p.observed.items():
            old = q.observed.get(stat)
            if stat in q.observed and old != value:
                out.append(f"{pid}.{stat} {_num(old)} → {_num(value)}")
            elif stat not in q.observed:
                out.append(f"{pid}.{stat}={_num(value)}")
        if q.n != p.n and p.n is not None:
            out.append(f"{pid}.n {q.n} → {p.n}")
        if q.evaluator_version != p.evaluator_version:
            out.append(f"{pid}: evaluator version {q.evaluator_version} → {p.evaluator_version}")
    for pid in before.predictions:
        if pid not in after.predictions:
            out.append(f"{pid}: prediction removed")
    if before.schema_version != after.schema_version:
        out.append(f"verdict schema v{before.schema_version} → v{after.schema_version}")
    elif before.fingerprint != after.fingerprint:
        out.append("claim changed: " + claim_version(after, claim))
    if before.registration != after.registration and after.registration is not None:
        out.append(f"registration {before.registration or 'none'} → {after.registration}")
    return out


def claim_version(summary: Summary, claim: Claim | None) -> str:
    """Which version of the claim the verdict was recorded under (fingerprint, and label if known)."""
    label = f"fingerprint {summary.fingerprint[:12]}"
    if claim is None:
        return label
    from registry.language.changes import version_label

    return f"{label} ({version_label(claim, summary.fingerprint, summary.schema_version)})"


def _unreadable(before_src: object, before: Summary | None, after_src: object, after: Summary | None) -> list[str]:
    """A note for a version that exists but cannot be read (a newer schema version, or not a verdict)."""
    sides = [name for name, src, s in (("before", before_src, before), ("after", after_src, after)) if src and s is None]
    if not sides:
        return []
    return [f"cannot read the verdict {' and '.join(sides)} (a newer schema version than this tool, or not a verdict file)"]
