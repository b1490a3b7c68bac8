"""The judge: the one place where outcomes are decided.

Evaluators measure; this module compares their statistics with the claim's `expect` lines, checks
`n` against `min_samples`, and rolls prediction outcomes up to a claim outcome by `combine`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from registry.language.schema import ALPHA, DEFAULT_ALPHA, ExpectLine, Outcome, Prediction
from registry.plugins import Measurement, Statistic

if TYPE_CHECKING:
    from registry.language.schema import Claim
# Version of the judge's decisions: bumped by any change to how outcomes, expect lines or combined
# outcomes are decided, so `registry evaluate` never takes a verdict judged the old way as current.
JUDGE_VERSION = "1"

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass(frozen=True)
class LineResult:
    line: ExpectLine
    observed: Statistic
    # True/False when the comparison could be made; None when the statistic is undefined.
    holds: bool | None
    problem: str | None = None
    # The number `value: alpha` stood for; None for lines with a literal value.
    threshold: float | None = None


@dataclass(frozen=True)
class Judgement:
    outcome: Outcome
    reason: str | None
    lines: tuple[LineResult, ...]


class Decision(BaseModel):
    """How `value: alpha` was resolved for this claim (v2); recorded in verdicts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: Literal["intersection-union", "bonferroni", "none"]
    """`all`: intersection-union (every test must reject; no correction needed). `any` with k >= 2
    tests: bonferroni (each at alpha/k). `any` with fewer: none."""
    alpha: float
    """The claim's alpha: its false-pass rate under the null."""
    tests: int
    """k: predictions with at least one `value: alpha` line."""
    per_test_alpha: float
    """What `alpha` in an expect line stood for: alpha, or alpha/k under bonferroni."""


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def compare(observed: Statistic, line: ExpectLine, alpha: float = DEFAULT_ALPHA) -> LineResult:
    """`observed <op> value`, or why it cannot be compared; `value: alpha` stands for `alpha`."""
    if line.value == ALPHA:
        result = compare(observed, line.model_copy(update={"value": alpha}))
        return replace(result, line=line, threshold=alpha)
    expected = line.value
    if getattr(observed, "ndim", None) == 0 and hasattr(observed, "item"):
        # numpy scalars and 0-d arrays from evaluators: np.float32('nan') is not a float, and would
        # otherwise compare False (fail) instead of being undefined (inconclusive).
        observed = observed.item()  # type: ignore[union-attr]
    if observed is None:
        return LineResult(line, observed, None, f"statistic {line.stat!r} is undefined on this run")
    if isinstance(observed, float) and math.isnan(observed):
        return LineResult(line, observed, None, f"statistic {line.stat!r} is NaN on this run")
    if isinstance(observed, bool):
        observed_cmp: Any = int(observed)
    else:
        observed_cmp = observed
    expected_cmp: Any = int(expected) if isinstance(expected, bool) else expected
    if isinstance(observed_cmp, str) != isinstance(expected_cmp, str):
        if line.op in ("==", "!="):
            return LineResult(line, observed, _OPS[line.op](observed_cmp, expected_cmp))
        return LineResult(line, observed, None, f"statistic {line.stat!r} is {observed!r}; cannot compare with {line.op}")
    return LineResult(line, observed, bool(_OPS[line.op](observed_cmp, expected_cmp)))


def judge_measurement(prediction: Prediction, measurement: Measurement, alpha: float = DEFAULT_ALPHA) -> Judgement:
    """`alpha`: what `value: alpha` stands for in this prediction (`decision_rule(claim).per_test_alpha`)."""
    lines = tuple(compare(measurement.statistics.get(line.stat), line, alpha) for line in prediction.expect)
    if measurement.n < prediction.min_samples:
        return Judgement(
            "inconclusive", f"n={measurement.n} is below min_samples={prediction.min_samples}", lines
        )
    undefined = [r.problem for r in lines if r.holds is None]
    if any(r.holds is False for r in lines):
        return Judgement("fail", None, lines)
    if undefined:
        return Judgement("inconclusive", str(undefined[0]), lines)
    return Judgement("pass", None, lines)


def combine(outcomes: Sequence[Outcome], mode: str) -> Outcome:
    """Roll prediction outcomes up to the claim's outcome on one run.

    all: fail if any fails; else error if any errored; pass if all pass; else inconclusive.
    any: pass if any passes; else error if any errored; fail if all fail; else inconclusive.
    """
    if not outcomes:
        return "inconclusive"
    if mode == "all":
        if "fail" in outcomes:
            return "fail"
        if "error" in outcomes:
            return "error"
        return "pass" if all(o == "pass" for o in outcomes) else "inconclusive"
    if "pass" in outcomes:
        return "pass"
    if "error" in outcomes:
        return "error"
    return "fail" if all(o == "fail" for o in outcomes) else "inconclusive"


def uses_alpha(claim: Claim) -> bool:
    """Whether the claim's decision rule is worth showing: it sets `alpha:` or writes `value: alpha`."""
    return claim.alpha != DEFAULT_ALPHA or any(line.value == ALPHA for p in claim.predictions for line in p.expect)


def decision_rule(claim: Claim) -> Decision:
    """What `value: alpha` stands for in this claim's expect lines, so that the claim passes with
    probability at most `claim.alpha` when no prediction's effect is real.

    `all` is an intersection-union test: the claim passes only if every test rejects, so each at
    alpha keeps the claim at alpha (no correction). `any` passes if one test rejects: with k >= 2
    predictions holding a `value: alpha` line, each is tested at alpha/k (Bonferroni; Holm's
    step-down gives the same claim-level decision, since its first step is min p < alpha/k).
    """
    k = sum(1 for p in claim.predictions if any(line.value == ALPHA for line in p.expect))
    if claim.combine == "all":
        return Decision(rule="intersection-union", alpha=claim.alpha, tests=k, per_test_alpha=claim.alpha)
    if k >= 2:
        return Decision(rule="bonferroni", alpha=claim.alpha, tests=k, per_test_alpha=claim.alpha / k)
    return Decision(rule="none", alpha=claim.alpha, tests=k, per_test_alpha=claim.alpha)
