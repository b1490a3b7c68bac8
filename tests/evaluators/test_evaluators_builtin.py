"""What every built-in evaluator declares, and the params each refuses (its statistics: tests/evaluators/cases/)."""

from __future__ import annotations

from typing import Any

import pytest

from registry import EvaluatorRegistry


@pytest.fixture(scope="module")
def evaluators() -> EvaluatorRegistry:
    return EvaluatorRegistry()


@pytest.mark.parametrize(
    ("evaluator", "params", "message"),
    [
        ("activation.stat", {"tensor": "a", "stat": "frac_above"}, "stat frac_above needs a threshold"),
        ("activation.stat", {"tensor": "a", "stat": "mean", "threshold": 1}, "threshold is only used with stat frac_above"),
        ("text.match_rate", {}, "give exactly one of pattern or phrases"),
        ("text.match_rate", {"pattern": "a", "phrases": ["b"]}, "give exactly one of pattern or phrases"),
        ("text.match_rate", {"phrases": []}, "phrases must not be empty"),
        ("text.match_rate", {"pattern": "(unclosed"}, "invalid regular expression: missing ): (unclosed"),
        ("metric.threshold", {"column": "loss", "steps": [10, 5]}, "start 10 is after end 5"),
        ("loss.spikes", {"window": 2}, "Input should be greater than or equal to 3"),
    ],
)
def test_params_refused(evaluators: EvaluatorRegistry, evaluator: str, params: dict[str, Any], message: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as info:
        evaluators.get(evaluator).Params.model_validate(params)
    assert message in str(info.value)


def test_builtins_declare_the_contract(evaluators: EvaluatorRegistry) -> None:
    builtins = [n for n in evaluators.names() if evaluators.get(n).__module__.startswith("evaluators.")]
    assert len(builtins) == 19
    for name in builtins:
        ev = evaluators.get(name)
        assert ev.name == name
        assert ev.levels and ev.levels <= {"loss", "activation", "text"}
        assert ev.version
        assert ev.statistics and all(s.doc.strip().endswith(".") for s in ev.statistics), name
        # A statistic's doc is one sentence; counts are ints that are never negative.
        for s in ev.statistics:
            assert s.type in (float, int, str, bool), (name, s.name)
            if s.type is int and s.name not in ("step", "step_a", "step_b"):
                assert s.range is not None and s.range[0] >= 0, (name, s.name)
        assert ev.Params.model_config.get("extra") == "forbid"
        assert ev.describe()


def test_schema_and_listing_read_the_declared_stats() -> None:
    import json

    from conftest import invoke

    schema = json.loads(invoke("schema").output)
    by_name = {c["if"]["properties"]["evaluator"]["const"]: c["then"] for c in schema["$defs"]["Prediction"]["allOf"]}
    stat = by_name["text.compare"]["properties"]["expect"]["items"]["properties"]["stat"]
    assert {"const": "difference", "description": "a − b."} in stat["anyOf"]
    listed = json.loads(invoke("evaluators", "--format", "json").output)["evaluators"]
    spikes = next(e for e in listed if e["name"] == "loss.spikes")
    count = next(s for s in spikes["statistics"] if s["name"] == "count")
    assert count == {
        "name": "count",
        "doc": "Spike events (maximal runs of flagged rows).",
        "range": [0, None],
        "rate": False,
        "type": "int",
    }
    assert next(e for e in listed if e["name"] == "runs.compare")["across"] == "runs"


def test_statistic_names_are_declared_where_they_are_computed(evaluators: EvaluatorRegistry) -> None:
    from evaluators._lib.attention import ATTENTION_STATS
    from evaluators._lib.lens import LENS_STATS
    from evaluators._lib.moments import ELEMENT_STATS
    from evaluators._lib.series import SeriesStat

    def names(name: str) -> list[str]:
        return [s.name for s in evaluators.get(name).statistics]

    assert names("activation.attention")[: len(ATTENTION_STATS)] == list(ATTENTION_STATS)
    assert names("activation.lens")[: len(LENS_STATS)] == list(LENS_STATS)
    import typing

    series = set(typing.get_args(SeriesStat))
    assert set(ELEMENT_STATS) | set(ATTENTION_STATS) <= series
    assert {s.removeprefix("lens_") for s in series if s.startswith("lens_")} <= set(LENS_STATS)
