"""`registry history` and `registry diff`: verdict changes read from git."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import Project, invoke
from integrity_git import CLAIM, Repo, git


def metrics_sha(repo: Repo, run: str, rev: str | None = None) -> str:
    """The metrics artifact's sha256 (first 12 digits) in the verdict of `run`, at `rev` or in the working tree."""
    path = f"verdicts/final-loss-low/{run}.yaml"
    text = git(repo.root, "show", f"{rev}:{path}") if rev else (repo.root / path).read_text()
    return str(yaml.safe_load(text)["run"]["artifacts"]["metrics"]["sha256"])[:12]


def append_loss(repo: Repo, run: str, loss: float) -> None:
    metrics = repo.project.runs / run / "metrics.csv"
    metrics.write_text(metrics.read_text() + f"300,train,{loss},0.5,late\n")


@pytest.fixture
def two_commits(project: Project) -> tuple[Repo, str, str]:
    """Verdicts committed twice: on basic the outcome goes pass -> fail; basic-2 stays the same."""
    repo = Repo(project)
    repo.run()
    repo.run(name="basic-2")
    repo.claim(CLAIM.format(id="final-loss-low", status="registered"))
    repo.commit("register", "2026-01-01T00:00:00Z")
    assert invoke("evaluate").exit_code == 0
    first = repo.commit("first verdicts", "2026-07-01T00:00:00Z")
    append_loss(repo, "basic", 2.5)
    assert invoke("evaluate").exit_code == 0
    second = repo.commit("longer run", "2026-07-02T00:00:00Z")
    return repo, first, second


def test_history_shows_each_change(two_commits: tuple[Repo, str, str]) -> None:
    repo, first, second = two_commits
    result = invoke("history", "final-loss-low", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["entries"]
    assert [(r["commit"], r["run"], r["before"], r["after"]) for r in rows] == [
        (second, "basic", "pass", "fail"),
        (first, "basic", None, "pass"),
        (first, "basic-2", None, "pass"),
    ]
    changed = f"artifact metrics changed (sha256 {metrics_sha(repo, 'basic', first)} → {metrics_sha(repo, 'basic', second)})"
    assert rows[0]["changes"] == ["final-loss: pass → fail", "final-loss.value 1.357 → 2.5", "final-loss.n 30 → 31", changed]
    assert (rows[0]["author"], rows[0]["date"], rows[0]["subject"]) == ("Ada Tester", "2026-07-02T00:00:00Z", "longer run")
    assert rows[1]["changes"] == ["new verdict", "final-loss: value=1.357 (n=30)"]
    assert rows[0]["claim_version"].endswith("(current claim)")


def test_history_of_one_run_as_a_table(two_commits: tuple[Repo, str, str]) -> None:
    repo, first, second = two_commits
    changed = f"artifact metrics changed (sha256 {metrics_sha(repo, 'basic', first)} → {metrics_sha(repo, 'basic', second)})"
    result = invoke("history", "final-loss-low", "--run", "basic")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.splitlines() == [
        "commit        date        author      run    outcome      what changed",
        f"{second[:12]}  2026-07-02  Ada Tester  basic  pass → fail  final-loss: pass → fail; final-loss.value 1.357 → 2.5; "
        f"final-loss.n 30 → 31; {changed}",
        f"{first[:12]}  2026-07-01  Ada Tester  basic  — → pass     new verdict; final-loss: value=1.357 (n=30)",
        "2 change(s) to verdicts of final-loss-low",
    ]


def test_diff_between_revisions_and_against_the_working_tree(two_commits: tuple[Repo, str, str]) -> None:
    repo, first, second = two_commits
    data = json.loads(invoke("diff", first, second, "--format", "json").output)
    rows = [(e["claim"], e["run"], e["before"], e["after"]) for e in data["entries"]]
    assert rows == [("final-loss-low", "basic", "pass", "fail")]
    assert data["counts"] == {"pass → fail": 1}
    result = invoke("diff")
    assert result.exit_code == 0, result.output
    assert result.output == "no verdict changed between HEAD and working tree\n"
    before = metrics_sha(repo, "basic-2", "HEAD")
    append_loss(repo, "basic-2", 3.0)
    assert invoke("evaluate").exit_code == 0
    changed = f"artifact metrics changed (sha256 {before} → {metrics_sha(repo, 'basic-2')})"
    result = invoke("diff", "--format", "markdown")
    assert result.exit_code == 0, result.output
    assert result.output == (
        "### Verdict changes: `HEAD` → working tree\n"
        "\n"
        "1 verdict(s) changed: 1 pass → fail.\n"
        "\n"
        "| claim | run | before | after | what changed |\n"
        "| --- | --- | --- | --- | --- |\n"
        "| `final-loss-low` | `basic-2` | pass | **fail** | final-loss: pass → fail; final-loss.value 1.357 → 3; "
        f"final-loss.n 30 → 31; {changed} |\n"
    )


def test_diff_sees_new_untracked_verdicts(two_commits: tuple[Repo, str, str]) -> None:
    repo, _, _ = two_commits
    repo.run(name="basic-3")
    assert invoke("evaluate").exit_code == 0
    data = json.loads(invoke("diff", "--format", "json").output)
    assert [(e["run"], e["before"], e["after"]) for e in data["entries"]] == [("basic-3", None, "pass")]


def test_bad_revisions_and_missing_history(two_commits: tuple[Repo, str, str]) -> None:
    result = invoke("diff", "no-such-branch")
    assert result.exit_code == 2, result.output
    assert result.output == "unknown revision 'no-such-branch' (hint: a commit, branch or tag, e.g. HEAD~1 or main)\n"
    result = invoke("history", "no-such-claim")
    assert result.exit_code == 2, result.output
    assert result.output == "no claim and no committed verdicts for 'no-such-claim' (hint: see `registry list`)\n"


def test_detached_head_is_noted(two_commits: tuple[Repo, str, str]) -> None:
    repo, first, _ = two_commits
    git(repo.root, "checkout", "-q", "--detach", first)
    result = invoke("history", "final-loss-low", "--format", "json")
    assert result.exit_code == 0, result.output
    assert f"note: HEAD is detached at {first[:12]}: showing the history of that commit" in result.stderr
    assert len(json.loads(result.stdout)["entries"]) == 2


def test_outside_git(project: Project) -> None:
    result = invoke("history", "anything")
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"verdict history is read from git, and {project.root} is not a git repository "
        "(hint: run it inside the project's git checkout)\n"
    )
    result = invoke("diff")
    assert result.exit_code == 2, result.output
    assert "verdict diff is read from git" in result.output
    # Commands that do not need git still work.
    assert invoke("status").exit_code == 0
    assert invoke("stats").exit_code == 0


def test_a_verdict_from_a_newer_schema_is_named_not_misread(two_commits: tuple[Repo, str, str]) -> None:
    repo, _, _ = two_commits
    path = repo.project.verdict("final-loss-low", "basic")
    path.write_text(path.read_text().replace("schema_version: 3", "schema_version: 4"))
    data = json.loads(invoke("diff", "--format", "json").output)
    assert data["entries"][0]["changes"] == [
        "cannot read the verdict after (a newer schema version than this tool, or not a verdict file)"
    ]
    status = json.loads(invoke("status", "--format", "json").output)
    (pair,) = [p for p in status["pairs"] if p["run"] == "basic"]
    assert (pair["state"], pair["reasons"]) == ("unreadable", ["verdict schema version 4 is newer than this tool reads (3)"])
