"""Verdict history and verdict diffs, read from git.

`registry history CLAIM` is the git log of `verdicts/<claim>/`: one row per commit and verdict file,
with the outcome before and after and what changed (statistics, claim version, registration,
evaluator versions). `registry diff [A] [B]` compares the verdict files of two revisions (default:
HEAD and the working tree). Each costs one `git log` or `git diff` plus one `git cat-file --batch`,
whatever the number of commits; verdict files are parsed once per blob.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import yaml

from registry.config import Settings
from registry.errors import UserError
from registry.integrity.git import Commit, Git
from registry.language.fingerprint import claim_from_text
from registry.language.schema import Claim
from registry.verdicts.model import ACROSS_RUNS, SCHEMA_VERSION

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("claim"), dict):
        return None
    version = data.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        return None
    claim = data["claim"]
    registration = data.get("registration")
    predictions: dict[str, PredictionSummary] = {}
    for p in data.get("predictions") or []:
        if not isinstance(p, dict):
            continue
        observed = {str(e.get("stat")): e.get("observed") for e in p.get("expect") or [] if isinstance(e, dict)}
        predictions[str(p.get("id"))] = PredictionSummary(
            outcome=str(p.get("outcome")),
            evaluator_version=p.get("evaluator_version"),
            n=p.get("n"),
            observed=observed,
            reason=p.get("reason"),
        )
    return Summary(
        outcome=str(data.get("outcome")),
        fingerprint=str(claim.get("fingerprint") or claim.get("sha256") or ""),
        schema_version=version,
        registration=registration.get("level") if isinstance(registration, dict) else None,
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
    from registry.integrity.amendments import version_label

    return f"{label} ({version_label(claim, summary.fingerprint, summary.schema_version)})"


def _unreadable(before_src: object, before: Summary | None, after_src: object, after: Summary | None) -> list[str]:
    """A note for a version that exists but cannot be read (a newer schema version, or not a verdict)."""
    sides = [name for name, src, s in (("before", before_src, before), ("after", after_src, after)) if src and s is None]
    if not sides:
        return []
    return [f"cannot read the verdict {' and '.join(sides)} (a newer schema version than this tool, or not a verdict file)"]


# --- history ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryEntry:
    commit: Commit
    run: str
    before: Summary | None
    after: Summary | None
    changes: list[str]
    version: str
    """The claim version the verdict after this commit was recorded under."""


@dataclass
class History:
    claim_id: str
    claim: Claim | None
    entries: list[HistoryEntry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def find_claim(settings: Settings, claim_id: str) -> Claim | None:
    """The claim's current content, if its file is in the claims folder (history needs no more)."""
    for suffix in (".yaml", ".yml"):
        for path in sorted(settings.claims.rglob(f"{claim_id}{suffix}")):
            claim = claim_from_text(path.read_bytes())
            if claim is not None and claim.id == claim_id:
                return claim
    return None


def _verdicts_rel(git: Git, settings: Settings) -> str:
    rel = git.rel(settings.verdicts)
    if rel is None:
        raise UserError(
            f"the verdicts folder {settings.verdicts} is outside the git repository at {git.root}",
            hint="verdict history is read from the repository that holds the verdict files",
        )
    return rel


def _notes(git: Git) -> list[str]:
    notes = []
    if git.shallow:
        notes.append("shallow clone: older commits are missing (`git fetch --unshallow` for the full history)")
    if git.head is not None and git.branch is None:
        notes.append(f"HEAD is detached at {git.head[:12]}: showing the history of that commit")
    return notes


def verdict_history(settings: Settings, claim_id: str, run: str | None = None) -> History:
    git = Git.at(settings.root, "verdict history")
    folder = PurePosixPath(_verdicts_rel(git, settings)) / claim_id
    path = str(folder / f"{run}.yaml") if run else str(folder)
    claim = find_claim(settings, claim_id)
    history = History(claim_id, claim, notes=_notes(git))
    changes = [c for c in git.log([path]) if c.path.endswith(".yaml")]
    if not changes and claim is None:
        raise UserError(f"no claim and no committed verdicts for {claim_id!r}", hint="see `registry list`")
    contents = git.blobs([b for c in changes for b in (c.old_blob, c.new_blob) if b])
    parsed: dict[str, Summary | None] = {}

    def summary(blob: str | None) -> Summary | None:
        if blob is None:
            return None
        if blob not in parsed:
            parsed[blob] = summarize(contents[blob])
        return parsed[blob]

    for change in changes:
        assert change.commit is not None
        before, after = summary(change.old_blob), summary(change.new_blob)
        run_id = PurePosixPath(change.path).stem
        version = claim_version(after, claim) if after is not None else ""
        shown = _unreadable(change.old_blob, before, change.new_blob, after) or describe(before, after, claim)
        history.entries.append(HistoryEntry(change.commit, run_id, before, after, shown, version))
    order = {sha: i for i, sha in enumerate(dict.fromkeys(e.commit.sha for e in history.entries))}
    history.entries.sort(key=lambda e: (order[e.commit.sha], e.run))
    return history


# --- diff ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiffEntry:
    claim: str
    run: str
    before: Summary | None
    after: Summary | None
    changes: list[str]


@dataclass
class VerdictDiff:
    a: str
    b: str
    entries: list[DiffEntry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for e in self.entries:
            if e.before is None:
                key = "new"
            elif e.after is None:
                key = "removed"
            elif e.before.outcome != e.after.outcome:
                key = f"{e.before.outcome} → {e.after.outcome}"
            else:
                key = "same outcome"
            out[key] = out.get(key, 0) + 1
        return out


def _claims_by_id(settings: Settings, ids: Iterable[str]) -> dict[str, Claim | None]:
    return {i: find_claim(settings, i) for i in sorted(set(ids))}


def verdict_diff(settings: Settings, a: str | None = None, b: str | None = None) -> VerdictDiff:
    git = Git.at(settings.root, "verdict diff")
    if git.head is None and a is None:
        raise UserError("the repository has no commits yet", hint="commit the verdicts once; then diff against HEAD")
    a_rev = a or "HEAD"
    a_sha = git.resolve(a_rev)
    b_sha = git.resolve(b) if b else None
    rel = _verdicts_rel(git, settings)
    result = VerdictDiff(a_rev, b or "working tree", notes=_notes(git))
    changes = [c for c in git.diff(a_sha, b_sha, rel) if c.path.endswith(".yaml")]
    blobs = git.blobs([x for c in changes for x in (c.old_blob, c.new_blob) if x])

    def text_after(path: str, blob: str | None) -> bytes | None:
        if b_sha is not None:
            return blobs.get(blob) if blob else None
        file = git.root / path
        return file.read_bytes() if file.is_file() else None

    rows: list[tuple[str, str, bytes | None, bytes | None]] = []
    for c in changes:
        parts = PurePosixPath(c.path).relative_to(rel).parts
        if len(parts) != 2:
            continue  # not verdicts/<claim>/<run>.yaml
        old_text = blobs.get(c.old_blob) if c.old_blob else None
        new_text = text_after(c.path, c.new_blob)
        if old_text != new_text:
            rows.append((parts[0], PurePosixPath(parts[1]).stem, old_text, new_text))
    claims = _claims_by_id(settings, [r[0] for r in rows])
    for claim_id, run, before_text, after_text in sorted(rows, key=lambda r: (r[0], r[1])):
        before = summarize(before_text) if before_text is not None else None
        after = summarize(after_text) if after_text is not None else None
        shown = _unreadable(before_text, before, after_text, after) or describe(before, after, claims[claim_id])
        result.entries.append(DiffEntry(claim_id, run, before, after, shown))
    return result


def markdown(diff: VerdictDiff) -> str:
    """The diff as a pull-request comment."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    def outcome(s: Summary | None, bold: bool) -> str:
        if s is None:
            return "—"
        return f"**{s.outcome}**" if bold else s.outcome

    lines = [f"### Verdict changes: `{diff.a}` → {'working tree' if diff.b == 'working tree' else f'`{diff.b}`'}", ""]
    if not diff.entries:
        lines.append("No verdict changed.")
        return "\n".join(lines) + "\n"
    summary = ", ".join(f"{n} {k}" for k, n in sorted(diff.counts().items()))
    lines += [f"{len(diff.entries)} verdict(s) changed: {summary}.", ""]
    lines += ["| claim | run | before | after | what changed |", "| --- | --- | --- | --- | --- |"]
    for e in diff.entries:
        changed = e.before is not None and e.after is not None and e.before.outcome != e.after.outcome
        run = "across runs" if e.run == ACROSS_RUNS else e.run
        lines.append(
            f"| `{cell(e.claim)}` | `{cell(run)}` | {outcome(e.before, False)} | {outcome(e.after, changed)} "
            f"| {cell('; '.join(e.changes[:6]) + ('; …' if len(e.changes) > 6 else ''))} |"
        )
    for note in diff.notes:
        lines += ["", f"_{note}_"]
    return "\n".join(lines) + "\n"


def as_data(entries: Iterable[HistoryEntry | DiffEntry]) -> list[dict[str, Any]]:
    """JSON-ready rows for `--format json`."""
    out: list[dict[str, Any]] = []
    for e in entries:
        row: dict[str, Any] = {
            "run": e.run,
            "before": e.before.outcome if e.before else None,
            "after": e.after.outcome if e.after else None,
            "changes": e.changes,
        }
        if isinstance(e, HistoryEntry):
            row.update(
                commit=e.commit.sha,
                date=e.commit.iso,
                author=e.commit.author,
                subject=e.commit.subject,
                claim_version=e.version,
            )
        else:
            row["claim"] = e.claim
        if e.after is not None:
            row["fingerprint"] = e.after.fingerprint
            row["registration"] = e.after.registration
        out.append(row)
    return out


# --- earlier versions, for `registry show` ----------------------------------------------------------


@dataclass(frozen=True)
class EarlierVerdict:
    label: str
    """e.g. "original claim"."""
    run: str
    outcome: str
    commit: Commit
    """The last commit whose verdict file was recorded under that version."""


def earlier_verdicts(settings: Settings, claim: Claim) -> list[EarlierVerdict]:
    """For an amended claim: the last committed verdict of each run under each replaced version."""
    if not claim.amendments:
        return []
    git, _ = Git.find(settings.root)
    if git is None:
        return []
    rel = git.rel(settings.verdicts)
    if rel is None:
        return []
    from registry.integrity.amendments import amendment_for, version_label

    changes = [c for c in git.log([str(PurePosixPath(rel) / claim.id)]) if c.new_blob and c.path.endswith(".yaml")]
    contents = git.blobs([c.new_blob for c in changes if c.new_blob])
    found: dict[tuple[int, str], EarlierVerdict] = {}
    for c in changes:  # newest first: keep the first hit per (version, run)
        assert c.new_blob is not None and c.commit is not None
        s = summarize(contents[c.new_blob])
        if s is None:
            continue
        i = amendment_for(claim, s.fingerprint)
        run = PurePosixPath(c.path).stem
        if i is not None and (i, run) not in found:
            label = version_label(claim, s.fingerprint, s.schema_version)
            found[(i, run)] = EarlierVerdict(label, run, s.outcome, c.commit)
    return [found[k] for k in sorted(found)]
