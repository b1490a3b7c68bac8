"""Registration level in every verdict, from git and run.yaml only (never the clock)."""

from __future__ import annotations

import json

import pytest
from conftest import Project, invoke
from integrity_git import CLAIM, Repo, git

from registry.language.fingerprint import claim_from_text, fingerprint

CLAIM_TEXT = CLAIM.format(id="final-loss-low", status="registered")


def evaluate(repo: Repo) -> dict[str, object]:
    """Evaluate, then the verdict's registration as `registry status` computes it when read."""
    result = invoke("evaluate")
    assert result.exit_code == 0, result.output
    assert "registration" not in repo.verdict("final-loss-low")  # not stored (schema v3)
    status = invoke("status", "--format", "json")
    assert status.exit_code == 0, status.output
    (pair,) = [p for p in json.loads(status.stdout)["pairs"] if p["claim"] == "final-loss-low"]
    registration = pair["registration"]
    assert isinstance(registration, dict)
    return registration


def amendment(replaced: str, date: str, *, first: bool = True) -> str:
    """An `amendments:` entry replacing the version with text `replaced`."""
    claim = claim_from_text(replaced)
    assert claim is not None
    entry = f"  - {{date: {date}, reason: Changed., replaces: {fingerprint(claim)[:12]}}}\n"
    return ("amendments:\n" if first else "") + entry


@pytest.fixture
def repo(project: Project) -> Repo:
    return Repo(project)


def test_preregistered_before_the_manifest_created_time(repo: Repo) -> None:
    repo.run(created="2026-06-01T00:00:00Z")
    repo.claim(CLAIM_TEXT)
    sha = repo.commit("register", "2026-01-01T00:00:00Z")
    assert evaluate(repo) == {
        "level": "preregistered",
        "reason": f"claim content committed 2026-01-01T00:00:00Z ({sha[:12]}, unsigned), before run 'basic' started "
        "2026-06-01T00:00:00Z (manifest created)",
        "claim_commit": sha[:12],
        "claim_committed": "2026-01-01T00:00:00Z",
        "run_started": "2026-06-01T00:00:00Z",
        "run_started_from": "manifest created",
    }


def test_postregistered_after_the_run_started(repo: Repo) -> None:
    repo.run(created="2026-06-01")  # a date alone: the start of that day, UTC
    repo.claim(CLAIM_TEXT)
    sha = repo.commit("register late", "2026-07-01T12:00:00Z")
    reg = evaluate(repo)
    assert reg["level"] == "postregistered"
    assert reg["reason"] == (
        f"claim content committed 2026-07-01T12:00:00Z ({sha[:12]}, unsigned), not before run 'basic' started "
        "2026-06-01T00:00:00Z (manifest created)"
    )


def test_uncommitted_claim(repo: Repo) -> None:
    repo.run()
    repo.commit("the run")
    path = repo.claim(CLAIM_TEXT)
    assert evaluate(repo) == {"level": "uncommitted", "reason": "the claim file is not committed"}
    sha = repo.commit("register")
    assert evaluate(repo)["level"] == "preregistered"
    # A cosmetic edit leaves the fingerprint, so the level, alone.
    path.write_text(path.read_text().replace("title: Final loss is low", "title: The final loss is low"))
    assert evaluate(repo)["level"] == "preregistered"
    path.write_text(path.read_text().replace("value: 2.0}", "value: 2.5}") + amendment(CLAIM_TEXT, "2026-02-01"))
    assert evaluate(repo) == {
        "level": "uncommitted",
        "reason": f"the claim's content differs from its last commit, {sha[:12]}",
    }


def test_an_amended_claim_counts_from_the_amendment(repo: Repo) -> None:
    repo.run(created="2026-06-01T00:00:00Z")
    path = repo.claim(CLAIM_TEXT)
    repo.commit("register", "2026-01-01T00:00:00Z")
    assert evaluate(repo)["level"] == "preregistered"
    amended = path.read_text().replace("value: 2.0}", "value: 2.5}") + amendment(CLAIM_TEXT, "2026-07-01")
    path.write_text(amended)
    repo.commit("amend", "2026-07-01T00:00:00Z")
    assert evaluate(repo)["level"] == "postregistered"
    # Going back to the original content starts a new stretch: still postregistered.
    path.write_text(CLAIM_TEXT + amendment(CLAIM_TEXT, "2026-07-01") + amendment(amended, "2026-08-01", first=False))
    repo.commit("revert", "2026-08-01T00:00:00Z")
    reg = evaluate(repo)
    assert (reg["level"], reg["claim_committed"]) == ("postregistered", "2026-08-01T00:00:00Z")


def test_without_created_the_first_commit_of_the_artifacts_counts(repo: Repo) -> None:
    repo.claim(CLAIM_TEXT)
    claim_sha = repo.commit("register", "2026-01-01T00:00:00Z")
    repo.run(created=None)
    reg = evaluate(repo)
    assert reg["level"] == "postregistered"
    assert reg["reason"] == (
        f"claim content committed 2026-01-01T00:00:00Z ({claim_sha[:12]}, unsigned); run 'basic' has no `created` in run.yaml "
        "and no committed artifacts, so it cannot be shown to have started later"
    )
    run_sha = repo.commit("add the run", "2026-03-01T00:00:00Z")
    reg = evaluate(repo)
    assert reg["level"] == "preregistered"
    assert (reg["run_started_from"], reg["run_commit"], reg["run_started"]) == (
        "artifacts committed",
        run_sha[:12],
        "2026-03-01T00:00:00Z",
    )


def test_a_moved_run_folder_dates_from_its_first_commit(repo: Repo) -> None:
    repo.run(created=None, name="old-name")
    run_sha = repo.commit("add the run", "2026-01-01T00:00:00Z")
    (repo.project.runs / "old-name").rename(repo.project.runs / "basic")
    manifest = repo.project.runs / "basic" / "run.yaml"
    manifest.write_text(manifest.read_text().replace("id: old-name", "id: basic"))
    repo.claim(CLAIM_TEXT)
    repo.commit("move the run, register the claim", "2026-03-01T00:00:00Z")
    reg = evaluate(repo)
    assert (reg["level"], reg["run_commit"], reg["run_started"]) == ("postregistered", run_sha[:12], "2026-01-01T00:00:00Z")


def test_verdicts_are_byte_identical_for_the_same_repository_state(repo: Repo) -> None:
    repo.run()
    repo.claim(CLAIM_TEXT)
    repo.commit("register")
    evaluate(repo)
    first = repo.project.verdict("final-loss-low", "basic").read_bytes()
    result = invoke("evaluate")
    assert result.output.rstrip().endswith("0 file(s) changed"), result.output
    assert repo.project.verdict("final-loss-low", "basic").read_bytes() == first


def test_detached_head_works(repo: Repo) -> None:
    repo.run()
    repo.claim(CLAIM_TEXT)
    repo.commit("register")
    repo.commit("another")
    git(repo.root, "checkout", "-q", "--detach", "HEAD~1")
    assert evaluate(repo)["level"] == "preregistered"


def test_outside_git_the_level_is_unknown_and_evaluate_works(project: Project) -> None:
    project.add_run("runs/basic")
    (project.claims / "final-loss-low.yaml").write_text(CLAIM_TEXT)
    result = invoke("evaluate")
    assert result.exit_code == 0, result.output
    status = json.loads(invoke("status", "--format", "json").stdout)
    assert status["pairs"][0]["registration"] == {
        "level": "unknown",
        "reason": "not a git repository: the claim's history cannot be read",
    }
