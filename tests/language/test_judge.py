"""The judge: expect lines, min_samples and combine, exactly as DESIGN.md "Outcomes" says."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest

from registry.language.judge import combine, compare, judge_measurement
from registry.language.schema import ExpectLine, Prediction
from registry.plugins import Measurement


def line(stat: str, op: str, value: Any) -> ExpectLine:
    return ExpectLine(stat=stat, op=op, value=value)  # type: ignore[arg-type]


def prediction(*lines: ExpectLine, min_samples: int = 1) -> Prediction:
    return Prediction(id="p", level="loss", evaluator="metric.threshold", expect=list(lines), min_samples=min_samples)


@pytest.mark.parametrize(
    ("observed", "op", "value", "holds"),
    [
        (1.0, "<", 2, True),
        (2.0, "<", 2, False),
        (2.0, "<=", 2, True),
        (3, ">", 2.5, True),
        (2.5, ">", 2.5, False),
        (2.5, ">=", 2.5, True),
        (0, "==", 0.0, True),
        (0.1 + 0.2, "==", 0.3, False),  # exact comparison: no hidden tolerance
        (1, "!=", 2, True),
        (math.inf, ">", 1e308, True),
        (-math.inf, "<", -1e308, True),
        ("adamw", "==", "adamw", True),
        ("adamw", "==", "muon", False),
        ("adamw", "!=", "muon", True),
        ("adamw", "!=", "adamw", False),
        ("1", "==", 1, False),  # a string never equals a number
        (1, "!=", "1", True),
        (True, "==", 1, True),
        (True, "==", True, True),
        (False, "<", 1, True),
        (np.float32(1.5), "<", 2, True),
        (np.int64(3), "==", 3, True),
        (np.array(0.0), "==", 0, True),
    ],
)
def test_compare(observed: Any, op: str, value: Any, holds: bool) -> None:
    result = compare(observed, line("x", op, value))
    assert result.holds is holds
    assert result.problem is None


@pytest.mark.parametrize(
    ("observed", "problem"),
    [
        (None, "statistic 'x' is undefined on this run"),
        (math.nan, "statistic 'x' is NaN on this run"),
        (np.float32("nan"), "statistic 'x' is NaN on this run"),
        (np.array(np.nan), "statistic 'x' is NaN on this run"),
    ],
)
@pytest.mark.parametrize("op", ["<", "==", "!="])
def test_undefined_statistic_cannot_hold_or_fail(observed: Any, problem: str, op: str) -> None:
    result = compare(observed, line("x", op, 1))
    assert result.holds is None
    assert result.problem == problem


def test_string_statistic_cannot_be_ordered() -> None:
    result = compare("adamw", line("x", "<", 1))
    assert result.holds is None
    assert result.problem == "statistic 'x' is 'adamw'; cannot compare with <"


def test_string_value_only_with_equality() -> None:
    with pytest.raises(ValueError, match="a string value can only be compared with == or !=, not >="):
        line("x", ">=", "a")


def judge(stats: dict[str, Any], n: int, *lines: ExpectLine, min_samples: int = 1) -> tuple[str, str | None]:
    j = judge_measurement(prediction(*lines, min_samples=min_samples), Measurement(statistics=stats, n=n))
    return j.outcome, j.reason


def test_all_lines_hold_is_pass() -> None:
    assert judge({"a": 1, "b": "x"}, 5, line("a", "<", 2), line("b", "==", "x")) == ("pass", None)


def test_one_line_that_does_not_hold_is_fail() -> None:
    assert judge({"a": 1, "b": 3}, 5, line("a", "<", 2), line("b", "<", 2)) == ("fail", None)


def test_fail_wins_over_an_undefined_line() -> None:
    assert judge({"a": math.nan, "b": 3}, 5, line("a", "<", 2), line("b", "<", 2)) == ("fail", None)


@pytest.mark.parametrize("observed", [None, math.nan])
def test_undefined_statistic_is_inconclusive(observed: Any) -> None:
    outcome, reason = judge({"a": observed, "b": 1}, 5, line("a", "<", 2), line("b", "<", 2))
    assert outcome == "inconclusive"
    assert reason in ("statistic 'a' is undefined on this run", "statistic 'a' is NaN on this run")


def test_statistic_the_evaluator_did_not_return_is_inconclusive() -> None:
    assert judge({}, 5, line("a", "<", 2)) == ("inconclusive", "statistic 'a' is undefined on this run")


@pytest.mark.parametrize("stats", [{"a": 1}, {"a": 100}])
def test_too_few_samples_is_inconclusive_whatever_the_lines_say(stats: dict[str, Any]) -> None:
    assert judge(stats, 2, line("a", "<", 2), min_samples=3) == ("inconclusive", "n=2 is below min_samples=3")


def test_exactly_min_samples_is_enough() -> None:
    assert judge({"a": 1}, 3, line("a", "<", 2), min_samples=3) == ("pass", None)
    assert judge({"a": 1}, 0, line("a", "<", 2), min_samples=0) == ("pass", None)


def test_lines_keep_the_observed_values() -> None:
    j = judge_measurement(
        prediction(line("a", "<", 2), line("b", ">", 0)), Measurement(statistics={"a": 1.5, "b": None}, n=1)
    )
    assert [(r.line.stat, r.observed, r.holds) for r in j.lines] == [("a", 1.5, True), ("b", None, None)]


# --- combine ------------------------------------------------------------------------------------------

OUTCOMES = ("pass", "fail", "inconclusive", "error")


def expected_all(outcomes: tuple[str, ...]) -> str:
    """DESIGN.md: fail if any prediction fails, pass if all pass, else inconclusive (error if any
    errored and none failed)."""
    if "fail" in outcomes:
        return "fail"
    if "error" in outcomes:
        return "error"
    if all(o == "pass" for o in outcomes):
        return "pass"
    return "inconclusive"


def expected_any(outcomes: tuple[str, ...]) -> str:
    """The dual: pass if any passes, fail if all fail, else inconclusive (error if any errored and none passed)."""
    if "pass" in outcomes:
        return "pass"
    if "error" in outcomes:
        return "error"
    if all(o == "fail" for o in outcomes):
        return "fail"
    return "inconclusive"


ALL_COMBINATIONS = [c for k in (1, 2, 3) for c in itertools.product(OUTCOMES, repeat=k)]


@pytest.mark.parametrize("outcomes", ALL_COMBINATIONS, ids="-".join)
def test_combine_all(outcomes: tuple[str, ...]) -> None:
    assert combine(list(outcomes), "all") == expected_all(outcomes)


@pytest.mark.parametrize("outcomes", ALL_COMBINATIONS, ids="-".join)
def test_combine_any(outcomes: tuple[str, ...]) -> None:
    assert combine(list(outcomes), "any") == expected_any(outcomes)


@pytest.mark.parametrize(
    ("outcomes", "mode", "expected"),
    [
        (["pass", "pass"], "all", "pass"),
        (["pass", "fail"], "all", "fail"),
        (["pass", "inconclusive"], "all", "inconclusive"),
        (["pass", "error"], "all", "error"),
        (["fail", "error"], "all", "fail"),
        (["inconclusive", "error"], "all", "error"),
        (["fail", "pass"], "any", "pass"),
        (["fail", "fail"], "any", "fail"),
        (["fail", "inconclusive"], "any", "inconclusive"),
        (["fail", "error"], "any", "error"),
        (["pass", "error"], "any", "pass"),
    ],
)
def test_combine_examples(outcomes: list[str], mode: str, expected: str) -> None:
    assert combine(outcomes, mode) == expected  # type: ignore[arg-type]


def test_combine_of_nothing_is_inconclusive() -> None:
    assert combine([], "all") == "inconclusive"
    assert combine([], "any") == "inconclusive"
