"""The amendment chain of a claim, verified entry by entry against the claim file's git history.

The committed versions of a claim file (oldest first, following renames, then the working tree when
it differs) form a chain of fingerprints. Once a version has been judged (a verdict of a non-draft
claim recorded its fingerprint), every later change of the scientific content must be recorded by
an `amendments:` entry whose `replaces:` names the version it changed:

- a *gap*: a judged (or later) version replaced by the next without an amendment naming it;
- a *wrong link*: an amendment whose `replaces:` names no version of the claim, the same version as
  an earlier entry, or versions out of order.

Both are the error `registry validate` gives for a claim changed after it was judged. The verified
chain also labels each fingerprint for `show` and `history`: the original claim, the claim as
amended on a date, or an unrecorded change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from registry.integrity.git import Commit, Git
from registry.language.changes import version_label
from registry.language.fingerprint import claim_from_text, fingerprint, same_version
from registry.language.schema import Claim


@dataclass(frozen=True)
class Version:
    """One stretch of the claim file's history with the same fingerprint."""

    fingerprint: str
    claim: Claim
    """The last content of the stretch (its status is the status when it was changed)."""
    commit: Commit | None
    """The commit that introduced the stretch; None for uncommitted edits."""


@dataclass(frozen=True)
class Gap:
    """A version changed into the next without an amendment naming it."""

    before: Version
    after: Version


@dataclass(frozen=True)
class WrongLink:
    index: int
    """Which `amendments:` entry."""
    message: str


@dataclass
class Chain:
    claim: Claim
    versions: list[Version] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    wrong_links: list[WrongLink] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    """Fingerprint -> which version of the claim it is, from the verified chain."""

    def label(self, recorded: str, schema_version: int) -> str:
        """Which version of the claim a recorded fingerprint belongs to (any schema version)."""
        for v in self.versions:
            if _of(v, recorded, schema_version) and v.fingerprint in self.labels:
                return self.labels[v.fingerprint]
        return version_label(self.claim, recorded, schema_version)


def committed_versions(git: Git, rel: str, current: Claim) -> list[Version]:
    """The claim file's versions, oldest first, consecutive equal fingerprints merged; the working
    tree's content last when it differs from the last commit."""
    history = list(reversed(git.file_history(rel)))
    contents = git.blobs([c.new_blob for c in history if c.new_blob])
    versions: list[Version] = []
    for change in history:
        claim = claim_from_text(contents[change.new_blob]) if change.new_blob else None
        if claim is None:
            continue
        fp = fingerprint(claim)
        if versions and versions[-1].fingerprint == fp:
            versions[-1] = Version(fp, claim, versions[-1].commit)
        else:
            versions.append(Version(fp, claim, change.commit))
    fp = fingerprint(current)
    if versions and versions[-1].fingerprint == fp:
        versions[-1] = Version(fp, current, versions[-1].commit)
    else:
        versions.append(Version(fp, current, None))
    return versions


def _of(version: Version, fp: str, schema_version: int) -> bool:
    """Whether a verdict's recorded fingerprint is this version's (v1 files: by the earlier definition)."""
    return fp == version.fingerprint if schema_version >= 2 else same_version(fp, schema_version, version.claim)


def _replaced(claim: Claim, version: Version, recorded: Sequence[tuple[str, int]]) -> int | None:
    """Index of the amendment whose `replaces:` names this version (its fingerprint, or one that a
    verdict of this version recorded under an earlier schema)."""
    names = {version.fingerprint} | {fp for fp, sv in recorded if _of(version, fp, sv)}
    for i, amendment in enumerate(claim.amendments):
        if any(n.startswith(amendment.replaces) for n in names):
            return i
    return None


def verify(path: Path, claim: Claim, git: Git, recorded: Sequence[tuple[str, int, str | None]]) -> Chain:
    """The chain of the claim in file `path` from git; `recorded`: (fingerprint, schema version,
    status when judged) of every verdict of the claim, in files now and in their committed versions."""
    chain = Chain(claim)
    rel = git.rel(path)
    if rel is None or git.shallow:
        return chain
    chain.versions = versions = committed_versions(git, rel, claim)
    judged = sorted({(fp, sv) for fp, sv, status in recorded if status != "draft"})
    everything = sorted({(fp, sv) for fp, sv, _ in recorded})
    first = next((i for i, v in enumerate(versions) if any(_of(v, fp, sv) for fp, sv in judged)), None)
    links: list[int | None] = [_replaced(claim, v, everything) for v in versions]
    label = "original claim"
    for i, v in enumerate(versions):
        last = i + 1 == len(versions)
        chain.labels[v.fingerprint] = "current claim" if last and label == "original claim" else label
        if last:
            break
        k = links[i]
        if k is not None:
            label = f"claim as amended {claim.amendments[k].date}"
        elif first is not None and i >= first and v.claim.status != "draft":
            chain.gaps.append(Gap(v, versions[i + 1]))
            label = f"unrecorded change of the {label}"
    _check_links(chain, links, everything)
    return chain


def _check_links(chain: Chain, links: list[int | None], recorded: Sequence[tuple[str, int]]) -> None:
    claim, versions = chain.claim, chain.versions
    used = [k for k in links[:-1] if k is not None]
    for k, amendment in enumerate(claim.amendments):
        if k in used:
            continue
        names = [v.fingerprint[:12] for v in versions[:-1]]
        earlier = [a.replaces for a in claim.amendments[:k]]
        if any(r.startswith(amendment.replaces) or amendment.replaces.startswith(r) for r in earlier):
            why = "a version an earlier entry already replaces"
        elif versions[-1].fingerprint.startswith(amendment.replaces):
            why = "which is the claim's current version, not one it replaced"
        elif any(fp.startswith(amendment.replaces) for fp, _ in recorded):
            continue  # names a version judged from uncommitted edits: the verdicts are the record
        elif any(v.fingerprint.startswith(amendment.replaces) for v in versions):
            why = "a version an earlier entry already replaces"
        else:
            why = "which no committed version of the claim has"
        hint = f"the versions it had, oldest first: {', '.join(names)}" if names else "no earlier version is committed"
        chain.wrong_links.append(WrongLink(k, f"amendment replaces {amendment.replaces[:12]}, {why} ({hint})"))
    order = list(used)
    if order != sorted(order):
        k = next(b for a, b in zip(order, order[1:], strict=False) if b < a)
        why = "amendments are out of order: each entry replaces the version after the one before"
        chain.wrong_links.append(WrongLink(k, why))

