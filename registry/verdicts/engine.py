"""Evaluation: every selected claim on every run it applies to, measured, judged, then written.

All verdicts are computed before any file is written. Bad input found in one (claim, run) pair (an
unreadable artifact, say) is recorded in `Evaluation.failures` and that pair is not judged: its verdict
file is left as it was, and every other pair is judged and written (the CLI exits 2 at the end).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from registry import __version__
from registry.errors import CannotMeasure, UserError, UserErrors
from registry.language.judge import combine, decision_rule, judge_measurement
from registry.language.loaded import LoadedClaim
from registry.language.schema import Claim, Outcome, Prediction
from registry.plugins import AnyEvaluator, CrossRunEvaluator, Evaluator, EvaluatorRegistry, Measurement
from registry.runs.run import Run, selects
from registry.verdicts.file import render, verdict_path, write_atomic
from registry.verdicts.model import (
    ArtifactRef,
    ClaimRef,
    ExpectResult,
    PredictionVerdict,
    RunRef,
    ToolRef,
    Verdict,
    canonical,
    cap_evidence,
)


def claim_fingerprint(claim: Claim) -> str:
    """sha256 over the claim's scientific content in canonical form (formatting and cosmetic
    fields such as title, tags and authors do not change it); see registry/language/fingerprint.py."""
    from registry.language.fingerprint import fingerprint

    return fingerprint(claim)


def _claim_ref(lc: LoadedClaim) -> ClaimRef:
    return ClaimRef(id=lc.id, fingerprint=claim_fingerprint(lc.claim), status=lc.claim.status)


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


Measure = Callable[[AnyEvaluator, Any], Measurement]


def _prediction_verdict(
    lc: LoadedClaim,
    pred: Prediction,
    evaluators: EvaluatorRegistry,
    runs: Sequence[Run],
    measure: Measure,
    groups: dict[str, list[str]] | None = None,
) -> PredictionVerdict:
    """Measure one prediction (through `measure`, which reads `runs`) and judge it."""

    def verdict(**fields: Any) -> PredictionVerdict:
        return PredictionVerdict(
            id=pred.id, level=pred.level, evaluator=pred.evaluator, min_samples=pred.min_samples, groups=groups, **fields
        )

    if pred.id in lc.unavailable:
        return verdict(evaluator_version=None, outcome="error", reason=lc.unavailable[pred.id])
    evaluator = evaluators.get(pred.evaluator)
    version = evaluator.version
    with ExitStack() as stack:
        touched = {run.id: stack.enter_context(run.tracking()) for run in runs}

        def used() -> list[str]:
            if len(runs) == 1 and groups is None:
                return sorted(touched[runs[0].id])
            return sorted(f"{rid}:{name}" for rid, names in touched.items() for name in names)

        try:
            measurement = measure(evaluator, lc.params[pred.id])
        except CannotMeasure as exc:
            return verdict(evaluator_version=version, outcome="inconclusive", reason=exc.reason, artifacts=used())
        except UserError:
            raise  # bad input: abort before anything is written
        except Exception as exc:  # the evaluator broke: this prediction is `error`, the rest go on
            return verdict(
                evaluator_version=version, outcome="error", reason=f"{type(exc).__name__}: {exc}", artifacts=used()
            )
        artifacts = used()
        notes = {
            (name if len(runs) == 1 and groups is None else f"{run.id}:{name}"): list(run.notes(name))
            for run in runs
            for name in sorted(touched[run.id])
            if run.notes(name)
        }
    judged = _judged(pred, measurement, decision_rule(lc.claim).per_test_alpha, notes)
    return verdict(evaluator_version=version, artifacts=artifacts, **judged)


def _judged(pred: Prediction, measurement: Measurement, alpha: float, notes: dict[str, list[str]]) -> dict[str, Any]:
    """The judged part of a prediction's verdict: outcome, statistics, each expect line, evidence."""
    evidence = dict(measurement.evidence)
    if notes:
        # What a reader had to say about the data (e.g. a log read only up to a truncation).
        evidence["artifact_notes"] = notes
    judgement = judge_measurement(pred, measurement, alpha)
    return {
        "outcome": judgement.outcome,
        "reason": judgement.reason,
        "n": int(measurement.n),
        "statistics": canonical(dict(measurement.statistics)),
        "expect": [
            ExpectResult(
                stat=r.line.stat,
                op=r.line.op,
                value=r.line.value,
                observed=canonical(r.observed),
                holds=r.holds,
                resolved=canonical(r.threshold),
            )
            for r in judgement.lines
        ],
        "evidence": cap_evidence(evidence),
    }


def _run_ref(run: Run, names: Iterable[str]) -> RunRef:
    return RunRef(
        id=run.id,
        artifacts={
            name: ArtifactRef(path=run.paths[name].relative_to(run.folder).as_posix(), sha256=run.artifact_hash(name))
            for name in sorted(names)
        },
    )


def evaluate_claim_on_run(lc: LoadedClaim, run: Run, evaluators: EvaluatorRegistry) -> Verdict:
    def measure(ev: AnyEvaluator, params: Any) -> Measurement:
        assert isinstance(ev, Evaluator)  # loading checked the prediction's `across` against the evaluator's kind
        return ev.evaluate(params, run)

    predictions = [_prediction_verdict(lc, p, evaluators, [run], measure) for p in lc.claim.predictions]
    outcomes: list[Outcome] = [p.outcome for p in predictions]
    return Verdict(
        claim=_claim_ref(lc),
        decision=decision_rule(lc.claim),
        run=_run_ref(run, {name for p in predictions for name in p.artifacts}),
        combine=lc.claim.combine,
        outcome=combine(outcomes, lc.claim.combine),
        predictions=predictions,
        tool=ToolRef(version=__version__),
    )


def _groups(pred: Prediction, runs: Sequence[Run]) -> dict[str, list[Run]]:
    if not pred.groups:
        return {"all": list(runs)}
    return {name: [r for r in runs if selects(sel.tags, sel.runs, r)] for name, sel in sorted(pred.groups.items())}


def evaluate_claim_across_runs(lc: LoadedClaim, runs: Sequence[Run], evaluators: EvaluatorRegistry) -> Verdict:
    """One verdict for a claim whose predictions each measure the whole set of runs."""
    runs = sorted(runs, key=lambda r: r.id)
    predictions = []
    for pred in lc.claim.predictions:
        groups = _groups(pred, runs)

        def measure(ev: AnyEvaluator, params: Any, groups: dict[str, list[Run]] = groups) -> Measurement:
            assert isinstance(ev, CrossRunEvaluator)
            return ev.evaluate_runs(params, groups, evaluators)

        predictions.append(
            _prediction_verdict(
                lc, pred, evaluators, runs, measure, groups={g: [r.id for r in rs] for g, rs in groups.items()}
            )
        )
    used: dict[str, set[str]] = {r.id: set() for r in runs}
    for p in predictions:
        for item in p.artifacts:
            rid, name = item.split(":", 1)
            used[rid].add(name)
    outcomes: list[Outcome] = [p.outcome for p in predictions]
    return Verdict(
        claim=_claim_ref(lc),
        decision=decision_rule(lc.claim),
        runs=[_run_ref(r, used[r.id]) for r in runs],
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
    # Claims refused before evaluation (changed after judged, no amendment): one error each, exit 2.
    refused: list[UserError] = field(default_factory=list)
    # The claims evaluated, by id: where each lives, for reports that point at a file and line (ci.py).
    claims: dict[str, LoadedClaim] = field(default_factory=dict)
    # Bad input that kept (claim, run) pairs from being judged (a broken manifest, an unreadable
    # artifact), each once; those pairs' verdict files are left as they were, every other pair is written.
    failures: list[UserError] = field(default_factory=list)

    def fail(self, exc: UserError) -> None:
        if all(str(f) != str(exc) for f in self.failures):
            self.failures.append(exc)

    @property
    def any_error(self) -> bool:
        return any(v.outcome == "error" or any(p.outcome == "error" for p in v.predictions) for v in self.verdicts)

    @property
    def any_fail(self) -> bool:
        return any(v.outcome == "fail" for v in self.verdicts)


def evaluate(claims: Iterable[LoadedClaim], runs: Sequence[Run], evaluators: EvaluatorRegistry) -> Evaluation:
    result = Evaluation()
    for lc in claims:
        result.claims[lc.id] = lc
        chosen = [r for r in runs if selects(lc.claim.applies_to.tags, lc.claim.applies_to.runs, r)]
        if not chosen:
            result.unmatched.append(lc.id)
            continue
        if lc.claim.across_runs:
            _judge(result, partial(evaluate_claim_across_runs, lc, chosen, evaluators))
            continue
        for run in chosen:
            _judge(result, partial(evaluate_claim_on_run, lc, run, evaluators))
    return result


def _judge(result: Evaluation, pair: Callable[[], Verdict]) -> None:
    """One (claim, run) verdict; bad input in it is recorded, and the other pairs go on."""
    try:
        result.verdicts.append(pair())
    except UserErrors as exc:
        for e in exc.errors:
            result.fail(e)
    except UserError as exc:
        result.fail(exc)


def write_verdicts(result: Evaluation, folder: Path) -> None:
    texts = [(verdict_path(folder, v.claim.id, v.run.id if v.run else None), render(v)) for v in result.verdicts]
    for path, text in texts:
        if write_atomic(path, text):
            result.written.append(path)
