"""metric.compare with activation series: a side may be `tensor` + `stat` per checkpoint (as in
metric.trend and events.precedes), e.g. the logit lens's agreement at two checkpoints."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, write_table
from pydantic import ValidationError

from evaluators._lib.series import SeriesSpec, load_series
from evaluators.activation.lens import Lens
from evaluators.metric.compare import Compare, CompareParams
from registry import CannotMeasure, Run
from registry.runs.run import load_run

TINY = FIXTURES / "activations" / "tiny-gpt"
LENS = {"tensor": "blocks.*.hook_resid_post", "stat": "lens_agreement"}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The tinygpt-shaped fixture run (checkpoints 0, 10, 20) with a metrics table added."""
    folder = tmp_path_factory.mktemp("r") / "tiny-gpt"
    shutil.copytree(TINY, folder)
    write_table(folder / "metrics.csv", {"step": [0, 10, 20], "loss": [4.0, 3.0, 2.5]})
    manifest = folder / "run.yaml"
    manifest.write_text(manifest.read_text() + "  metrics: {path: metrics.csv}\n")
    return load_run(manifest)


def compare(run: Run, **params: Any) -> Any:
    return Compare().evaluate(CompareParams.model_validate(params), run)


def series(run: Run, **spec: Any) -> dict[int, float]:
    s = load_series(run, SeriesSpec.model_validate(spec))
    return dict(zip(s.steps.tolist(), s.values.tolist(), strict=True))


def test_two_checkpoints_of_one_activation_series(run: Run) -> None:
    values = series(run, **LENS)
    m = compare(run, **LENS, a={"steps": [20, 20]}, b={"steps": [0, 0]})
    assert m.statistics["a"] == pytest.approx(values[20])
    assert m.statistics["b"] == pytest.approx(values[0])
    assert m.statistics["difference"] == pytest.approx(values[20] - values[0])
    assert m.statistics["missing"] == 0
    assert m.n == 1  # one checkpoint per side
    assert m.evidence["a"] == {
        "series": "blocks.*.hook_resid_post:lens_agreement",
        "reduce": "mean",
        "first_step": 20,
        "last_step": 20,
    }


def test_the_series_agrees_with_activation_lens(run: Run) -> None:
    lens = Lens().evaluate(Lens.Params.model_validate({"steps": [10, 10]}), run)
    m = compare(run, tensor="blocks.*.hook_resid_post", stat="lens_accuracy", a={"steps": [10, 10]}, b={"steps": [0, 0]})
    assert m.statistics["a"] == pytest.approx(lens.statistics["accuracy"])


def test_windows_are_reduced_over_checkpoints(run: Run) -> None:
    values = series(run, tensor="blocks.*.hook_resid_post", stat="rms")
    m = compare(run, tensor="blocks.*.hook_resid_post", stat="rms", a={"steps": [10, None]}, b={"steps": [0, 0]})
    assert m.statistics["a"] == pytest.approx((values[10] + values[20]) / 2)
    assert m.n == 1  # the smaller side
    m = compare(run, tensor="blocks.*.hook_resid_post", stat="rms", a={"steps": [10, None], "reduce": "max"}, b={})
    assert m.statistics["a"] == pytest.approx(max(values[10], values[20]))
    assert m.statistics["b"] == pytest.approx(sum(values.values()) / 3)


def test_sides_of_different_kinds(run: Run) -> None:
    """A column against an activation series; a side's own tensor replaces the top-level column."""
    values = series(run, **LENS)
    m = compare(run, column="loss", a={"steps": [20, 20]}, b={**LENS, "steps": [20, 20]})
    assert m.statistics["a"] == pytest.approx(2.5)
    assert m.statistics["b"] == pytest.approx(values[20])
    assert m.evidence["a"]["column"] == "loss" and m.evidence["b"]["series"] == "blocks.*.hook_resid_post:lens_agreement"
    # Different statistics of the same tensors, side by side.
    m = compare(run, tensor="blocks.*.hook_resid_post", a={"stat": "lens_accuracy"}, b={"stat": "lens_agreement"}, steps=[20, 20])
    assert m.statistics["b"] == pytest.approx(values[20])


def test_element_statistics_keep_and_select(run: Run) -> None:
    spec = {"tensor": "blocks.1.attn.hook_attn_scores", "stat": "max", "keep": ["head"], "across": "min"}
    values = series(run, **spec)
    m = compare(run, **spec, a={"steps": [20, 20]}, b={"steps": [0, 0], "across": "max"})
    assert m.statistics["a"] == pytest.approx(values[20])
    assert m.statistics["b"] == pytest.approx(series(run, **{**spec, "across": "max"})[0])


def test_column_sides_unchanged(run: Run) -> None:
    m = compare(run, column="loss", a={"steps": [20, 20]}, b={"steps": [0, 0]})
    assert m.statistics == {"a": 2.5, "b": 4.0, "difference": -1.5, "ratio": 0.625, "missing": 0}
    assert m.evidence == {
        "a": {"column": "loss", "reduce": "mean", "first_step": 20, "last_step": 20},
        "b": {"column": "loss", "reduce": "mean", "first_step": 0, "last_step": 0},
    }


def test_no_checkpoint_in_a_window_is_inconclusive(run: Run) -> None:
    with pytest.raises(CannotMeasure, match=r"^side a: checkpoints has no checkpoint with steps in \[503, 503\]"):
        compare(run, **LENS, a={"steps": [503, 503]}, b={"steps": [0, 0]})


def test_explicit_artifact_is_used_for_activation_sides(run: Run) -> None:
    with pytest.raises(CannotMeasure, match="side a: .*metrics"):
        compare(run, **LENS, artifact="metrics", a={"steps": [20, 20]}, b={"steps": [0, 0]})


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"column": "loss", "tensor": "x", "stat": "rms", "a": {}, "b": {"steps": [0, 0]}}, "not both"),
        ({"column": "loss", "a": {"column": "loss", "tensor": "x"}, "b": {}}, "side a: give `column` or `tensor`, not both"),
        ({"column": "loss", "a": {"stat": "rms"}, "b": {"steps": [0, 0]}}, "side a: stat is only used with `tensor`"),
        ({"tensor": "x", "a": {}, "b": {"steps": [0, 0]}}, "side a: an activation series needs `stat`"),
        ({"tensor": "x", "stat": "frac_above", "a": {}, "b": {"steps": [0, 0]}}, "side a: stat frac_above needs a threshold"),
        ({"tensor": "x", "stat": "rms", "a": {}, "b": {}}, "sides a and b are the same values"),
        ({"tensor": "x", "stat": "rms", "a": {"stat": "bogus"}, "b": {}}, "Input should be"),
    ],
)
def test_params_rejected(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CompareParams.model_validate(params)


def test_claim_with_activation_sides_validates(tmp_path: Path) -> None:
    """Through the claim loader (what `registry validate` does): the params are the evaluator's."""
    from registry import EvaluatorRegistry
    from registry.language.load import load_claims

    claim = tmp_path / "c.yaml"
    claim.write_text(
        """\
id: c
title: t
statement: s
falsified_if: f
status: draft
predictions:
  - id: p
    level: activation
    evaluator: metric.compare
    params:
      tensor: "blocks.*.hook_resid_post"
      stat: lens_agreement
      a: {steps: [503, 503]}
      b: {steps: [500, 500]}
    expect:
      - {stat: difference, op: "<", value: 0}
""",
        encoding="utf-8",
    )
    (loaded,) = load_claims([claim], EvaluatorRegistry())
    assert loaded.params["p"].resolved("a").series == {"tensor": "blocks.*.hook_resid_post", "stat": "lens_agreement"}
    assert loaded.params["p"].resolved("a").artifact == "activations"
