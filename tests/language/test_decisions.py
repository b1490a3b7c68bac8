"""Decision rules: claim-level alpha, `value: alpha`, Bonferroni under `combine: any`; and the lints."""

from __future__ import annotations

import pytest
import yaml
from conftest import Project, invoke, write_run, write_table

from registry.language.judge import compare, decision_rule
from registry.language.schema import ExpectLine

# metric.trend (increasing) gives p = 0.0373 on `a` and p = 0.366 on `b`.
A = [0.96, -2.56, 0.34, -1.17, 1.71, 0.92, 1.45, -0.02, 3.03, 3.37, 0.44, 2.02]
B = [-0.24, 0.66, 1.3, 0.84, 3.15, 0.66, 1.9, 2.32, 1.07, 0.53, 0.32, 1.81]


def trend(pid: str, column: str, value: object = "alpha") -> dict[str, object]:
    return {
        "id": pid,
        "level": "loss",
        "evaluator": "metric.trend",
        "params": {"column": column, "alternative": "increasing"},
        "expect": [{"stat": "p_value", "op": "<", "value": value}],
        "min_samples": 10,
    }


def write_claim(project: Project, combine: str, predictions: list[dict[str, object]], alpha: float | None = None) -> None:
    claim: dict[str, object] = {
        "id": "trends",
        "title": "Trends",
        "statement": "Both columns increase.",
        "falsified_if": "Neither trend is significant.",
        "combine": combine,
        "predictions": predictions,
    }
    if alpha is not None:
        claim["alpha"] = alpha
    (project.claims / "trends.yaml").write_text(yaml.safe_dump(claim, sort_keys=False))


@pytest.fixture
def trends(project: Project) -> Project:
    folder = project.runs / "synthetic"
    write_table(folder / "metrics.csv", {"step": list(range(12)), "a": A, "b": B})
    write_run(folder, "synthetic", {"metrics": {"path": "metrics.csv"}})
    return project


def verdict(project: Project) -> dict[str, object]:
    result = invoke("evaluate")
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(project.verdict("trends", "synthetic").read_text())
    assert isinstance(data, dict)
    return data


def test_alpha_under_all_is_the_claims_alpha(trends: Project) -> None:
    write_claim(trends, "all", [trend("a-rises", "a")])
    data = verdict(trends)
    assert data["outcome"] == "pass"
    assert data["decision"] == {"rule": "intersection-union", "alpha": 0.05, "tests": 1, "per_test_alpha": 0.05}
    line = data["predictions"][0]["expect"][0]  # type: ignore[index]
    assert (line["value"], line["resolved"], line["holds"]) == ("alpha", 0.05, True)
    assert round(line["observed"], 4) == 0.0373


def test_any_is_bonferroni_corrected(trends: Project) -> None:
    write_claim(trends, "any", [trend("a-rises", "a"), trend("b-rises", "b")])
    data = verdict(trends)
    # p = 0.0373 would pass at 0.05, but with two chances to pass each test runs at 0.025.
    assert data["outcome"] == "fail"
    assert data["decision"] == {"rule": "bonferroni", "alpha": 0.05, "tests": 2, "per_test_alpha": 0.025}
    assert data["predictions"][0]["expect"][0]["resolved"] == 0.025  # type: ignore[index]
    write_claim(trends, "any", [trend("a-rises", "a"), trend("b-rises", "b")], alpha=0.1)
    data = verdict(trends)
    assert (data["outcome"], data["decision"]["per_test_alpha"]) == ("pass", 0.05)  # type: ignore[index]


def test_any_with_one_test_needs_no_correction(trends: Project) -> None:
    write_claim(trends, "any", [trend("a-rises", "a"), trend("b-rises", "b", value=0.5)])
    data = verdict(trends)
    assert data["decision"] == {"rule": "none", "alpha": 0.05, "tests": 1, "per_test_alpha": 0.05}
    assert data["outcome"] == "pass"


def test_judge_resolves_alpha() -> None:
    line = ExpectLine(stat="p_value", op="<", value="alpha")
    result = compare(0.03, line, 0.025)
    assert (result.holds, result.threshold, result.line.value) == (False, 0.025, "alpha")
    assert compare(0.03, ExpectLine(stat="p_value", op="<", value=0.05), 0.025).holds is True
    assert compare(None, line, 0.05).holds is None


def test_decision_rule_counts_predictions_with_an_alpha_line() -> None:
    from registry.language.schema import Claim

    claim = Claim.model_validate(
        {
            "id": "c",
            "title": "t",
            "statement": "s",
            "falsified_if": "f",
            "combine": "any",
            "alpha": 0.03,
            "predictions": [trend("x", "a"), trend("y", "b"), trend("z", "b", value=0.01)],
        }
    )
    d = decision_rule(claim)
    assert (d.rule, d.tests, d.per_test_alpha) == ("bonferroni", 2, 0.015)


# --- lints -------------------------------------------------------------------------------------------------


def lint_claim(project: Project, text: str) -> None:
    (project.claims / "linted.yaml").write_text(text)


LINTED = """\
id: linted
title: t
statement: s
falsified_if: f
combine: {combine}
predictions:
  - id: rate
    level: text
    evaluator: text.match_rate
    params: {{pattern: refuse}}
    expect:
      - {{stat: rate, op: "{op}", value: {value}}}
{min_samples}  - id: trend
    level: loss
    evaluator: metric.trend
    params: {{column: loss}}
    expect:
      - {{stat: p_value, op: "<", value: {p}}}
"""


def linted(combine: str = "all", op: str = "<=", value: float = 0.5, min_samples: bool = True, p: str = "alpha") -> str:
    return LINTED.format(combine=combine, op=op, value=value, p=p, min_samples="    min_samples: 5\n" if min_samples else "")


def test_no_warnings_for_a_sound_claim(project: Project) -> None:
    lint_claim(project, linted())
    result = invoke("validate", "--strict")
    assert result.exit_code == 0, result.output
    assert result.output == "ok: 1 claim(s), 0 run(s)\n"


@pytest.mark.parametrize(
    ("text", "warning"),
    [
        (
            linted(op=">=", value=0),
            "claims/linted.yaml:12:9: predictions[0].expect[0]: warning: `rate >= 0` cannot fail: text.match_rate "
            "reports rate in [0, 1] (hint: a prediction must be able to fail; tighten the threshold)",
        ),
        (
            linted(op=">", value=1),
            "claims/linted.yaml:12:9: predictions[0].expect[0]: warning: `rate > 1` can never hold: text.match_rate "
            "reports rate in [0, 1] (hint: check the threshold and the op)",
        ),
        (
            linted(min_samples=False),
            "claims/linted.yaml:7:5: predictions[0]: warning: rate is a rate and min_samples is not set (default 1): a "
            "rate over a single observation is decided by one event (hint: set min_samples to the smallest n at which "
            "the rate means something)",
        ),
        (
            linted(combine="any", p="0.05"),
            "claims/linted.yaml:19:41: predictions[1].expect[0].value: warning: p_value is compared with a number under "
            "`combine: any`, so the multiple-comparison correction does not apply to it (hint: write `value: alpha` (and "
            "set the claim's `alpha:`))",
        ),
    ],
    ids=["cannot-fail", "never-holds", "rate-without-min-samples", "uncorrected-p-value"],
)
def test_lints_warn_and_strict_fails(project: Project, text: str, warning: str) -> None:
    lint_claim(project, text)
    result = invoke("validate")
    assert result.exit_code == 0, result.output
    assert result.stderr == warning + "\n"
    assert result.stdout == "ok: 1 claim(s), 0 run(s)\n"
    strict = invoke("validate", "--strict")
    assert strict.exit_code == 1, strict.output


def test_p_value_cannot_fail_at_one(project: Project) -> None:
    lint_claim(project, linted(p="1.5"))
    result = invoke("validate")
    assert "warning: `p_value < 1.5` cannot fail: metric.trend reports p_value in [0, 1]" in result.stderr


def test_alpha_must_be_a_significance_level(project: Project) -> None:
    lint_claim(project, linted() + "alpha: 1.5\n")
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert result.output == "claims/linted.yaml:20:8: alpha: Input should be less than 1, got 1.5\n"
    lint_claim(project, linted().replace('op: "<", value: alpha', 'op: ">=", value: alpha'))
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert result.output == (
        "claims/linted.yaml:19:9: predictions[1].expect[0]: `alpha` is a significance level: compare with < or <=, not >=\n"
    )
