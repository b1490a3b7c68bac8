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

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry.errors import UserError, display_path
from registry.integrity.git import Change as GitChange
from registry.integrity.git import Git
from registry.language.fingerprint import claim_from_text, fingerprint, same_version
from registry.language.load import LoadedClaim
from registry.language.schema import ALPHA, Claim, ExpectLine, Prediction
from registry.verdicts.file import read_verdict
from registry.verdicts.model import Verdict, recorded_fingerprint
from registry.yamlsource import KeyPath

# Params keys that set where or when something is measured: a change there is a "window changed".
WINDOW_KEYS = frozenset({"within", "window", "steps", "baseline", "lag", "lags", "horizon", "warmup", "step", "checkpoints"})
LOOSER = {">": -1, ">=": -1, "<": 1, "<=": 1}  # the direction in which a threshold gets easier to meet


@dataclass(frozen=True)
class Change:
    """One classified difference between two versions of a claim."""

    kind: str
    """e.g. "threshold loosened", "statistic swapped", "window changed", "prediction added"."""
    where: KeyPath
    """Key path in the newer version (in the older one for something removed)."""
    detail: str

    def render(self) -> str:
        return f"{self.kind} ({self.detail})" if self.detail else self.kind


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _threshold(line: ExpectLine, claim: Claim) -> Any:
    from registry.language.judge import decision_rule

    return decision_rule(claim).per_test_alpha if line.value == ALPHA else line.value


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _diff_values(old: Any, new: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any, Any]]:
    """(key path, old, new) of every differing leaf of two params mappings."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            out.extend(_diff_values(old.get(key), new.get(key), (*path, str(key))))
        return out
    same = old == new and type(old) is type(new) or (_number(old) and _number(new) and old == new)
    return [] if same else [(path, old, new)]


def _expect_changes(old: Prediction, new: Prediction, old_claim: Claim, new_claim: Claim, base: KeyPath) -> list[Change]:
    changes: list[Change] = []
    old_left = list(enumerate(old.expect))
    new_left = list(enumerate(new.expect))
    pairs: list[tuple[int, ExpectLine, int, ExpectLine]] = []
    for same_op in (True, False):
        for j, n in list(new_left):
            match = next((o for o in old_left if o[1].stat == n.stat and (o[1].op == n.op or not same_op)), None)
            if match is not None:
                pairs.append((match[0], match[1], j, n))
                old_left.remove(match)
                new_left.remove((j, n))
    for _, o, j, n in sorted(pairs, key=lambda p: p[2]):
        at = (*base, "expect", j)
        if o.op != n.op:
            changes.append(Change("op changed", (*at, "op"), f"{n.stat} {o.op} {_show(o.value)} → {n.op} {_show(n.value)}"))
            continue
        if o.value == n.value:
            continue  # the same number, or `alpha` in both (an alpha change is reported on its own)
        before, after = _threshold(o, old_claim), _threshold(n, new_claim)
        detail = f"{n.stat} {o.op} {_show(o.value)} → {n.op} {_show(n.value)}"
        if _number(before) and _number(after) and n.op in LOOSER and before != after:
            looser = (after - before) * LOOSER[n.op] > 0
            changes.append(Change("threshold loosened" if looser else "threshold tightened", (*at, "value"), detail))
        elif before != after:
            changes.append(Change("threshold changed", (*at, "value"), detail))
        else:
            changes.append(Change("threshold rewritten", (*at, "value"), f"{detail}, the same number"))
    while old_left and new_left:
        (_, o), (j, n) = old_left.pop(0), new_left.pop(0)
        detail = f"{o.stat} {o.op} {_show(o.value)} → {n.stat} {n.op} {_show(n.value)}"
        changes.append(Change("statistic swapped", (*base, "expect", j, "stat"), detail))
    for _, o in old_left:
        changes.append(Change("expect line removed", (*base, "expect"), f"{o.stat} {o.op} {_show(o.value)}"))
    for j, n in new_left:
        changes.append(Change("expect line added", (*base, "expect", j), f"{n.stat} {n.op} {_show(n.value)}"))
    return changes


def _prediction_changes(o: Prediction, n: Prediction, old: Claim, new: Claim, base: KeyPath) -> list[Change]:
    changes: list[Change] = []
    label = f"{n.id}: " if o.id == n.id else f"{o.id} → {n.id}: "
    if o.level != n.level:
        changes.append(Change("level changed", (*base, "level"), f"{label}{o.level} → {n.level}"))
    if o.evaluator != n.evaluator:
        changes.append(Change("evaluator changed", (*base, "evaluator"), f"{label}{o.evaluator} → {n.evaluator}"))
    if o.across != n.across or o.groups != n.groups:
        changes.append(Change("groups changed", (*base, "groups"), f"{label}across {o.across} → {n.across}"))
    for path, a, b in _diff_values(o.params, n.params):
        kind = "window changed" if any(k in WINDOW_KEYS for k in path) else "params changed"
        changes.append(Change(kind, (*base, "params", *path), f"{label}{'.'.join(path)}: {_show(a)} → {_show(b)}"))
    if o.min_samples != n.min_samples:
        changes.append(Change("min_samples changed", (*base, "min_samples"), f"{label}{o.min_samples} → {n.min_samples}"))
    changes.extend(_expect_changes(o, n, old, new, base))
    return changes


def classify(old: Claim, new: Claim) -> list[Change]:
    """What changed in the claim's scientific content from `old` to `new`, most telling first."""
    changes: list[Change] = []
    for key in ("statement", "falsified_if"):
        if " ".join(getattr(old, key).split()) != " ".join(getattr(new, key).split()):
            changes.append(Change(f"{key} changed", (key,), ""))
    if old.applies_to != new.applies_to:
        before, after = old.applies_to.model_dump(exclude_defaults=True), new.applies_to.model_dump(exclude_defaults=True)
        changes.append(Change("applies_to changed", ("applies_to",), f"{_show(before)} → {_show(after)}"))
    if old.combine != new.combine:
        changes.append(Change("combine changed", ("combine",), f"{old.combine} → {new.combine}"))
    if old.alpha != new.alpha:
        kind = "alpha loosened" if new.alpha > old.alpha else "alpha tightened"
        changes.append(Change(kind, ("alpha",), f"{old.alpha} → {new.alpha}"))
    old_preds = list(old.predictions)
    new_index = {p.id: j for j, p in enumerate(new.predictions)}
    paired: dict[int, Prediction] = {}
    for o in list(old_preds):
        if o.id in new_index:
            paired[new_index[o.id]] = o
            old_preds.remove(o)
    # Renamed predictions: pair the rest in order when they use the same evaluator.
    for j, n in enumerate(new.predictions):
        if j in paired:
            continue
        match = next((o for o in old_preds if o.evaluator == n.evaluator), None)
        if match is not None:
            paired[j] = match
            old_preds.remove(match)
    for j, n in enumerate(new.predictions):
        if j in paired:
            changes.extend(_prediction_changes(paired[j], n, old, new, ("predictions", j)))
        else:
            changes.append(Change("prediction added", ("predictions", j), n.id))
    for o in old_preds:
        changes.append(Change("prediction removed", ("predictions",), o.id))
    if not changes and fingerprint(old) != fingerprint(new):
        changes.append(Change("content changed", (), ""))
    return changes


# --- labels for show / history ----------------------------------------------------------------------


def version_label(claim: Claim, recorded: str, schema_version: int) -> str:
    """Which version of `claim` a fingerprint belongs to: current, original, or as amended on a date."""
    if same_version(recorded, schema_version, claim):
        return f"claim as amended {claim.amendments[-1].date}" if claim.amendments else "current claim"
    for i, amendment in enumerate(claim.amendments):
        if recorded.startswith(amendment.replaces):
            return "original claim" if i == 0 else f"claim as amended {claim.amendments[i - 1].date}"
    return "an unrecorded earlier version"


def amendment_for(claim: Claim, recorded: str) -> int | None:
    """Index of the amendment that replaced the version with this fingerprint, if any."""
    for i, amendment in enumerate(claim.amendments):
        if recorded.startswith(amendment.replaces):
            return i
    return None


# --- the check at `registry validate` -----------------------------------------------------------------


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


def _claim_block(text: bytes) -> dict[str, str]:
    """The `claim:` mapping of a verdict file, read without a YAML parser (the files are canonical)."""
    start = text.find(b"\nclaim:\n")
    out: dict[str, str] = {}
    if start < 0:
        return out
    for line in text[start + 8 :].split(b"\n"):
        if not line.startswith(b"  "):
            break
        key, _, value = line.strip().partition(b": ")
        out[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace").strip("'\"")
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
        text = contents[c.new_blob]
        claim = _claim_block(text)
        version_at = text.find(b"\nschema_version: ")
        version = text[version_at + 17 :].split(b"\n", 1)[0] if version_at >= 0 else b""
        fp = claim.get("fingerprint") or claim.get("sha256")
        if not fp or not version.isdigit():
            continue
        out.setdefault(parts[-2], []).append(Recorded(fp, int(version), claim.get("status"), Path(parts[-1]).stem))
    return out


def check_claim(lc: LoadedClaim, recorded: Sequence[Recorded], git_provider: GitProvider) -> list[UserError]:
    """Errors for verdicts of `lc` recorded under a fingerprint that no amendment accounts for.

    An amendment's `replaces:` may name the fingerprint a verdict recorded, or the (current
    definition's) fingerprint of the committed version that verdict was recorded under: verdicts of
    schema version 1 recorded the same version under another definition."""
    if lc.claim.status == "draft":
        return []
    current = fingerprint(lc.claim)
    unexplained: dict[tuple[str, int], list[str]] = {}
    for r in recorded:
        if r.status == "draft":
            continue  # judged while a draft: changes since then are not amendments
        if same_version(r.fingerprint, r.schema_version, lc.claim) or amendment_for(lc.claim, r.fingerprint) is not None:
            continue
        runs = unexplained.setdefault((r.fingerprint, min(r.schema_version, 2)), [])
        if r.run not in runs:
            runs.append(r.run)
    if not unexplained:
        return []
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
    return [_error(lc, key, earlier, sorted(runs), current, git is not None, why) for key, (earlier, runs) in versions.items()]


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


def check_supersedes(claims: Sequence[LoadedClaim], complete: bool) -> list[UserError]:
    """`supersedes:` must name a claim that exists (when all claims are loaded) and is retired."""
    by_id = {lc.id: lc for lc in claims}
    errors: list[UserError] = []
    for lc in claims:
        old_id = lc.claim.supersedes
        if old_id is None:
            continue
        old = by_id.get(old_id)
        if old is None:
            if complete:
                errors.append(
                    UserError(
                        f"supersedes {old_id!r}, which is not a claim",
                        location=lc.doc.locate(("supersedes",)),
                        hint="keep the old claim file, with `status: retired`",
                    )
                )
            continue
        if old.claim.status != "retired":
            errors.append(
                UserError(
                    f"supersedes {old_id!r}, which is still {old.claim.status}",
                    location=lc.doc.locate(("supersedes",)),
                    hint=f"set `status: retired` in {display_path(old.path)}",
                )
            )
    return errors


def check_claims(
    claims: Sequence[LoadedClaim], verdicts_folder: Path, git_provider: GitProvider, *, complete: bool
) -> list[UserError]:
    """Every amendment and supersession error among `claims` (verdicts read from `verdicts_folder`)."""
    errors: list[UserError] = []
    judged = [lc for lc in claims if lc.claim.status != "draft"]
    committed: dict[str, list[Recorded]] = {}
    if judged:
        # Verdicts re-evaluated after a change would hide it; their committed versions do not.
        git, _ = git_provider()
        rel = git.rel(verdicts_folder) if git is not None else None
        if git is not None and rel is not None:
            committed = recorded_in_git(git, rel)
    for lc in judged:
        recorded = recorded_in(readable_verdicts(verdicts_folder, lc.id)) + committed.get(lc.id, [])
        errors.extend(check_claim(lc, recorded, git_provider))
    errors.extend(check_supersedes(claims, complete))
    return errors


def readable_verdicts(folder: Path, claim_id: str) -> list[Verdict]:
    """The claim's verdict files that can be read; `registry status` reports the others."""
    out = []
    for path in sorted((folder / claim_id).glob("*.yaml")):
        try:
            out.append(read_verdict(path))
        except UserError:
            continue
    return out


def cached_git(root: Path) -> GitProvider:
    """A provider that looks for the repository once, on first use (validate needs git only when a
    claim changed after its verdicts)."""
    found: list[tuple[Git | None, str]] = []

    def provide() -> tuple[Git | None, str]:
        if not found:
            found.append(Git.find(root))
        return found[0]

    return provide
