"""metric.trend (OLS slope + Kendall's tau-b) and metric.compare (two reduced windows or columns)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from conftest import Project, invoke, write_run, write_table
from pydantic import ValidationError

from evaluators._lib.kendall import inversions, kendall_tau
from evaluators.metric.compare import Compare, CompareParams
from evaluators.metric.trend import Trend, TrendParams
from registry import CannotMeasure, Run
from registry.runs.run import load_run


def run_with(tmp_path: Path, columns: dict[str, list[Any]], suffix: str = ".csv") -> Run:
    folder = tmp_path / "r"
    write_table(folder / f"metrics{suffix}", columns)
    write_run(folder, "r", {"metrics": {"path": f"metrics{suffix}"}})
    return load_run(folder / "run.yaml")


# --- Kendall's tau ---------------------------------------------------------------------------------


def test_inversions_brute_force() -> None:
    rng = np.random.default_rng(0)
    for n in [1, 2, 3, 7, 16, 33, 100]:
        ranks = rng.integers(0, max(1, n // 3), size=n)
        expected = sum(1 for i, j in itertools.combinations(range(n), 2) if ranks[i] > ranks[j])
        assert inversions(ranks) == expected



def test_inversions_of_ranks_wider_than_16_bits() -> None:
    """70,000 rows: ranks past 65,535 take the wider sort key; checked against a Fenwick tree."""
    ranks = np.random.default_rng(2).integers(0, 70_000, size=70_000)
    tree = [0] * (70_001)
    expected = 0
    for seen, r in enumerate(ranks.tolist()):
        i, not_greater = r + 1, 0
        while i > 0:
            not_greater += tree[i]
            i -= i & -i
        expected += seen - not_greater
        i = r + 1
        while i <= 70_000:
            tree[i] += 1
            i += i & -i
    assert inversions(ranks) == expected
    assert inversions(np.arange(70_000)[::-1]) == 70_000 * 69_999 // 2

def test_tau_matches_scipy_asymptotic() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(1)
    for n in [3, 10, 57, 400]:
        y = np.round(rng.normal(size=n) + 0.01 * np.arange(n), 1)  # ties included
        for ours, theirs in [("two-sided", "two-sided"), ("increasing", "greater"), ("decreasing", "less")]:
            got = kendall_tau(y, ours)
            want = stats.kendalltau(np.arange(n), y, method="asymptotic", alternative=theirs)
            assert got.tau == pytest.approx(want.statistic, abs=1e-12)
            assert got.p_value == pytest.approx(want.pvalue, rel=1e-9, abs=1e-15)


# --- metric.trend ----------------------------------------------------------------------------------


def trend(run: Run, **params: Any) -> Any:
    return Trend().evaluate(TrendParams.model_validate({"column": "loss", **params}), run)


def test_trend_on_a_falling_loss(tmp_path: Path) -> None:
    steps = list(range(0, 200, 2))
    loss = [5.0 - 0.01 * s + 0.001 * ((s * 7) % 5) for s in steps]
    loss[10] = float("nan")
    m = trend(run_with(tmp_path, {"step": steps, "loss": loss}), alternative="decreasing")
    assert m.statistics["slope"] == pytest.approx(-0.01, rel=1e-2)
    assert m.statistics["tau"] < -0.9
    assert m.statistics["p_value"] < 1e-10
    assert m.statistics["missing"] == 0  # the NaN is written as an empty cell: not a row of `loss`
    assert m.n == 99
    m = trend(run_with(tmp_path / "b", {"step": steps, "loss": loss}), alternative="increasing")
    assert m.statistics["p_value"] > 0.99


def test_trend_window(tmp_path: Path) -> None:
    steps = list(range(100))
    loss = [float(s) if s < 50 else 100.0 - s for s in steps]
    m = trend(run_with(tmp_path, {"step": steps, "loss": loss}), steps=[50, None])
    assert m.statistics["slope"] == pytest.approx(-1.0)
    assert m.statistics["tau"] == -1.0
    assert m.evidence["first_step"] == 50


@pytest.mark.parametrize(
    ("columns", "params", "reason"),
    [
        ({"step": [], "loss": []}, {}, "artifact 'metrics' has no rows"),
        (
            {"step": [0, 1], "loss": [1.0, 2.0]},
            {"steps": [5, 9]},
            "artifact 'metrics' has no rows of 'loss' with steps in [5, 9]: 'loss' has 2 rows, steps 0..1",
        ),
        ({"step": [0], "loss": [1.0]}, {}, "column 'loss' has 1 value(s) in the window; a trend needs at least 2"),
        (
            {"step": [0, 1, 2], "loss": [1.0, float("nan"), float("nan")]},
            {},
            "column 'loss' has 1 value(s) in the window; a trend needs at least 2",
        ),
        (
            {"step": [0, 1, 2], "loss": [2.5, 2.5, 2.5]},
            {},
            "column 'loss' is constant (2.5) over the window; Kendall's tau is undefined",
        ),
        (
            {"step": [0, 1, 2, 3], "loss": [1.0, float("inf"), 2.0, float("-inf")]},
            {},
            "column 'loss' has 2 infinite value(s) in the window (first at step 1); a trend is undefined",
        ),
        ({"step": [0, 1], "lr": [1.0, 2.0]}, {}, "metrics.parquet has no column 'loss'"),
    ],
)
def test_trend_cannot_measure(tmp_path: Path, columns: dict, params: dict, reason: str) -> None:
    run = run_with(tmp_path, columns, ".parquet")
    with pytest.raises(CannotMeasure) as exc:
        trend(run, **params)
    assert exc.value.reason == reason


# --- metric.compare --------------------------------------------------------------------------------


def compare(run: Run, **params: Any) -> Any:
    return Compare().evaluate(CompareParams.model_validate(params), run)


def test_compare_two_windows_of_one_column(tmp_path: Path) -> None:
    run = run_with(tmp_path, {"step": list(range(10)), "loss": [4.0] * 5 + [2.0, 2.0, float("nan"), 2.0, 2.0]})
    m = compare(run, column="loss", a={"steps": [5, None]}, b={"steps": [0, 4]})
    assert m.statistics == {"a": 2.0, "b": 4.0, "difference": -2.0, "ratio": 0.5, "missing": 0}  # an empty cell
    assert m.n == 4
    assert m.evidence["a"] == {"column": "loss", "reduce": "mean", "first_step": 5, "last_step": 9}


def test_compare_two_columns_with_own_reduce(tmp_path: Path) -> None:
    run = run_with(tmp_path, {"step": [0, 1, 2], "val_loss": [3.0, 2.5, 2.4], "loss": [2.0, 1.0, 0.0]})
    m = compare(run, reduce="last", a={"column": "val_loss"}, b={"column": "loss", "reduce": "max"})
    assert m.statistics["a"] == 2.4 and m.statistics["b"] == 2.0
    assert m.statistics["difference"] == pytest.approx(0.4)
    m = compare(run, reduce="last", a={"column": "val_loss"}, b={"column": "loss"})
    assert m.statistics["ratio"] is None  # b is 0


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        (
            {"column": "loss", "a": {"steps": [0, 1]}, "b": {"steps": [50, 60]}},
            "side b: artifact 'metrics' has no rows of 'loss' with steps in [50, 60]: 'loss' has 3 rows, steps 0..2",
        ),
        ({"a": {"column": "loss"}, "b": {"column": "gone"}}, "side b: metrics.csv has no column 'gone'"),
        ({"a": {"column": "loss"}, "b": {"column": "empty"}}, "side b: column 'empty' is never written in artifact 'metrics'"),
    ],
)
def test_compare_cannot_measure(tmp_path: Path, params: dict, reason: str) -> None:
    nan = float("nan")
    run = run_with(tmp_path, {"step": [0, 1, 2], "loss": [1.0, 2.0, 3.0], "empty": [nan, nan, nan]})
    with pytest.raises(CannotMeasure) as exc:
        compare(run, **params)
    assert exc.value.reason == reason


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"a": {"column": "loss"}, "b": {}}, "side b names no column: set `column` at the top or in `b`"),
        ({"column": "loss", "a": {}, "b": {}}, "sides a and b are the same values: give them different columns, steps or reduce"),
        ({"column": "loss", "a": {"steps": [5, 1]}, "b": {}}, "start 5 is after end 1"),
    ],
)
def test_compare_params_rejected(params: dict, message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        CompareParams.model_validate(params)
    assert message in str(exc.value)


CLAIM = """\
id: loss-falls
title: The loss falls, and ends lower than it starts
statement: s
falsified_if: f
predictions:
  - id: trend
    level: loss
    evaluator: metric.trend
    params: {column: loss, alternative: decreasing}
    expect:
      - {stat: tau, op: "<", value: -0.5}
      - {stat: p_value, op: "<", value: 0.01}
  - id: compare
    level: loss
    evaluator: metric.compare
    params: {column: loss, reduce: median, a: {steps: [80, null]}, b: {steps: [0, 19]}}
    expect:
      - {stat: ratio, op: "<", value: 0.8}
  - id: flat
    level: loss
    evaluator: metric.trend
    params: {column: lr}
    expect:
      - {stat: tau, op: "<", value: 0}
"""


def test_trend_and_compare_end_to_end(project: Project) -> None:
    (project.claims / "loss-falls.yaml").write_text(CLAIM)
    steps = list(range(100))
    write_table(project.runs / "r" / "metrics.csv", {"step": steps, "loss": [3.0 - 0.01 * s for s in steps], "lr": [1e-3] * 100})
    write_run(project.runs / "r", "r", {"metrics": {"path": "metrics.csv"}})
    result = invoke("evaluate")
    assert result.exit_code == 0, result.output
    verdict = yaml.safe_load(project.verdict("loss-falls", "r").read_text())
    outcomes = {p["id"]: (p["outcome"], p.get("reason")) for p in verdict["predictions"]}
    assert outcomes == {
        "trend": ("pass", None),
        "compare": ("pass", None),
        "flat": ("inconclusive", "column 'lr' is constant (0.001) over the window; Kendall's tau is undefined"),
    }
