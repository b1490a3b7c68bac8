"""`registry status` (stale, missing, orphaned, unreadable verdicts; --check) and `registry stats`."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from conftest import FIXTURES, Project, invoke
from integrity_git import CLAIM, Repo


@pytest.fixture
def evaluated(project: Project) -> Project:
    project.add_run("runs/basic")
    project.add_claim("claims/loss/one-spike.yaml")
    (project.claims / "final-loss-low.yaml").write_text(CLAIM.format(id="final-loss-low", status="registered"))
    assert invoke("evaluate").exit_code == 0
    return project


def states() -> dict[tuple[str, str], tuple[str, list[str]]]:
    result = invoke("status", "--format", "json")
    assert result.exit_code == 0, result.output
    return {(p["claim"], p["run"]): (p["state"], p["reasons"]) for p in json.loads(result.output)["pairs"]}


def test_all_fresh(evaluated: Project) -> None:
    result = invoke("status", "--check")
    assert result.exit_code == 0, result.output
    assert result.output == "2 verdict(s): 2 ok\n"


def test_claim_artifact_and_evaluator_changes_make_verdicts_stale(evaluated: Project) -> None:
    spike = evaluated.claims / "one-spike.yaml"
    spike.write_text(spike.read_text().replace("window: 5", "window: 6"))
    metrics = evaluated.runs / "basic" / "metrics.csv"
    metrics.write_text(metrics.read_text() + "300,train,1.0,0.5,late\n")
    verdict = evaluated.verdict("final-loss-low", "basic")
    verdict.write_text(verdict.read_text().replace("evaluator_version: '2'", "evaluator_version: '0'"))
    got = states()
    state, reasons = got[("one-spike", "basic")]
    assert state == "stale"
    assert reasons[0].startswith("claim changed since (recorded under an unrecorded earlier version, fingerprint ")
    assert reasons[1].startswith("artifact metrics changed (sha256 ")
    assert got[("final-loss-low", "basic")][1][1] == "evaluator metric.threshold 0 → 2"
    result = invoke("status", "--check")
    assert result.exit_code == 1, result.output
    assert result.output.rstrip().endswith("2 verdict(s): 2 stale")
    assert "one-spike\tbasic\tstale\t" in result.output  # piped: one line per pair


def test_missing_orphaned_and_unreadable(evaluated: Project) -> None:
    evaluated.add_run("runs/basic", dest="basic-2")
    manifest = evaluated.runs / "basic-2" / "run.yaml"
    manifest.write_text(manifest.read_text().replace("id: basic", "id: basic-2"))
    (evaluated.claims / "one-spike.yaml").unlink()
    (evaluated.verdicts / "final-loss-low" / "nowhere.yaml").write_text("not: a verdict\n")
    got = states()
    assert got[("final-loss-low", "basic-2")] == ("missing", ["never evaluated"])
    assert got[("one-spike", "basic")] == ("orphaned", ["no claim 'one-spike'"])
    assert got[("final-loss-low", "nowhere")][0] == "unreadable"
    assert got[("final-loss-low", "basic")] == ("ok", [])
    result = invoke("status")
    assert result.exit_code == 0, result.output  # without --check, a report only
    assert result.output.rstrip().endswith("4 verdict(s): 1 ok, 1 missing, 1 orphaned, 1 unreadable")


def test_a_version_1_verdict_is_stale_until_re_evaluated(project: Project) -> None:
    project.add_run("runs/basic")
    project.add_claim("golden/golden-all-levels.yaml")
    target = project.verdict("golden-all-levels", "basic")
    target.parent.mkdir(parents=True)
    shutil.copyfile(FIXTURES / "golden" / "golden-all-levels.basic.v1.yaml", target)
    assert states()[("golden-all-levels", "basic")] == (
        "stale",
        [
            "written by verdict schema version 1 (now 3)",
            "evaluator metric.threshold 1 → 2",
            "evaluator loss.spikes 2 → 3",
            "evaluator text.match_rate 2 → 3",  # RE2 since version 3
        ],
    )
    assert invoke("evaluate").exit_code == 0
    assert states()[("golden-all-levels", "basic")] == ("ok", [])


def test_a_claim_committed_after_its_evaluation_leaves_the_verdict_current(project: Project) -> None:
    """The registration level is computed when read, not stored: committing moves it, not the file."""
    repo = Repo(project)
    repo.run()
    repo.claim(CLAIM.format(id="final-loss-low", status="registered"))
    assert invoke("evaluate").exit_code == 0  # claim not committed yet
    repo.commit("claim and verdict together")
    assert states()[("final-loss-low", "basic")] == ("ok", [])


def test_stats(evaluated: Project) -> None:
    (evaluated.claims / "never.yaml").write_text(
        CLAIM.format(id="never", status="registered").replace("predictions:", "applies_to: {tags: [gpu]}\npredictions:")
    )
    evaluated.add_run("runs/basic", dest="basic-2")
    manifest = evaluated.runs / "basic-2" / "run.yaml"
    manifest.write_text(manifest.read_text().replace("id: basic", "id: basic-2"))
    result = invoke("stats")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:6] == [
        "claims: 1 draft, 2 registered",
        "verdicts of draft claims: 1 pass",
        "verdicts of registered claims: 1 pass",
        "registration of verdicts: 2 unknown",
        "verdict files: 2 ok, 2 missing",
        "(claim, run) pairs never evaluated: 2",
    ]
    assert "registered or retired claims without any verdict: never" in result.output
    data = json.loads(invoke("stats", "--format", "json").output)
    assert data["never_evaluated"] == [["final-loss-low", "basic-2"], ["one-spike", "basic-2"]]
    assert data["amendments"] == [] and data["superseded"] == []


def test_stats_groups_inconclusive_reasons(project: Project) -> None:
    project.add_run("runs/basic")
    claim = yaml.safe_load((FIXTURES / "claims/loss/one-spike.yaml").read_text())
    claim["predictions"][0]["min_samples"] = 1000
    (project.claims / "one-spike.yaml").write_text(yaml.safe_dump(claim))
    assert invoke("evaluate").exit_code == 0
    data = json.loads(invoke("stats", "--format", "json").output)
    assert data["inconclusive_reasons"] == {"n=N is below min_samples=N": 1}
