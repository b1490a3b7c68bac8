"""Evaluation: every selected claim on every run it applies to, measured, judged, then written.

All verdicts are computed before any file is written, so bad input found half-way (a truncated
artifact, say) leaves the verdict folder exactly as it was.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .artifacts import Run, find_run_manifests, load_run, selects
from .errors import CannotMeasure, Location, UserError, UserErrors, display_path
from .judge import combine, judge_measurement
from .loading import LoadedClaim
from .plugins import EvaluatorRegistry
from .schema import Claim, Outcome, Prediction
from .store import (
    ArtifactRef,
    ClaimRef,
    ExpectResult,
    PredictionVerdict,
    RunRef,
    ToolRef,
    Verdict,
    canonical,
    cap_evidence,
    render,
    verdict_path,
    write_atomic,
)


def claim_fingerprint(claim: Claim) -> str:
    """sha256 over the claim's scientific content in canonical JSON (formatting and cosmetic
    fields such as title, tags and authors do not change it)."""
    text = json.dumps(claim.scientific_content(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_runs(roots: Sequence[Path]) -> list[Run]:
    """Every run below `roots`; all manifest errors are collected, and run ids must be unique."""
    runs: list[Run] = []
    errors: list[UserError] = []
    for manifest in find_run_manifests(list(roots)):
        try:
            runs.append(load_run(manifest))
        except UserErrors as exc:
            errors.extend(exc.errors)
        except UserError as exc:
            errors.append(exc)
    seen: dict[str, Run] = {}
    for run in runs:
        if run.id in seen:
            errors.append(
                UserError(
                    f"duplicate run id {run.id!r} (also in {display_path(seen[run.id].manifest_path)})",
                    location=Location(display_path(run.manifest_path), key="id"),
                    hint="run ids are unique across all run folders",
                )
            )
        seen[run.id] = run
    if errors:
        raise UserErrors(errors)
    return runs


def select_claims(claims: list[LoadedClaim], patterns: Sequence[str]) -> list[LoadedClaim]:
    """Claims whose id matches any pattern (exact id or glob); all when no pattern is given."""
    if not patterns:
        return claims
    chosen = [c for c in claims if any(fnmatch.fnmatchcase(c.id, p) for p in patterns)]
    for p in patterns:
        if not any(fnmatch.fnmatchcase(c.id, p) for c in claims):
            import difflib

            close = difflib.get_close_matches(p, [c.id for c in claims], n=1)
            raise UserError(
                f"no claim matches {p!r}",
                hint=f"did you mean {close[0]!r}?" if close else "see `registry list`",
            )
    return chosen


def _evaluate_prediction(
    lc: LoadedClaim, pred: Prediction, run: Run, evaluators: EvaluatorRegistry
) -> PredictionVerdict:
    def verdict(**fields: Any) -> PredictionVerdict:
        return PredictionVerdict(
            id=pred.id, level=pred.level, evaluator=pred.evaluator, min_samples=pred.min_samples, **fields
        )

    if pred.id in lc.unavailable:
        return verdict(evaluator_version=None, outcome="error", reason=lc.unavailable[pred.id])
    evaluator = evaluators.get(pred.evaluator)
    params = lc.params[pred.id]
    version = evaluator.version
    with run.tracking() as used:
        try:
            measurement = evaluator.evaluate(params, run)
        except CannotMeasure as exc:
            return verdict(evaluator_version=version, outcome="inconclusive", reason=exc.reason, artifacts=sorted(used))
        except UserError:
            raise  # bad input: abort before anything is written
        except Exception as exc:  # the evaluator broke: this prediction is `error`, the rest go on
            return verdict(
                evaluator_version=version,
                outcome="error",
                reason=f"{type(exc).__name__}: {exc}",
                artifacts=sorted(used),
            )
    judgement = judge_measurement(pred, measurement)
    stats = canonical(dict(measurement.statistics))
    return verdict(
        evaluator_version=version,
        outcome=judgement.outcome,
        reason=judgement.reason,
        n=int(measurement.n),
        statistics=stats,
        expect=[
            ExpectResult(
                stat=r.line.stat, op=r.line.op, value=r.line.value, observed=canonical(r.observed), holds=r.holds
            )
            for r in judgement.lines
        ],
        evidence=cap_evidence(measurement.evidence),
        artifacts=sorted(used),
    )


def evaluate_claim_on_run(lc: LoadedClaim, run: Run, evaluators: EvaluatorRegistry) -> Verdict:
    predictions = [_evaluate_prediction(lc, p, run, evaluators) for p in lc.claim.predictions]
    used = sorted({name for p in predictions for name in p.artifacts})
    outcomes: list[Outcome] = [p.outcome for p in predictions]
    return Verdict(
        claim=ClaimRef(id=lc.id, sha256=claim_fingerprint(lc.claim)),
        run=RunRef(
            id=run.id,
            artifacts={
                name: ArtifactRef(path=run.paths[name].relative_to(run.folder).as_posix(), sha256=run.artifact_hash(name))
                for name in used
            },
        ),
        combine=lc.claim.combine,
        outcome=combine(outcomes, lc.claim.combine),
        predictions=predictions,
        tool=ToolRef(version=__version__),
    )


@dataclass
class Evaluation:
    verdicts: list[Verdict] = field(default_factory=list)
    # Claims whose `applies_to` selected no run: nothing is written for them.
    unmatched: list[str] = field(default_factory=list)
    # Verdict files that changed (or were created) when written.
    written: list[Path] = field(default_factory=list)

    @property
    def any_error(self) -> bool:
        return any(v.outcome == "error" or any(p.outcome == "error" for p in v.predictions) for v in self.verdicts)

    @property
    def any_fail(self) -> bool:
        return any(v.outcome == "fail" for v in self.verdicts)


def evaluate(claims: Iterable[LoadedClaim], runs: Sequence[Run], evaluators: EvaluatorRegistry) -> Evaluation:
    result = Evaluation()
    for lc in claims:
        chosen = [r for r in runs if selects(lc.claim.applies_to.tags, lc.claim.applies_to.runs, r)]
        if not chosen:
            result.unmatched.append(lc.id)
            continue
        for run in chosen:
            result.verdicts.append(evaluate_claim_on_run(lc, run, evaluators))
    return result


def write_verdicts(result: Evaluation, folder: Path) -> None:
    texts = [(verdict_path(folder, v.claim.id, v.run.id), render(v)) for v in result.verdicts]
    for path, text in texts:
        if write_atomic(path, text):
            result.written.append(path)
