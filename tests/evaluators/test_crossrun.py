"""Claims over several runs (`across: runs`): runs.compare, events.coincide, the `_across-runs` verdict,
and the located errors of a prediction that mixes per-run and cross-run measurement."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import Project, invoke, write_run

HEAD = "title: t\nstatement: s\nfalsified_if: f\n"


def metrics_run(project: Project, run_id: str, loss: np.ndarray, tags: list[str]) -> None:
    folder = project.runs / run_id
    folder.mkdir(parents=True)
    steps = np.arange(loss.size)
    (folder / "metrics.csv").write_text("step,loss\n" + "".join(f"{s},{float(v)!r}\n" for s, v in zip(steps, loss, strict=True)))
    write_run(folder, run_id, {"metrics": {"path": "metrics.csv"}}, tags)


def claim(project: Project, claim_id: str, body: str) -> Path:
    path = project.claims / f"{claim_id}.yaml"
    path.write_text(f"id: {claim_id}\n{HEAD}{body}")
    return path


COMPARE = """\
predictions:
  - id: final-loss
    level: loss
    across: runs
    groups: {treated: {tags: [treated]}, control: {tags: [control]}}
    evaluator: runs.compare
    params:
      evaluator: metric.threshold
      params: {column: loss, reduce: last}
      statistic: value
      a: treated
      b: control
      alternative: less
    expect:
      - {stat: difference, op: "<", value: 0}
      - {stat: p_value, op: "<=", value: 0.2}
    min_samples: 4
"""


def test_runs_compare_gives_one_across_runs_verdict_with_every_runs_hashes(project: Project) -> None:
    for i, final in enumerate([1.0, 1.1]):
        metrics_run(project, f"t{i}", np.array([3.0, 2.0, final]), ["treated"])
    for i, final in enumerate([2.0, 2.2]):
        metrics_run(project, f"c{i}", np.array([3.0, 2.5, final]), ["control"])
    claim(project, "treated-lower", COMPARE)
    result = invoke("evaluate")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (project.verdicts / "treated-lower").iterdir()) == ["_across-runs.yaml"]
    verdict = yaml.safe_load((project.verdicts / "treated-lower" / "_across-runs.yaml").read_text())
    assert "run" not in verdict
    assert [r["id"] for r in verdict["runs"]] == ["c0", "c1", "t0", "t1"]
    assert all(set(r["artifacts"]) == {"metrics"} and len(r["artifacts"]["metrics"]["sha256"]) == 64 for r in verdict["runs"])
    (pred,) = verdict["predictions"]
    assert pred["groups"] == {"control": ["c0", "c1"], "treated": ["t0", "t1"]}
    stats = pred["statistics"]
    assert math.isclose(stats["difference"], 1.05 - 2.1)
    # 2 vs 2 runs: all C(4, 2) = 6 relabellings are enumerated; only the observed one is as low.
    assert stats["permutations_used"] == 6
    assert math.isclose(stats["p_value"], 1 / 6)
    assert pred["n"] == 4 and verdict["outcome"] == "pass"


def spiky_loss(spike_steps: list[int], n: int = 400, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    loss = 2.0 + rng.normal(0, 0.01, n)
    loss[spike_steps] *= 1.5
    return loss


COINCIDE = """\
predictions:
  - id: same-steps
    level: loss
    across: runs
    evaluator: events.coincide
    params:
      events: {column: loss, detector: robust_z, window: 25, z: 6}
      tolerance: 0
      permutations: 200
    expect:
      - {stat: fraction, op: ">=", value: 0.9}
      - {stat: p_value, op: "<", value: 0.05}
    min_samples: 10
"""


@pytest.mark.parametrize(
    ("shared", "outcome"),
    [(True, "pass"), (False, "fail")],
    ids=["spikes-at-the-same-steps", "spikes-at-different-steps"],
)
def test_events_coincide_tells_shared_spike_steps_from_chance(project: Project, shared: bool, outcome: str) -> None:
    for i in range(3):
        steps = [60, 130, 210, 290, 350] if shared else [60 + 17 * i, 140 + 23 * i, 220 + 9 * i, 300 + 11 * i]
        metrics_run(project, f"r{i}", spiky_loss(steps, seed=i), ["x"])
    claim(project, "spikes-recur", COINCIDE)
    result = invoke("evaluate")
    assert result.exit_code == 0, result.output
    verdict = yaml.safe_load((project.verdicts / "spikes-recur" / "_across-runs.yaml").read_text())
    stats = verdict["predictions"][0]["statistics"]
    assert stats["runs"] == 3 and stats["pairs"] == 6
    assert verdict["outcome"] == outcome
    if shared:
        assert stats["fraction"] == 1.0 and stats["p_value"] < 0.05
    else:
        assert stats["fraction"] == 0.0


@pytest.mark.parametrize(
    ("name", "body", "expected"),
    [
        (
            "mixed",
            "predictions:\n"
            "  - {id: a, level: loss, evaluator: metric.threshold, params: {column: loss},"
            " expect: [{stat: value, op: '<', value: 1}]}\n"
            "  - {id: b, level: loss, across: runs, evaluator: runs.compare,"
            " params: {evaluator: metric.threshold, params: {column: loss}, statistic: value},"
            " expect: [{stat: mean_a, op: '<', value: 1}]}\n",
            "claims/mixed.yaml:6:3: predictions: predictions mix `across: run` and `across: runs`; split them into two claims",
        ),
        (
            "per-run-evaluator-across-runs",
            "predictions:\n"
            "  - {id: a, level: loss, across: runs, evaluator: metric.threshold, params: {column: loss},"
            " expect: [{stat: value, op: '<', value: 1}]}\n",
            "claims/per-run-evaluator-across-runs.yaml:6:51: predictions[0].evaluator: evaluator 'metric.threshold' measures "
            "one run at a time (hint: remove `across: runs`, or use a cross-run evaluator such as runs.compare)",
        ),
        (
            "cross-run-evaluator-per-run",
            "predictions:\n"
            "  - {id: a, level: loss, evaluator: runs.compare,"
            " params: {evaluator: metric.threshold, params: {column: loss}, statistic: value},"
            " expect: [{stat: mean_a, op: '<', value: 1}]}\n",
            "claims/cross-run-evaluator-per-run.yaml:6:37: predictions[0].evaluator: evaluator 'runs.compare' measures "
            "several runs at once (hint: set `across: runs` on this prediction)",
        ),
        (
            "undeclared-group",
            "predictions:\n"
            "  - {id: a, level: loss, across: runs, groups: {x: {tags: [x]}}, evaluator: runs.compare,"
            " params: {evaluator: metric.threshold, params: {column: loss}, statistic: value, a: x, b: y},"
            " expect: [{stat: difference, op: '<', value: 0}]}\n",
            "claims/undeclared-group.yaml:6:99: predictions[0].params: params name group 'y', which the prediction "
            "does not declare (hint: declared groups: x (add them under `groups:`))",
        ),
        (
            "groups-without-across",
            "predictions:\n"
            "  - {id: a, level: loss, groups: {x: {tags: [x]}}, evaluator: metric.threshold, params: {column: loss},"
            " expect: [{stat: value, op: '<', value: 1}]}\n",
            "claims/groups-without-across.yaml:6:5: predictions[0]: groups are only used with `across: runs`",
        ),
        (
            "nested-params",
            "predictions:\n"
            "  - {id: a, level: loss, across: runs, evaluator: runs.compare,"
            " params: {evaluator: metric.threshold, params: {colum: loss}, statistic: value},"
            " expect: [{stat: mean_a, op: '<', value: 1}]}\n",
            "claims/nested-params.yaml:6:73: predictions[0].params: params of metric.threshold: "
            "column: Field required; colum: Extra inputs are not permitted",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and "\n" not in v and not v.startswith("claims/") else "",
)
def test_cross_run_mistakes_are_located(project: Project, name: str, body: str, expected: str) -> None:
    claim(project, name, body)
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert result.output.splitlines()[0] == expected
    assert "Traceback" not in result.output
