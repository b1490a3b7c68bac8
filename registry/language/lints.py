"""Lints at `registry validate`: claims that are valid but cannot mean what they seem to.

Warnings, printed to stderr; `registry validate --strict` makes any of them fail the check (exit 1).

- an expect line that cannot fail (`fraction >= 0`, `p_value <= 1`) or can never hold
  (`fraction > 1`), from the ranges the evaluator declares for its statistics (`Stat.range`);
- `min_samples` left out (default 1) on a prediction whose expect compares a rate
  (`Stat.rate`): a rate over one observation is decided by one event;
- under `combine: any`, a p-value compared with a number rather than `alpha`: it escapes the
  multiple-comparison correction.

(An expect on a statistic the evaluator never produces is an error at load time, not a lint.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from registry.errors import Location
from registry.language.judge import decision_rule
from registry.language.loaded import LoadedClaim
from registry.language.schema import ALPHA, ExpectLine
from registry.plugins import EvaluatorRegistry, EvaluatorUnavailable, UnknownEvaluator


@dataclass(frozen=True)
class Lint:
    location: Location
    message: str
    hint: str | None = None

    def render(self) -> str:
        parts = [self.location.render()]
        if self.location.key:
            parts.append(self.location.key)
        parts.append(f"warning: {self.message}")
        text = ": ".join(parts)
        return f"{text} (hint: {self.hint})" if self.hint else text


def _fmt(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:g}"


def always_holds(op: str, value: float, lo: float, hi: float) -> bool:
    """Whether `x op value` holds for every x in [lo, hi]."""
    return {
        ">=": value <= lo,
        ">": value < lo,
        "<=": value >= hi,
        "<": value > hi,
        "!=": value < lo or value > hi,
        "==": lo == hi == value,
    }[op]


def never_holds(op: str, value: float, lo: float, hi: float) -> bool:
    """Whether `x op value` fails for every x in [lo, hi]."""
    return {
        ">=": value > hi,
        ">": value >= hi,
        "<=": value < lo,
        "<": value <= lo,
        "==": value < lo or value > hi,
        "!=": lo == hi == value,
    }[op]


def _is_p_value(stat: str) -> bool:
    return stat == "p_value" or stat.startswith("p_value")


def lint_claim(lc: LoadedClaim, evaluators: EvaluatorRegistry) -> list[Lint]:
    claim = lc.claim
    per_test_alpha = decision_rule(claim).per_test_alpha
    lints: list[Lint] = []
    for i, pred in enumerate(claim.predictions):
        try:
            evaluator = evaluators.get(pred.evaluator)
        except UnknownEvaluator:
            continue
        except EvaluatorUnavailable as exc:
            # Its params could not be checked, and `evaluate` will record this prediction as error.
            lints.append(
                Lint(
                    lc.doc.locate(("predictions", i, "evaluator")),
                    exc.failure.render(),
                    "fix or reinstall that package; its params are not checked until it loads",
                )
            )
            continue
        ranges = {s.name: s.range for s in evaluator.statistics if s.range is not None}
        rates = frozenset(s.name for s in evaluator.statistics if s.rate)
        for j, line in enumerate(pred.expect):
            lints.extend(_range_lints(lc, i, j, line, ranges, per_test_alpha, pred.evaluator))
            if claim.combine == "any" and len(claim.predictions) > 1 and _is_p_value(line.stat) and line.value != ALPHA:
                lints.append(
                    Lint(
                        lc.doc.locate(("predictions", i, "expect", j, "value")),
                        f"{line.stat} is compared with a number under `combine: any`, so the "
                        "multiple-comparison correction does not apply to it",
                        hint="write `value: alpha` (and set the claim's `alpha:`)",
                    )
                )
        rate_stats = [line.stat for line in pred.expect if line.stat in rates]
        if rate_stats and "min_samples" not in pred.model_fields_set:
            lints.append(
                Lint(
                    lc.doc.locate(("predictions", i)),
                    f"{rate_stats[0]} is a rate and min_samples is not set (default 1): "
                    "a rate over a single observation is decided by one event",
                    hint="set min_samples to the smallest n at which the rate means something",
                )
            )
    return lints


def _range_lints(
    lc: LoadedClaim,
    i: int,
    j: int,
    line: ExpectLine,
    ranges: dict[str, tuple[float, float]],
    per_test_alpha: float,
    evaluator: str,
) -> list[Lint]:
    bounds = ranges.get(line.stat)
    value = per_test_alpha if line.value == ALPHA else line.value
    if bounds is None or isinstance(value, bool) or not isinstance(value, int | float):
        return []
    lo, hi = float(bounds[0]), float(bounds[1])
    where = lc.doc.locate(("predictions", i, "expect", j))
    shown = f"`{line.stat} {line.op} {line.value}`"
    span = f"{evaluator} reports {line.stat} in [{_fmt(lo)}, {_fmt(hi)}]"
    if always_holds(line.op, float(value), lo, hi):
        return [Lint(where, f"{shown} cannot fail: {span}", hint="a prediction must be able to fail; tighten the threshold")]
    if never_holds(line.op, float(value), lo, hi):
        return [Lint(where, f"{shown} can never hold: {span}", hint="check the threshold and the op")]
    return []


def lint_claims(claims: Sequence[LoadedClaim], evaluators: EvaluatorRegistry) -> list[Lint]:
    return [lint for lc in claims for lint in lint_claim(lc, evaluators)]
