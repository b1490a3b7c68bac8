"""Amendments: a claim that changed after its verdicts were recorded, found and classified from git.

For every claim that is not a draft, `registry validate` compares the claim's fingerprint with the
ones its verdicts were recorded under. A verdict recorded under another fingerprint means the claim
was changed after it was judged. That is allowed in two honest ways only:

- an `amendments:` entry on the claim (date, reason, and `replaces:` the fingerprint it changed);
- a new claim with `supersedes: <old-id>`, the old claim left as it was and set to `retired`.

Anything else is an error that names what changed (threshold loosened, statistic swapped, ...)
and the commit that changed it, found in the claim file's history (`git log --follow`).
Verdicts recorded while the claim was a draft do not count: drafts may change freely.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from registry.errors import UserError, display_path
from registry.integrity.chain import Chain, verify
from registry.integrity.git import Change as GitChange
from registry.integrity.git import Commit, Git
from registry.language import checks
from registry.language.changes import amendment_for, classify
from registry.language.fingerprint import claim_from_text, fingerprint, same_version
from registry.language.loaded import LoadedClaim
from registry.language.schema import Claim
from registry.verdicts.file import read_header, read_verdict
from registry.verdicts.model import Verdict, recorded_fingerprint

GitProvider = Callable[[], tuple[Git | None, str]]


@dataclass(frozen=True)
class EarlierVersion:
    """The committed version of a claim file that verdicts were recorded under, and what followed."""

    claim: Claim
    changed_in: str
    """"commit abc (date, "subject")", "uncommitted changes", or both."""


def find_version(git: Git, path: Path, recorded: str, schema_version: int, current: Claim) -> EarlierVersion | None:
    """The newest committed version of the claim file at `path` with fingerprint `recorded`."""
    rel = git.rel(path)
    if rel is None:
        return None
    history: list[GitChange] = [c for c in git.file_history(rel)]
    contents = git.blobs([c.new_blob for c in history if c.new_blob])
    for i, change in enumerate(history):
        if change.new_blob is None:
            continue
        claim = claim_from_text(contents[change.new_blob])
        if claim is None or not same_version(recorded, schema_version, claim):
            continue
        parts = []
        if i > 0:
            nxt = history[i - 1].commit
            assert nxt is not None
            later = f" and {i - 1} later commit(s)" if i > 1 else ""
            parts.append(f'commit {nxt.short} ({nxt.day}, "{nxt.subject}"){later}')
        head = history[0]
        head_claim = claim_from_text(contents[head.new_blob]) if head.new_blob else None
        if head_claim is None or fingerprint(head_claim) != fingerprint(current):
            parts.append("uncommitted changes")
        return EarlierVersion(claim, " and ".join(parts) or "uncommitted changes")
    return None


@dataclass(frozen=True)
class Recorded:
    """One verdict's record of the claim: in a verdict file now, or in a committed version of one."""

    fingerprint: str
    schema_version: int
    status: str | None
    """The claim's status when judged (v2); None in version-1 files."""
    run: str


def recorded_in(verdicts: Sequence[Verdict]) -> list[Recorded]:
    return [Recorded(recorded_fingerprint(v), v.schema_version, v.claim.status, v.run_label) for v in verdicts]


def recorded_now(folder: Path, claim_id: str) -> list[Recorded]:
    """The records of the claim's verdict files now, from their headers (a file whose header does not
    scan is read in full; one that cannot be read is left to `registry status`)."""
    out = []
    for path in sorted((folder / claim_id).glob("*.yaml")):
        try:
            header = read_header(path.read_bytes())
            if header is None:
                out.extend(recorded_in([read_verdict(path)]))
            else:
                out.append(Recorded(header.fingerprint, header.schema_version, header.status, path.stem))
        except (OSError, UserError):
            continue
    return out


def recorded_in_git(git: Git, verdicts_rel: str) -> dict[str, list[Recorded]]:
    """Claim id -> every committed verdict's record (one `git log` and one `git cat-file`)."""
    changes = [c for c in git.log([verdicts_rel]) if c.new_blob and c.path.endswith(".yaml")]
    contents = git.blobs([c.new_blob for c in changes if c.new_blob])
    out: dict[str, list[Recorded]] = {}
    seen: set[str] = set()
    for c in changes:
        assert c.new_blob is not None
        parts = Path(c.path).parts
        if c.new_blob in seen or len(parts) < 2:
            continue
        seen.add(c.new_blob)
        header = read_header(contents[c.new_blob])
        if header is None:
            continue
        record = Recorded(header.fingerprint, header.schema_version, header.status, Path(parts[-1]).stem)
        out.setdefault(parts[-2], []).append(record)
    return out


def check_claim(lc: LoadedClaim, recorded: Sequence[Recorded], git_provider: GitProvider) -> dict[str, UserError]:
    """Errors for verdicts of `lc` recorded under a fingerprint that no amendment accounts for, by the
    fingerprint of the version they judged.

    An amendment's `replaces:` may name the fingerprint a verdict recorded, or the (current
    definition's) fingerprint of the committed version that verdict was recorded under: verdicts of
    schema version 1 recorded the same version under another definition."""
    if lc.claim.status == "draft":
        return {}
    current = fingerprint(lc.claim)
    unexplained: dict[tuple[str, int], list[str]] = {}
    for r in recorded:
        if r.status == "draft":
            continue  # judged while a draft: changes since then are not amendments
        same = r.fingerprint == current if r.schema_version >= 2 else same_version(r.fingerprint, r.schema_version, lc.claim)
        if same or amendment_for(lc.claim, r.fingerprint) is not None:
            continue
        runs = unexplained.setdefault((r.fingerprint, min(r.schema_version, 2)), [])
        if r.run not in runs:
            runs.append(r.run)
    if not unexplained:
        return {}
    git, why = git_provider()
    if git is not None and git.shallow:
        git, why = None, "this is a shallow clone (`git fetch --unshallow`)"
    # One error per earlier version of the claim, however many fingerprints its verdicts recorded.
    versions: dict[str, tuple[EarlierVersion | None, list[str]]] = {}
    for (fp, version), runs in sorted(unexplained.items()):
        earlier = find_version(git, lc.path, fp, version, lc.claim) if git is not None else None
        key = fp
        if earlier is not None:
            if version < 2 and earlier.claim.status == "draft":
                continue
            key = fingerprint(earlier.claim)
            if key == current or amendment_for(lc.claim, key) is not None:
                continue  # v1 ids/descriptions only, or recorded under the version's v2 fingerprint
        entry = versions.setdefault(key, (earlier, []))
        entry[1].extend(r for r in runs if r not in entry[1])
    have_git = git is not None
    return {key: _error(lc, key, earlier, sorted(runs), current, have_git, why) for key, (earlier, runs) in versions.items()}


def _hint(lc: LoadedClaim, recorded: str) -> str:
    return (
        f"record it under `amendments:` as {{date: <today>, reason: <why>, replaces: {recorded[:12]}}}, "
        f"or register a new claim with `supersedes: {lc.id}` and set this one to `status: retired`"
    )


def _error(
    lc: LoadedClaim,
    recorded: str,
    earlier: EarlierVersion | None,
    runs: list[str],
    current: str,
    have_git: bool,
    why: str,
) -> UserError:
    n = len(runs)
    what = f"{lc.claim.status} claim changed after it was judged on {n} run(s) ({', '.join(runs[:3])}{', ...' if n > 3 else ''})"
    if earlier is None and not have_git:
        return UserError(
            f"{what} under fingerprint {recorded[:12]}, now {current[:12]}; the change cannot be classified: {why}",
            location=lc.doc.locate(()),
            hint=_hint(lc, recorded),
        )
    if earlier is None:
        return UserError(
            f"{what} under fingerprint {recorded[:12]}, which no committed version of "
            f"{display_path(lc.path)} has (judged from uncommitted edits?); now {current[:12]}",
            location=lc.doc.locate(()),
            hint=_hint(lc, recorded),
        )
    changes = classify(earlier.claim, lc.claim)
    details = "; ".join(c.render() for c in changes[:4]) + ("; ..." if len(changes) > 4 else "")
    return UserError(
        f"{what}: {details}, in {earlier.changed_in}",
        location=lc.doc.locate(changes[0].where if changes else ()),
        hint=_hint(lc, recorded),
    )


def _commit_label(commit: Commit | None) -> str:
    if commit is None:
        return "uncommitted changes"
    return f'commit {commit.short} ({commit.day}, "{commit.subject}")'


def chain_errors(lc: LoadedClaim, chain: Chain, recorded: Sequence[Recorded], reported: set[str]) -> list[UserError]:
    """The chain's gaps (each as the amendment error, unless its version was `reported` already) and
    wrong links, located at the `replaces:` they name."""
    runs = sorted({r.run for r in recorded if r.status != "draft"})
    current = fingerprint(lc.claim)
    errors = []
    for gap in chain.gaps:
        if gap.before.fingerprint in reported:
            continue
        reported.add(gap.before.fingerprint)
        earlier = EarlierVersion(gap.before.claim, _commit_label(gap.after.commit))
        errors.append(_error(lc, gap.before.fingerprint, earlier, runs, current, True, ""))
    for link in chain.wrong_links:
        errors.append(
            UserError(
                link.message,
                location=lc.doc.locate(("amendments", link.index, "replaces")),
                hint="`replaces:` names the fingerprint of the version the amendment changed (`registry history` lists them)",
            )
        )
    return errors


def claim_errors(
    claims: Sequence[LoadedClaim],
    verdicts_folder: Path,
    git_provider: GitProvider,
    read: Mapping[str, Sequence[Verdict]] | None = None,
) -> dict[str, list[UserError]]:
    """Claim id -> its amendment errors (changed after it was judged without a matching, verified
    `amendments:` entry); claims without errors are left out. The one integrity check that every
    command reading claims runs. `read`: the verdict files, when the caller has read them already."""
    out: dict[str, list[UserError]] = {}
    judged = [lc for lc in claims if lc.claim.status != "draft"]
    committed: dict[str, list[Recorded]] = {}
    git: Git | None = None
    if judged:
        # Verdicts re-evaluated after a change would hide it; their committed versions do not.
        git, _ = git_provider()
        rel = git.rel(verdicts_folder) if git is not None else None
        if git is not None and rel is not None:
            committed = recorded_in_git(git, rel)
        if git is not None and not git.shallow:
            git.prefetch_histories(sorted({r for lc in judged if (r := git.rel(lc.path)) is not None}))
    for lc in judged:
        now = recorded_in(read.get(lc.id, [])) if read is not None else recorded_now(verdicts_folder, lc.id)
        recorded = now + committed.get(lc.id, [])
        found = check_claim(lc, recorded, git_provider)
        errors = list(found.values())
        if git is not None and not git.shallow and recorded:
            chain = verify(lc.path, lc.claim, git, [(r.fingerprint, r.schema_version, r.status) for r in recorded])
            errors.extend(chain_errors(lc, chain, recorded, set(found)))
        if errors:
            out[lc.id] = errors
    return out


def check_claims(
    claims: Sequence[LoadedClaim], verdicts_folder: Path, git_provider: GitProvider, *, complete: bool
) -> list[UserError]:
    """Every amendment and supersession error among `claims` (verdicts read from `verdicts_folder`)."""
    errors = [e for errs in claim_errors(claims, verdicts_folder, git_provider).values() for e in errs]
    errors.extend(checks.supersedes_retired(claims, complete))
    return errors


def claim_chain(git: Git, path: Path, claim: Claim, verdicts_folder: Path) -> Chain:
    """The claim's verified amendment chain (for its labels), from its verdicts now and in git."""
    rel = git.rel(verdicts_folder)
    committed = recorded_in_git(git, f"{rel}/{claim.id}").get(claim.id, []) if rel is not None else []
    recorded = recorded_now(verdicts_folder, claim.id) + committed
    return verify(path, claim, git, [(r.fingerprint, r.schema_version, r.status) for r in recorded])


def cached_git(root: Path) -> GitProvider:
    """A provider that looks for the repository once, on first use (validate needs git only when a
    claim changed after its verdicts)."""
    found: list[tuple[Git | None, str]] = []

    def provide() -> tuple[Git | None, str]:
        if not found:
            git, why = Git.find(root)
            if git is not None:
                git.cache = root / ".registry-cache" / "git"
            found.append((git, why))
        return found[0]

    return provide
