"""Verdict history and verdict diffs, read from git.

`registry history CLAIM` is the git log of `verdicts/<claim>/`: one row per commit and verdict file,
with the outcome before and after and what changed (statistics, claim version, registration,
evaluator versions). Each costs one `git log` or `git diff` plus one `git cat-file --batch`,
whatever the number of commits; verdict files are parsed once per blob.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from registry.config import Settings
from registry.errors import UserError
from registry.integrity.chain import Chain
from registry.integrity.git import Commit, Git
from registry.integrity.registration import ClaimAt, Registrar
from registry.integrity.summary import Label, Summary, _unreadable, claim_version, describe, summarize
from registry.language.fingerprint import claim_from_text, same_version
from registry.language.load import claim_files
from registry.language.schema import Claim
from registry.runs.run import Run, load_runs, run_roots


@dataclass(frozen=True)
class HistoryEntry:
    commit: Commit
    run: str
    before: Summary | None
    after: Summary | None
    changes: list[str]
    version: str
    """The claim version the verdict after this commit was recorded under."""
    registration: str | None = None
    """For a verdict of the claim's current version: its registration level now (computed when read)."""


@dataclass
class History:
    claim_id: str
    claim: Claim | None
    entries: list[HistoryEntry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def find_claim_file(settings: Settings, claim_id: str) -> tuple[Path, Claim] | None:
    """The claim's file and current content, if it is in the claims folder (history needs no more)."""
    if not settings.claims.is_dir():
        return None
    for path in claim_files([settings.claims]):
        if path.stem == claim_id:
            claim = claim_from_text(path.read_bytes())
            if claim is not None and claim.id == claim_id:
                return path, claim
    return None


class LevelsNow:
    """Registration levels by today's rule, computed when read, for verdicts of a claim's current
    version (an older version's level is not about the claim as it is). Runs are loaded on first use."""

    def __init__(self, git: Git, settings: Settings):
        self._registrar = Registrar(git)
        self._settings = settings
        self._runs: list[Run] | None = None
        # Thousands of entries share a handful of (version, runs read): one answer each.
        self._levels: dict[tuple[object, ...], str | None] = {}

    def level(self, found: tuple[Path, Claim] | None, summary: Summary | None) -> str | None:
        if found is None or summary is None or summary.runs is None:
            return None
        key = (found[0], summary.fingerprint, summary.schema_version, *((r, *p) for r, p in sorted(summary.runs.items())))
        if key not in self._levels:
            self._levels[key] = self._level(found, summary, summary.runs)
        return self._levels[key]

    def _level(self, found: tuple[Path, Claim], summary: Summary, runs: dict[str, list[str]]) -> str | None:
        if not same_version(summary.fingerprint, summary.schema_version, found[1]):
            return None
        if self._runs is None:
            try:
                self._runs = load_runs(run_roots(self._settings))
            except UserError:
                self._runs = []  # a bad manifest is validate's to report; no level here
            self._registrar.prepare(self._runs)
        registration = self._registrar.of_artifacts(ClaimAt(*found), list(runs.items()), self._runs)
        return registration.level if registration is not None else None


def chain_label(git: Git, settings: Settings, claim_id: str) -> Label:
    """Labels of the claim's versions from its verified amendment chain, read from git on first use
    (a diff whose fingerprints did not change never asks); without a claim file, the bare fingerprint."""
    from registry.integrity.amendments import claim_chain

    chains: list[Chain | None] = []
    labels: dict[tuple[str, int], str] = {}

    def label(recorded: str, schema_version: int) -> str:
        if not chains:
            found = find_claim_file(settings, claim_id)
            chains.append(claim_chain(git, found[0], found[1], settings.verdicts) if found is not None else None)
        chain = chains[0]
        if chain is None:
            return f"fingerprint {recorded[:12]}"
        if (recorded, schema_version) not in labels:
            labels[(recorded, schema_version)] = chain.label(recorded, schema_version)
        return labels[(recorded, schema_version)]

    return label


def verdicts_rel(git: Git, settings: Settings) -> str:
    rel = git.rel(settings.verdicts)
    if rel is None:
        raise UserError(
            f"the verdicts folder {settings.verdicts} is outside the git repository at {git.root}",
            hint="verdict history is read from the repository that holds the verdict files",
        )
    return rel


def git_notes(git: Git) -> list[str]:
    notes = []
    if git.shallow:
        notes.append("shallow clone: older commits are missing (`git fetch --unshallow` for the full history)")
    if git.head is not None and git.branch is None:
        notes.append(f"HEAD is detached at {git.head[:12]}: showing the history of that commit")
    return notes


def verdict_history(settings: Settings, claim_id: str, run: str | None = None) -> History:
    git = Git.at(settings.root, "verdict history")
    folder = PurePosixPath(verdicts_rel(git, settings)) / claim_id
    path = str(folder / f"{run}.yaml") if run else str(folder)
    found = find_claim_file(settings, claim_id)
    claim = found[1] if found is not None else None
    label = chain_label(git, settings, claim_id)
    levels = LevelsNow(git, settings)
    history = History(claim_id, claim, notes=git_notes(git))
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
        version = claim_version(after, claim, label) if after is not None else ""
        shown = _unreadable(change.old_blob, before, change.new_blob, after) or describe(before, after, claim, label)
        level = levels.level(found, after)
        history.entries.append(HistoryEntry(change.commit, run_id, before, after, shown, version, level))
    order = {sha: i for i, sha in enumerate(dict.fromkeys(e.commit.sha for e in history.entries))}
    history.entries.sort(key=lambda e: (order[e.commit.sha], e.run))
    return history


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
    from registry.language.changes import amendment_for, version_label

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
