"""`registry diff [A] [B]`: the verdict files of two revisions compared (default: HEAD and the working
tree, untracked verdicts included), with one `git diff` and one `git cat-file --batch`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

from registry.config import Settings
from registry.errors import UserError
from registry.integrity.git import Git
from registry.integrity.history import LevelsNow, chain_label, find_claim_file, git_notes, verdicts_rel
from registry.integrity.summary import Summary, _unreadable, describe, summarize


@dataclass(frozen=True)
class DiffEntry:
    claim: str
    run: str
    before: Summary | None
    after: Summary | None
    changes: list[str]
    registration: str | None = None
    """For a verdict of the claim's current version: its registration level now (computed when read)."""


@dataclass
class VerdictDiff:
    a: str
    b: str
    entries: list[DiffEntry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    against_working_tree: bool = False
    """`b` is the working tree (its label, not a revision)."""

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


def verdict_diff(settings: Settings, a: str | None = None, b: str | None = None) -> VerdictDiff:
    git = Git.at(settings.root, "verdict diff")
    if git.head is None and a is None:
        raise UserError("the repository has no commits yet", hint="commit the verdicts once; then diff against HEAD")
    a_rev = a or "HEAD"
    a_sha = git.resolve(a_rev)
    b_sha = git.resolve(b) if b else None
    rel = verdicts_rel(git, settings)
    result = VerdictDiff(a_rev, b or "working tree", notes=git_notes(git), against_working_tree=b is None)
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
    claims = {i: find_claim_file(settings, i) for i in sorted({r[0] for r in rows})}
    levels = LevelsNow(git, settings) if b_sha is None else None
    labels = {claim_id: chain_label(git, settings, claim_id) for claim_id in claims}
    for claim_id, run, before_text, after_text in sorted(rows, key=lambda r: (r[0], r[1])):
        before = summarize(before_text) if before_text is not None else None
        after = summarize(after_text) if after_text is not None else None
        found = claims[claim_id]
        shown = _unreadable(before_text, before, after_text, after) or describe(
            before, after, found[1] if found else None, labels[claim_id]
        )
        level = levels.level(found, after) if levels is not None else None
        result.entries.append(DiffEntry(claim_id, run, before, after, shown, level))
    return result
