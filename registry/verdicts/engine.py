"""Evaluation: every selected claim on every run it applies to, measured, judged, then written.

Pairs whose verdict is current are skipped (registry/verdicts/current.py); the others are measured
run by run, in this process or in workers (registry/verdicts/executors.py, dask_executor.py), and
put in one stable order whatever the executor. All verdicts are computed before any file is
written. Bad input found in one (claim, run) pair (an unreadable artifact, say) is recorded in
`Evaluation.failures` and that pair is not judged: its verdict file is left as it was, and every
other pair is judged and written (the CLI exits 2 at the end).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from registry.errors import UserError
from registry.language.loaded import LoadedClaim
from registry.plugins import EvaluatorRegistry
from registry.runs.run import Run, selects
from registry.verdicts.current import Index, KeyInputs, key_now, key_of
from registry.verdicts.executors import Measured, Work, run_in_process, run_in_workers
from registry.verdicts.file import Rendered, holds, remove_stale_temps_below, rendered, verdict_path, write_atomic_many
from registry.verdicts.model import ACROSS_RUNS, Verdict
from registry.verdicts.options import EvaluateOptions as EvaluateOptions  # re-exported for the CLI
from registry.verdicts.options import Options, Skipped
from registry.verdicts.options import resolve_options as resolve_options
from registry.verdicts.pair import claim_fingerprint as claim_fingerprint  # re-exported for the CLI
from registry.verdicts.pair import evaluate_claim_on_run as evaluate_claim_on_run  # re-exported
from registry.verdicts.pair import failed_verdict, measure_across_runs, measure_pair


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


@dataclass
class Evaluation:
    verdicts: list[Verdict] = field(default_factory=list)
    # Per verdict (same order): its file's text, rendered where it was measured.
    texts: list[str] = field(default_factory=list)
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
    # Pairs left alone because their verdict is current.
    skipped: list[Skipped] = field(default_factory=list)
    # Per verdict (same order): the key it is current under, for the index of evaluated pairs.
    keys: list[str] = field(default_factory=list)
    # Per verdict (same order): its place in the order of all pairs, skipped ones included.
    seqs: list[int] = field(default_factory=list)
    index: Index | None = None
    # Verdict files found to hold their new text already, as it arrived (paths in the verdicts folder).
    unchanged: set[Path] = field(default_factory=set)

    def all_verdicts(self) -> list[Verdict]:
        """The verdicts of every pair, measured or skipped (read back from their files), in order: for
        outputs that list every pair (JUnit XML, GitHub annotations)."""
        from registry.verdicts.file import read_verdict

        pairs = list(zip(self.seqs, self.verdicts, strict=True)) + [(s.seq, read_verdict(s.path)) for s in self.skipped]
        return [v for _, v in sorted(pairs, key=lambda pair: pair[0])]

    @property
    def any_error(self) -> bool:
        return any(v.outcome == "error" or any(p.outcome == "error" for p in v.predictions) for v in self.verdicts)

    @property
    def any_fail(self) -> bool:
        return any(v.outcome == "fail" for v in self.verdicts) or any(s.outcome == "fail" for s in self.skipped)


@dataclass
class _Plan:
    per_run: dict[int, list[int]] = field(default_factory=dict)
    across: list[tuple[int, list[Run]]] = field(default_factory=list)
    order: list[tuple[int, int | None, int]] = field(default_factory=list)
    """(claim index, run index or None across runs, seq) of every pair to measure, in output order."""


def _plan(claims: Sequence[LoadedClaim], runs: Sequence[Run], inputs: KeyInputs, options: Options, result: Evaluation) -> _Plan:
    plan = _Plan()
    position = {id(r): i for i, r in enumerate(runs)}
    index = result.index
    for ci, lc in enumerate(claims):
        chosen = [r for r in runs if selects(lc.claim.applies_to.tags, lc.claim.applies_to.runs, r)]
        if not chosen:
            result.unmatched.append(lc.id)
            continue
        for group in [chosen] if lc.claim.across_runs else [[r] for r in chosen]:
            label = group[0].id if not lc.claim.across_runs else None
            seq = len(plan.order) + len(result.skipped)
            if index is not None and options.verdicts is not None and not options.force:
                path = verdict_path(options.verdicts, lc.id, label)
                outcome = index.current(key_now(lc, group, inputs), path)
                if outcome is not None:
                    result.skipped.append(Skipped(lc.id, label or ACROSS_RUNS, outcome, path, seq))
                    continue
            if lc.claim.across_runs:
                plan.across.append((ci, chosen))
                plan.order.append((ci, None, seq))
            else:
                ri = position[id(group[0])]
                plan.per_run.setdefault(ri, []).append(ci)
                plan.order.append((ci, ri, seq))
    return plan


def evaluate(
    claims: Iterable[LoadedClaim], runs: Sequence[Run], evaluators: EvaluatorRegistry, options: Options | None = None
) -> Evaluation:
    """Measure and judge every pair that is not current; see the module's docstring and executors.py."""
    options = options or Options()
    claims, runs = list(claims), list(runs)
    result = Evaluation(index=Index.load(options.index) if options.index is not None else None)
    result.claims = {lc.id: lc for lc in claims}
    inputs = KeyInputs(evaluators)
    plan = _plan(claims, runs, inputs, options, result)
    found: dict[tuple[int, int | None], Measured] = {}
    total = len(plan.order)

    keys: dict[tuple[int, int | None], str] = {}

    def done(ci: int, ri: int | None, measured: Measured) -> None:
        found[(ci, ri)] = measured
        if not isinstance(measured, list):
            # Its key, and whether its file already holds it, now: while workers measure, this costs
            # half of what it would once they are done and this process works alone.
            verdict = measured.verdict
            pair_runs = [runs[ri]] if ri is not None else _runs_of(verdict, runs)
            keys[(ci, ri)] = key_of(claims[ci], pair_runs, inputs, verdict)
            if options.verdicts is not None:
                path = verdict_path(options.verdicts, verdict.claim.id, verdict.run.id if verdict.run else None)
                if holds(path, measured.text):
                    result.unchanged.add(path)
        if options.progress is not None:
            options.progress(len(found), total, runs[ri].id if ri is not None else ACROSS_RUNS)

    def failed(lc: LoadedClaim, run: Run, reason: str) -> Rendered:
        return rendered(failed_verdict(lc, run, reason, evaluators))

    work = Work(claims, runs, evaluators, measure_pair, failed, options.timeout)
    tasks = [(ri, tuple(cis)) for ri, cis in sorted(plan.per_run.items())]
    if options.executor == "dask":
        from registry.verdicts.dask_executor import run_on_dask

        run_on_dask(work, tasks, done, options.scheduler)
    elif options.jobs > 1 and len(tasks) > 1:
        run_in_workers(work, tasks, done, options.jobs)
    else:
        run_in_process(work, tasks, done)
    for ci, chosen in plan.across:  # once every run's own work is done
        done(ci, None, measure_across_runs(claims[ci], chosen, evaluators))
    for ci, ri, seq in plan.order:
        measured = found[(ci, ri)]
        if isinstance(measured, list):
            for exc in measured:
                result.fail(exc)
            continue
        verdict = measured.verdict
        result.verdicts.append(verdict)
        result.texts.append(measured.text)
        result.seqs.append(seq)
        result.keys.append(keys[(ci, ri)])
    return result


def _runs_of(verdict: Verdict, runs: Sequence[Run]) -> list[Run]:
    ids = {r.id for r in verdict.runs or []}
    return [r for r in runs if r.id in ids]


def write_verdicts(result: Evaluation, folder: Path) -> None:
    """Write every verdict (atomically, in order), then record them in the index of evaluated pairs."""
    texts = [
        (verdict_path(folder, v.claim.id, v.run.id if v.run else None), text)
        for v, text in zip(result.verdicts, result.texts, strict=True)
    ]
    result.written.extend(write_atomic_many(texts, result.unchanged))
    remove_stale_temps_below(folder)  # what killed runs left, also where nothing was written this time
    if result.index is not None:
        for (path, text), verdict, key in zip(texts, result.verdicts, result.keys, strict=True):
            result.index.record(path, key, text, verdict)
        result.index.save()
