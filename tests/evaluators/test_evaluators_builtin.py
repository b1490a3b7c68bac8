"""Every built-in evaluator on small artifacts with known statistics, driven by fixtures/evaluator_cases.yaml."""

from __future__ import annotations

import math
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import FIXTURES, write_run, write_tensors

from registry.artifacts import load_run
from registry.errors import CannotMeasure
from registry.plugins import Evaluator, EvaluatorRegistry

DATA = yaml.safe_load((FIXTURES / "evaluator_cases.yaml").read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = DATA["cases"]
BUILTINS = ("metric.threshold", "loss.spikes", "activation.stat", "text.match_rate")


@pytest.fixture(scope="module")
def evaluators() -> EvaluatorRegistry:
    return EvaluatorRegistry()


def build_run(folder: Path, artifacts: dict[str, dict[str, Any]]) -> Path:
    specs: dict[str, dict[str, Any]] = {}
    for name, art in artifacts.items():
        art = dict(art)
        target = folder / art.pop("file")
        target.parent.mkdir(parents=True, exist_ok=True)
        if "text" in art:
            target.write_text(art.pop("text"), encoding="utf-8")
        elif "table" in art:
            target.write_text(DATA["tables"][art.pop("table")], encoding="utf-8")
        elif "tensors" in art:
            tensors = {n: (t["dtype"], t["values"]) for n, t in art.pop("tensors").items()}
            write_tensors(target, tensors, art.pop("metadata", None))
        specs[name] = {"path": target.relative_to(folder).as_posix(), **art}
    return write_run(folder, "case-run", specs)


def same(observed: Any, expected: Any) -> bool:
    """Equal, with floats compared to 1e-9 relative (and nested dicts and lists alike)."""
    if isinstance(expected, dict):
        return isinstance(observed, dict) and observed.keys() == expected.keys() and all(
            same(observed[k], expected[k]) for k in expected
        )
    if isinstance(expected, list):
        return isinstance(observed, list | tuple) and len(observed) == len(expected) and all(
            same(o, e) for o, e in zip(observed, expected, strict=True)
        )
    if isinstance(expected, float) and not isinstance(observed, bool) and isinstance(observed, int | float):
        return math.isclose(observed, expected, rel_tol=1e-9, abs_tol=1e-12)
    return type(observed) is type(expected) and observed == expected


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case: dict[str, Any], evaluators: EvaluatorRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run = load_run(build_run(tmp_path / "run", case["artifacts"]))
    evaluator: Evaluator = evaluators.get(case["evaluator"])
    params = evaluator.Params.model_validate(case.get("params", {}))
    if "cannot_measure" in case:
        with pytest.raises(CannotMeasure) as info:
            evaluator.evaluate(params, run)
        assert info.value.reason == case["cannot_measure"]
        return
    measurement = evaluator.evaluate(params, run)
    statistics = dict(measurement.statistics)
    # The contract: an evaluator returns exactly the statistics it declares.
    declared = {s.name: s for s in evaluator.statistics_for(params)}
    assert set(statistics) == set(declared)
    # ... each of the declared type (null: undefined), inside its declared range.
    for name, value in statistics.items():
        stat = declared[name]
        if value is not None:
            assert isinstance(value, stat.type) or (stat.type is float and isinstance(value, int)), (name, value)
            if stat.range is not None and not isinstance(value, str):
                assert stat.range[0] <= value <= stat.range[1], (name, value)
    # Cases pin the statistics they are about; an evaluator may return more (it declares them all).
    assert set(case["statistics"]) <= set(statistics)
    assert same({k: statistics[k] for k in case["statistics"]}, case["statistics"]), statistics
    assert measurement.n == case["n"]
    for key, expected in case.get("evidence", {}).items():
        assert same(measurement.evidence[key], expected), (key, measurement.evidence[key])


def _cases_of(name: str) -> list[dict[str, Any]]:
    return [c for c in CASES if c["evaluator"] == name]


def test_cases_cover_every_builtin_and_option(evaluators: EvaluatorRegistry) -> None:
    assert {c["evaluator"] for c in CASES} == set(BUILTINS)
    reduce_options = set(typing.get_args(evaluators.get("metric.threshold").Params.model_fields["reduce"].annotation))
    assert {c["params"].get("reduce", "last") for c in _cases_of("metric.threshold")} >= reduce_options
    stat_options = set(typing.get_args(evaluators.get("activation.stat").Params.model_fields["stat"].annotation))
    assert {c["params"]["stat"] for c in _cases_of("activation.stat")} == stat_options
    suffixes = {Path(a["file"]).suffix for c in _cases_of("activation.stat") for a in c["artifacts"].values()}
    assert suffixes == {".npy", ".npz", ".safetensors"}


@pytest.mark.parametrize(
    ("evaluator", "params", "message"),
    [
        ("activation.stat", {"tensor": "a", "stat": "frac_above"}, "stat frac_above needs a threshold"),
        ("activation.stat", {"tensor": "a", "stat": "mean", "threshold": 1}, "threshold is only used with stat frac_above"),
        ("text.match_rate", {}, "give exactly one of pattern or phrases"),
        ("text.match_rate", {"pattern": "a", "phrases": ["b"]}, "give exactly one of pattern or phrases"),
        ("text.match_rate", {"phrases": []}, "phrases must not be empty"),
        ("text.match_rate", {"pattern": "(unclosed"}, "invalid regular expression: missing ), unterminated subpattern"),
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
    for name in BUILTINS:
        ev = evaluators.get(name)
        assert ev.name == name
        assert ev.levels and ev.levels <= {"loss", "activation", "text"}
        assert ev.version
        assert ev.statistics
        assert ev.Params.model_config.get("extra") == "forbid"
        assert ev.describe()
