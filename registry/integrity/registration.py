"""Registration level of a verdict: was the claim's content committed before the run existed?

- `preregistered`: the claim's fingerprint has been committed, without interruption, since a commit
  older than the run's start. The run's start is run.yaml's `created` (a date alone means the
  start of that day, UTC; a time without zone means UTC), or else the first commit of any
  artifact the verdict read (a moved run folder dates from the first commit of its contents).
- `postregistered`: committed, but not before the run started, or the run's start is unknown
  (no `created`, artifacts not committed).
- `uncommitted`: the claim file is not committed, or its content (fingerprint) differs from HEAD's
  version of it. Cosmetic edits (title, tags, formatting) that leave the fingerprint alone do not
  count.
- `unknown`: no git history to ask (not a repository, git missing, a shallow clone, the claim file
  outside the repository).

Everything comes from git and the files, never from the clock, so the same repository state
gives the same verdict bytes. What this can and cannot prove: README "Integrity of the record".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from registry.integrity.git import Commit, Git, iso_utc
from registry.language.fingerprint import claim_from_text, fingerprint
from registry.language.loaded import LoadedClaim
from registry.language.schema import Claim
from registry.runs.run import Run
from registry.verdicts.model import Registration, Verdict, matches


@dataclass(frozen=True)
class ClaimAt:
    """A claim file and its current content (what registration needs of a loaded claim)."""

    path: Path
    claim: Claim


ClaimFile = LoadedClaim | ClaimAt


@dataclass(frozen=True)
class ClaimSince:
    """Since when the claim's current content has been committed (or why that is not known)."""

    level: str  # committed | uncommitted | unknown
    reason: str
    commit: Commit | None = None


@dataclass(frozen=True)
class RunStart:
    time: float
    basis: str  # manifest created | artifacts committed
    commit: Commit | None = None


def manifest_time(created: dt.datetime | dt.date) -> float:
    """run.yaml's `created` as epoch seconds: naive times are UTC, a bare date is its first second."""
    if isinstance(created, dt.datetime):
        return (created if created.tzinfo else created.replace(tzinfo=dt.UTC)).timestamp()
    return dt.datetime(created.year, created.month, created.day, tzinfo=dt.UTC).timestamp()


class Registrar:
    """Registration levels for one invocation: one `git log` per claim file, one for all run folders."""

    def __init__(self, git: Git | None, why_not: str = ""):
        self.git = git
        self.why_not = why_not
        self._claims: dict[Path, ClaimSince] = {}
        self._runs: dict[tuple[Path, tuple[Path, ...]], RunStart | None] = {}
        self._fingerprints: dict[str, str | None] = {}
        # From `prepare`: run folders' history, by repository path and by content.
        self._indexed: set[str] = set()
        self._path_first: dict[str, tuple[Commit, str | None]] = {}
        self._blob_first: dict[str, Commit] = {}

    @classmethod
    def for_project(cls, root: Path) -> Registrar:
        git, why = Git.find(root)
        return cls(git, why)

    def version_fingerprints(self, history_blobs: Sequence[str | None]) -> list[str | None]:
        """Fingerprint of each committed version (None: deleted, or not a valid claim then)."""
        assert self.git is not None
        contents = self.git.blobs([b for b in history_blobs if b])
        out: list[str | None] = []
        for blob in history_blobs:
            if blob is None:
                out.append(None)
                continue
            if blob not in self._fingerprints:
                claim = claim_from_text(contents[blob])
                self._fingerprints[blob] = fingerprint(claim) if claim is not None else None
            out.append(self._fingerprints[blob])
        return out

    def claim_since(self, lc: ClaimFile) -> ClaimSince:
        key = lc.path.resolve()
        if key not in self._claims:
            self._claims[key] = self._claim_since(lc)
        return self._claims[key]

    def _claim_since(self, lc: ClaimFile) -> ClaimSince:
        git = self.git
        if git is None:
            return ClaimSince("unknown", f"{self.why_not}: the claim's history cannot be read")
        if git.shallow:
            return ClaimSince("unknown", "shallow clone: when the claim was first committed is not in the history")
        rel = git.rel(lc.path)
        if rel is None:
            return ClaimSince("unknown", "the claim file is outside the git repository")
        history = git.file_history(rel)
        if not history or history[0].new_blob is None:
            return ClaimSince("uncommitted", "the claim file is not committed")
        current = fingerprint(lc.claim)
        fps = self.version_fingerprints([c.new_blob for c in history])
        if fps[0] != current:
            last = history[0].commit.short if history[0].commit else "HEAD"
            return ClaimSince("uncommitted", f"the claim's content differs from its last commit, {last}")
        i = 0
        while i + 1 < len(history) and fps[i + 1] == current:
            i += 1
        commit = history[i].commit
        assert commit is not None
        return ClaimSince("committed", "", commit)

    def run_start(self, run: Run, paths: Sequence[Path]) -> RunStart | None:
        key = (run.folder.resolve(), tuple(sorted(p.resolve() for p in paths)))
        if key not in self._runs:
            self._runs[key] = self._run_start(run, key[1])
        return self._runs[key]

    def _run_start(self, run: Run, paths: Sequence[Path]) -> RunStart | None:
        if run.manifest.created is not None:
            return RunStart(manifest_time(run.manifest.created), "manifest created")
        git = self.git
        if git is None or git.shallow:
            return None
        self.prepare([run])
        firsts: list[Commit] = []
        for path in paths:
            rel = git.rel(path)
            if rel is None:
                continue
            inside = [p for p in self._path_first if p == rel or p.startswith(rel + "/")]
            for p in inside:
                commit, blob = self._path_first[p]
                earlier = self._blob_first.get(blob) if blob else None
                firsts.append(earlier if earlier is not None and earlier.time < commit.time else commit)
        if not firsts:
            return None
        earliest = min(firsts, key=lambda c: c.time)
        return RunStart(earliest.time, "artifacts committed", earliest)

    def prepare(self, runs: Sequence[Run]) -> None:
        """Read, in one `git log`, the history of the folders holding the runs that have no `created`.

        Each file's first commit is kept, and each content's (blob's) first appearance anywhere in
        those folders, so a run folder that was moved still dates from its first commit."""
        git = self.git
        if git is None or git.shallow:
            return
        todo = set()
        for run in runs:
            if run.manifest.created is None:
                rel = git.rel(run.folder.parent)
                if rel is not None and rel not in self._indexed:
                    todo.add(rel)
        if not todo:
            return
        self._indexed.update(todo)
        for change in git.log(sorted(todo)):  # newest first: the last write of each key is the oldest
            assert change.commit is not None
            if change.new_blob:
                self._blob_first[change.new_blob] = change.commit
            self._path_first[change.path] = (change.commit, change.new_blob)

    def registration(self, lc: ClaimFile, runs: Sequence[tuple[Run, Sequence[Path]]]) -> Registration:
        since = self.claim_since(lc)
        if since.commit is None:
            return Registration(level="uncommitted" if since.level == "uncommitted" else "unknown", reason=since.reason)
        commit = since.commit
        claim_part = f"claim content committed {commit.iso} ({commit.short}, {commit.signed})"
        starts: list[tuple[RunStart, Run]] = []
        for run, paths in runs:
            start = self.run_start(run, paths)
            if start is None:
                reason = (
                    f"{claim_part}; run {run.id!r} has no `created` in run.yaml and no committed artifacts, "
                    "so it cannot be shown to have started later"
                )
                return Registration(
                    level="postregistered", reason=reason, claim_commit=commit.short, claim_committed=commit.iso
                )
            starts.append((start, run))
        if not starts:
            reason = f"{claim_part}; no run to compare with"
            return Registration(level="unknown", reason=reason, claim_commit=commit.short, claim_committed=commit.iso)
        start, run = min(starts, key=lambda s: s[0].time)
        which = f"run {run.id!r}" if len(starts) == 1 else f"the earliest run, {run.id!r},"
        before = commit.time < start.time
        return Registration(
            level="preregistered" if before else "postregistered",
            reason=f"{claim_part}, {'before' if before else 'not before'} {which} started {iso_utc(start.time)} ({start.basis})",
            claim_commit=commit.short,
            claim_committed=commit.iso,
            run_started=iso_utc(start.time),
            run_started_from="manifest created" if start.basis == "manifest created" else "artifacts committed",
            run_commit=start.commit.short if start.commit else None,
        )

    def of_verdict(self, lc: ClaimFile, verdict: Verdict, runs: Sequence[Run]) -> Registration | None:
        """The verdict's registration level by today's rule, computed when read (verdict files hold
        only what evaluate measured). None when the verdict judged another version of the claim or
        a run that is gone: its level is not about the claim as it is."""
        if not matches(verdict, lc.claim):
            return None
        refs = [verdict.run] if verdict.run is not None else list(verdict.runs or [])
        return self.of_artifacts(lc, [(ref.id, [a.path for a in ref.artifacts.values()]) for ref in refs], runs)

    def of_artifacts(
        self, lc: ClaimFile, refs: Sequence[tuple[str, Sequence[str]]], runs: Sequence[Run]
    ) -> Registration | None:
        """The level for a verdict of the claim's current version that read, per run id, the artifacts at
        these paths (relative to the run folder); None when a run is gone."""
        by_id = {r.id: r for r in runs}
        if any(run_id not in by_id for run_id, _ in refs):
            return None
        judged: list[tuple[Run, Sequence[Path]]] = []
        for run_id, paths in refs:
            run = by_id[run_id]
            judged.append((run, [run.folder / p for p in paths] or [run.paths[n] for n in run.artifact_names()]))
        return self.registration(lc, judged)
