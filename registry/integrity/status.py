"""Stale verdicts (`registry status`) and the registry-level accounting (`registry stats`).

A verdict is *stale* when evaluating now would write a different file for a reason other than
the measurement itself: the claim's fingerprint or status changed, an artifact's content or path
changed, an evaluator's version changed, the set of runs (across runs) changed, the file was
or the file was written by an older schema version. (The registration level is not in the file: it
is computed here, when read, so committing a claim with its verdict leaves the verdict current.)
A (claim, run) pair the claim applies to without a verdict file is *missing*; a verdict file whose
claim no longer exists or no longer applies to its run is *orphaned*; one that cannot be read is
*unreadable*; every pair of a claim changed after it was judged without a matching amendment is
*refused* (the error `registry validate` gives). `registry status --check` exits 1 when anything is
not ok.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from registry.config import Settings
from registry.errors import UserError
from registry.integrity.amendments import claim_errors
from registry.integrity.registration import Registrar
from registry.language.fingerprint import fingerprint
from registry.language.load import load_claims
from registry.language.loaded import LoadedClaim
from registry.plugins import EvaluatorRegistry, EvaluatorUnavailable, UnknownEvaluator
from registry.runs.run import Run, load_runs_isolated, run_roots, selects
from registry.verdicts.file import read_verdict
from registry.verdicts.model import ACROSS_RUNS, SCHEMA_VERSION, Registration, Verdict, matches, recorded_fingerprint

STATES = ("ok", "refused", "stale", "missing", "orphaned", "unreadable")


@dataclass(frozen=True)
class PairState:
    claim: str
    run: str
    """A run id, or `_across-runs`."""
    state: str
    reasons: tuple[str, ...] = ()
    verdict: Verdict | None = None
    registration: Registration | None = None
    """Computed now, from git (None: no verdict, or it judged another version of the claim)."""


@dataclass
class ProjectStatus:
    pairs: list[PairState] = field(default_factory=list)
    claims: list[LoadedClaim] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    refused: dict[str, list[UserError]] = field(default_factory=dict)
    """Claim id -> why it is refused (changed after it was judged, not recorded as an amendment)."""
    # Run manifests that could not be read: reported (exit 2), and every other pair still listed.
    broken: list[UserError] = field(default_factory=list)

    @property
    def problems(self) -> list[PairState]:
        return [p for p in self.pairs if p.state != "ok"]

    def counts(self) -> dict[str, int]:
        c = Counter(p.state for p in self.pairs)
        return {s: c[s] for s in STATES if c[s]}


def _load(settings: Settings, evaluators: EvaluatorRegistry) -> tuple[list[LoadedClaim], list[Run], list[UserError]]:
    claims = load_claims([settings.claims], evaluators) if settings.claims.exists() else []
    runs, broken = load_runs_isolated(run_roots(settings))
    return claims, runs, broken


def expected_pairs(claims: Sequence[LoadedClaim], runs: Sequence[Run]) -> dict[tuple[str, str], list[Run]]:
    """(claim id, run label) -> the runs the verdict judges, for every verdict evaluate would write."""
    out: dict[tuple[str, str], list[Run]] = {}
    for lc in claims:
        chosen = [r for r in runs if selects(lc.claim.applies_to.tags, lc.claim.applies_to.runs, r)]
        if not chosen:
            continue
        if lc.claim.across_runs:
            out[(lc.id, ACROSS_RUNS)] = sorted(chosen, key=lambda r: r.id)
        else:
            for r in chosen:
                out[(lc.id, r.id)] = [r]
    return out


def _artifact_reasons(verdict: Verdict, runs: Sequence[Run]) -> list[str]:
    by_id = {r.id: r for r in runs}
    refs = [verdict.run] if verdict.run is not None else list(verdict.runs or [])
    reasons: list[str] = []
    for ref in refs:
        run = by_id.get(ref.id)
        if run is None:
            continue
        prefix = f"{ref.id}:" if verdict.run is None else ""
        for name, art in sorted(ref.artifacts.items()):
            if name in run.broken:
                reasons.append(f"artifact {prefix}{name} cannot be read: {run.broken[name].message}")
            elif name not in run.paths:
                reasons.append(f"artifact {prefix}{name} is no longer declared")
            elif run.paths[name].relative_to(run.folder).as_posix() != art.path:
                reasons.append(f"artifact {prefix}{name} now points at {run.paths[name].relative_to(run.folder).as_posix()}")
            elif run.artifact_hash(name) != art.sha256:
                reasons.append(f"artifact {prefix}{name} changed (sha256 {art.sha256[:12]} → {run.artifact_hash(name)[:12]})")
    return reasons


def stale_reasons(verdict: Verdict, lc: LoadedClaim, runs: Sequence[Run], evaluators: EvaluatorRegistry) -> list[str]:
    """Why evaluating now would rewrite this verdict for reasons other than a new measurement."""
    reasons: list[str] = []
    claim = lc.claim
    if verdict.schema_version < SCHEMA_VERSION:
        reasons.append(f"written by verdict schema version {verdict.schema_version} (now {SCHEMA_VERSION})")
    current = fingerprint(claim)
    if not matches(verdict, claim, current):
        from registry.language.changes import version_label

        label = version_label(claim, recorded_fingerprint(verdict), verdict.schema_version)
        reasons.append(f"claim changed since (recorded under {label}, fingerprint {recorded_fingerprint(verdict)[:12]})")
    if verdict.claim.status is not None and verdict.claim.status != claim.status:
        reasons.append(f"claim status {verdict.claim.status} → {claim.status}")
    ids = [p.id for p in verdict.predictions]
    if sorted(ids) != sorted(p.id for p in claim.predictions):
        reasons.append("prediction ids changed")
    if verdict.runs is not None:
        before = {r.id for r in verdict.runs}
        now = {r.id for r in runs}
        if before != now:
            delta = [f"+{r}" for r in sorted(now - before)] + [f"-{r}" for r in sorted(before - now)]
            reasons.append(f"runs changed ({', '.join(delta)})")
    reasons.extend(_artifact_reasons(verdict, runs))
    for p in verdict.predictions:
        try:
            version = evaluators.get(p.evaluator).version
        except (UnknownEvaluator, EvaluatorUnavailable):
            version = None
        if version != p.evaluator_version:
            reasons.append(f"evaluator {p.evaluator} {p.evaluator_version} → {version or 'unavailable'}")
    return list(dict.fromkeys(reasons))


def _read_files(settings: Settings) -> dict[tuple[str, str], Verdict | UserError]:
    """Every verdict file, read once: (claim, run) -> the verdict, or why it cannot be read."""
    folder = settings.verdicts
    out: dict[tuple[str, str], Verdict | UserError] = {}
    for path in sorted(folder.glob("*/*.yaml")) if folder.is_dir() else []:
        try:
            out[(path.parent.name, path.stem)] = read_verdict(path)
        except UserError as exc:
            out[(path.parent.name, path.stem)] = exc
    return out


def _refusal(errors: Sequence[UserError]) -> tuple[str, ...]:
    return tuple(e.render() for e in errors)


def project_status(settings: Settings, evaluators: EvaluatorRegistry | None = None) -> ProjectStatus:
    evaluators = evaluators or EvaluatorRegistry()
    claims, runs, broken = _load(settings, evaluators)
    registrar = Registrar.for_project(settings.root)
    registrar.prepare(runs)
    expected = expected_pairs(claims, runs)
    by_claim = {lc.id: lc for lc in claims}
    files = _read_files(settings)
    by_claim_read: dict[str, list[Verdict]] = {}
    for (claim_id, _), read in files.items():
        if isinstance(read, Verdict):
            by_claim_read.setdefault(claim_id, []).append(read)
    refused = claim_errors(claims, settings.verdicts, lambda: (registrar.git, registrar.why_not), by_claim_read)
    status = ProjectStatus(claims=claims, runs=runs, refused=refused, broken=broken)
    seen: set[tuple[str, str]] = set()
    for key, verdict in files.items():
        seen.add(key)
        if isinstance(verdict, UserError):
            status.pairs.append(PairState(*key, "unreadable", (verdict.message,)))
            continue
        lc = by_claim.get(key[0])
        if lc is None:
            status.pairs.append(PairState(*key, "orphaned", (f"no claim {key[0]!r}",), verdict))
            continue
        if key not in expected:
            why = f"the claim does not apply to run {key[1]!r}" if key[1] != ACROSS_RUNS else "the claim is not across runs"
            state = "orphaned"
            if key[1] != ACROSS_RUNS and key[1] not in {r.id for r in runs}:
                why = f"no run {key[1]!r}"
                if broken:  # it may be one of the runs whose manifest could not be read
                    state, why = "unreadable", f"no readable run {key[1]!r} ({len(broken)} run manifest(s) could not be read)"
            status.pairs.append(PairState(*key, state, (why,), verdict))
            continue
        registration = registrar.of_verdict(lc, verdict, expected[key])
        if key[0] in status.refused:
            status.pairs.append(PairState(*key, "refused", _refusal(status.refused[key[0]]), verdict, registration))
            continue
        reasons = stale_reasons(verdict, lc, expected[key], evaluators)
        status.pairs.append(PairState(*key, "stale" if reasons else "ok", tuple(reasons), verdict, registration))
    for key in sorted(expected):
        if key not in seen:
            errors = status.refused.get(key[0])
            missing = PairState(*key, "missing", ("never evaluated",))
            status.pairs.append(PairState(*key, "refused", _refusal(errors)) if errors else missing)
    status.pairs.sort(key=lambda p: (p.claim, p.run))
    return status


# --- stats -------------------------------------------------------------------------------------------


@dataclass
class Stats:
    claims_by_status: dict[str, int]
    verdicts_by_outcome: dict[str, dict[str, int]]
    """Claim status -> outcome -> number of verdict files (current files only)."""
    registration: dict[str, int]
    inconclusive_reasons: dict[str, int]
    """Prediction-level reasons, numbers replaced by N so that alike reasons group."""
    pair_states: dict[str, int]
    never_evaluated: list[tuple[str, str]]
    unjudged_claims: list[str]
    """Registered or retired claims without a single verdict file."""
    amendments: list[tuple[str, str, str]]
    """(claim id, date, reason) of every recorded amendment."""
    superseded: list[tuple[str, str]]
    """(new claim, the retired claim it supersedes)."""
    retired_outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    """Retired claim -> outcomes of its verdicts: were claims retired after failing?"""
    refused: list[str] = field(default_factory=list)
    """Claims changed after they were judged without a matching amendment (`registry validate` says how)."""


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def reason_kind(reason: str) -> str:
    return _NUMBER.sub("N", reason)


def project_stats(settings: Settings) -> Stats:
    status = project_status(settings)
    claims = status.claims
    by_id = {lc.id: lc for lc in claims}
    by_status: Counter[str] = Counter(lc.claim.status for lc in claims)
    outcomes: dict[str, Counter[str]] = {}
    registration: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    judged: set[str] = set()
    retired: dict[str, Counter[str]] = {}
    for pair in status.pairs:
        v = pair.verdict
        lc = by_id.get(pair.claim)
        if v is None or lc is None:
            continue
        judged.add(pair.claim)
        outcomes.setdefault(lc.claim.status, Counter())[v.outcome] += 1
        registration[pair.registration.level if pair.registration else "of an earlier claim version"] += 1
        if lc.claim.status == "retired":
            retired.setdefault(lc.id, Counter())[v.outcome] += 1
        for p in v.predictions:
            if p.outcome == "inconclusive" and p.reason:
                reasons[reason_kind(p.reason)] += 1
    return Stats(
        claims_by_status={s: by_status[s] for s in ("draft", "registered", "retired") if by_status[s]},
        verdicts_by_outcome={s: dict(sorted(c.items())) for s, c in sorted(outcomes.items())},
        registration=dict(sorted(registration.items())),
        inconclusive_reasons=dict(reasons.most_common()),
        pair_states=status.counts(),
        never_evaluated=[(p.claim, p.run) for p in status.pairs if p.state == "missing"],
        unjudged_claims=sorted(lc.id for lc in claims if lc.claim.status != "draft" and lc.id not in judged),
        amendments=[(lc.id, str(a.date), a.reason) for lc in claims for a in lc.claim.amendments],
        superseded=sorted((lc.id, lc.claim.supersedes) for lc in claims if lc.claim.supersedes),
        retired_outcomes={k: dict(sorted(c.items())) for k, c in sorted(retired.items())},
        refused=sorted(status.refused),
    )
