"""One verdict: a claim's predictions measured on one run (or a set of runs, for a claim judged across
runs), each judged by registry/language/judge.py, and the Verdict built from them, with its file text
rendered where it was measured (so worker processes also do the rendering; executors.py).

An evaluator that breaks makes its prediction `error` and the others go on; bad input (a UserError)
is raised, and `measure_pair` returns it in place of the verdict.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from functools import partial
from typing import Any

from registry import __version__
from registry.errors import CannotMeasure, UserError
from registry.language.judge import combine, decision_rule, judge_measurement
from registry.language.loaded import LoadedClaim
from registry.language.schema import Claim, Outcome, Prediction
from registry.plugins import AnyEvaluator, CrossRunEvaluator, Evaluator, EvaluatorRegistry, Measurement
from registry.readers.formats import READER_VERSIONS
from registry.runs.run import Run, selects
from registry.verdicts.executors import Measured, isolated
from registry.verdicts.file import Rendered, rendered
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
    return ClaimRef(id=lc.id, fingerprint=lc.fingerprint, status=lc.claim.status)


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
    return RunRef(id=run.id, artifacts={name: _artifact_ref(run, name) for name in sorted(names)})


# Each run's artifact references (frozen models), built once for all the claims measured on it.
_ARTIFACT_REFS: weakref.WeakKeyDictionary[Run, dict[str, ArtifactRef]] = weakref.WeakKeyDictionary()


def _artifact_ref(run: Run, name: str) -> ArtifactRef:
    refs = _ARTIFACT_REFS.setdefault(run, {})
    if name not in refs:
        refs[name] = ArtifactRef(
            path=run.paths[name].relative_to(run.folder).as_posix(),
            sha256=run.artifact_hash(name),
            reader=_reader_version(run, name),
        )
    return refs[name]


def _reader_version(run: Run, name: str) -> str | None:
    kind = run.spec(name).resolved_kind()
    return READER_VERSIONS.get(kind) if kind is not None else None


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


def measure_pair(lc: LoadedClaim, run: Run, evaluators: EvaluatorRegistry) -> Measured:
    """evaluate_claim_on_run with bad input returned (what executors run for each pair)."""
    return isolated(partial(_rendered_on_run, lc, run, evaluators))


def _rendered_on_run(lc: LoadedClaim, run: Run, evaluators: EvaluatorRegistry) -> Rendered:
    return rendered(evaluate_claim_on_run(lc, run, evaluators))


def measure_across_runs(lc: LoadedClaim, runs: Sequence[Run], evaluators: EvaluatorRegistry) -> Measured:
    """evaluate_claim_across_runs with bad input returned."""
    return isolated(partial(_rendered_across_runs, lc, runs, evaluators))


def _rendered_across_runs(lc: LoadedClaim, runs: Sequence[Run], evaluators: EvaluatorRegistry) -> Rendered:
    return rendered(evaluate_claim_across_runs(lc, runs, evaluators))


def failed_verdict(lc: LoadedClaim, run: Run, reason: str, evaluators: EvaluatorRegistry) -> Verdict:
    """The verdict of a pair that could not be measured (timed out, its worker died): every
    prediction `error` with `reason`; the other pairs go on."""
    predictions = [
        PredictionVerdict(
            id=p.id, level=p.level, evaluator=p.evaluator, min_samples=p.min_samples, outcome="error", reason=reason,
            evaluator_version=None if p.id in lc.unavailable else evaluators.get(p.evaluator).version,
        )
        for p in lc.claim.predictions
    ]
    return Verdict(
        claim=_claim_ref(lc),
        decision=decision_rule(lc.claim),
        run=RunRef(id=run.id),
        combine=lc.claim.combine,
        outcome="error",
        predictions=predictions,
        tool=ToolRef(version=__version__),
    )


