"""Incremental evaluation: a pair whose verdict is current is skipped (its file untouched), and any change
to what the verdict depends on makes it measured again."""

from __future__ import annotations

import pytest
from conftest import Project, invoke

import registry.language.judge as judge
import registry.readers.formats as formats

CLAIMS = ["claims/loss/final-loss-below-2.yaml", "claims/loss/one-spike.yaml", "claims/text/refusals-are-rare.yaml"]


def setup(project: Project, copies: int = 2) -> None:
    project.add_run_copies("runs/basic", copies)
    for claim in CLAIMS:
        project.add_claim(claim)


def evaluate(*args: str) -> str:
    result = invoke("evaluate", "--jobs", "1", *args)
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def test_second_evaluation_skips_every_pair_and_touches_no_file(project: Project) -> None:
    setup(project)
    assert evaluate().endswith("6 file(s) changed")
    before = project.verdict_snapshot()
    line = evaluate()
    assert line == "0 verdict(s): none; 6 current, skipped (--force re-measures); 0 file(s) changed"
    assert project.verdict_snapshot() == before


def test_force_remeasures_and_writes_the_same_bytes(project: Project) -> None:
    setup(project)
    evaluate()
    before = project.verdict_snapshot()
    line = evaluate("--force")
    assert line.startswith("6 verdict(s)") and line.endswith("; 0 file(s) changed")
    assert project.verdict_snapshot() == before


def test_a_changed_artifact_is_measured_again_and_only_its_run(project: Project) -> None:
    setup(project)
    evaluate()
    csv = project.runs / "basic1" / "metrics.csv"
    csv.write_text(csv.read_text() + "\n")  # new bytes, same table: the hash in the verdicts changes
    line = evaluate()
    assert line.startswith("2 verdict(s)") and line.endswith("4 current, skipped (--force re-measures); 2 file(s) changed")


@pytest.mark.parametrize("change", ["evaluator", "reader", "judge", "claim", "manifest", "verdict file"])
def test_any_change_it_depends_on_makes_a_verdict_not_current(
    project: Project, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    setup(project, copies=1)
    claim = project.claims / "final-loss-below-2.yaml"
    if change == "claim":  # a registered claim may not change without an amendment: a draft does
        claim.write_text(claim.read_text().replace("status: registered", "status: draft"))
    evaluate()
    if change == "evaluator":
        from evaluators.metric.threshold import Threshold

        monkeypatch.setattr(Threshold, "version", Threshold.version + "-next")
    elif change == "reader":
        monkeypatch.setitem(formats.READER_VERSIONS, "metrics", "next")
    elif change == "judge":
        monkeypatch.setattr(judge, "JUDGE_VERSION", "next")
    elif change == "claim":
        claim.write_text(claim.read_text().replace("value: 2.0", "value: 2.5"))
    elif change == "manifest":
        path = project.runs / "basic0" / "run.yaml"
        path.write_text(path.read_text().replace("where: {split: train}", "where: {split: val}"))
    else:
        path = project.verdict("final-loss-below-2", "basic0")
        path.write_text(path.read_text().replace("outcome: pass", "outcome: fail"))
    line = evaluate()
    assert not line.startswith("0 verdict(s)"), line
    # What `--force` writes is what the incremental run wrote.
    after = project.verdict_snapshot()
    evaluate("--force")
    assert {k: v[0] for k, v in project.verdict_snapshot().items()} == {k: v[0] for k, v in after.items()}


def test_strict_counts_skipped_fails(project: Project) -> None:
    setup(project, copies=1)
    project.add_claim("claims/loss/loss-below-zero.yaml")  # fails on the fixture run
    evaluate()
    result = invoke("evaluate", "--jobs", "1", "--strict")
    assert "current, skipped" in result.output
    assert result.exit_code == 1


def test_json_lists_the_skipped_pairs(project: Project) -> None:
    import json

    setup(project, copies=1)
    evaluate()
    result = invoke("evaluate", "--jobs", "1", "--format", "json")
    data = json.loads(result.output)
    assert data["verdicts"] == []
    assert {(s["claim"], s["run"]) for s in data["skipped"]} == {
        ("final-loss-below-2", "basic0"), ("one-spike", "basic0"), ("refusals-are-rare", "basic0")
    }



def test_the_index_is_never_written_through_a_linked_cache_folder(
    project: Project, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """`.registry-cache` pointing elsewhere: evaluate still works, and writes no index there."""
    setup(project, copies=1)
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (project.root / ".registry-cache").symlink_to(elsewhere, target_is_directory=True)
    assert evaluate().endswith("3 file(s) changed")
    assert not (elsewhere / "evaluated.json").exists()
