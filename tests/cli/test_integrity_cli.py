"""`registry diff` and `registry history` say what changed for every changed verdict: the artifacts
read (by name, with their hashes), statistic values old → new, outcome, claim fingerprint."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import Project, invoke

sys.path.insert(0, str(Path(__file__).parents[1] / "integrity"))
from integrity_git import Repo  # noqa: E402

SAMPLES_CLAIM = """\
id: samples-refuse
title: Some samples refuse
statement: At least one sample says it refuses.
falsified_if: No sample does.
status: registered
predictions:
  - id: refusals
    level: text
    evaluator: text.match_rate
    params: {pattern: "(?i)refuse"}
    expect:
      - {stat: matches, op: ">=", value: 1}
"""


@pytest.fixture
def repo(project: Project) -> Repo:
    repo = Repo(project)
    repo.run()
    repo.claim(SAMPLES_CLAIM, name="samples-refuse", area="text")
    repo.commit("register", "2026-01-01T00:00:00Z")
    assert invoke("evaluate").exit_code == 0
    repo.commit("verdicts", "2026-07-01T00:00:00Z")
    return repo


def sha_of(repo: Repo) -> str:
    data = repo.verdict("samples-refuse")
    run = data["run"]
    assert isinstance(run, dict)
    return str(run["artifacts"]["samples"]["sha256"])


def test_an_artifact_change_without_a_statistic_change_is_named(repo: Repo) -> None:
    old = sha_of(repo)
    samples = repo.project.runs / "basic" / "samples.jsonl"
    samples.write_text(samples.read_text() + "\n")  # a trailing newline: same samples, new bytes
    assert invoke("evaluate").exit_code == 0
    new = sha_of(repo)
    assert old != new
    result = invoke("diff", "--format", "json")
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)["entries"]
    assert (entry["claim"], entry["before"], entry["after"]) == ("samples-refuse", "pass", "pass")
    assert entry["changes"] == [f"artifact samples changed (sha256 {old[:12]} → {new[:12]})"]
    # Not in the file (schema 3): computed when read, by today's rule (claim committed 2026-01-01,
    # run created 2026-06-01).
    assert entry["registration"] == "preregistered"
    sha = repo.commit("a trailing newline", "2026-07-02T00:00:00Z")
    rows = json.loads(invoke("history", "samples-refuse", "--format", "json").stdout)["entries"]
    assert (rows[0]["commit"], rows[0]["changes"]) == (sha, entry["changes"])
    assert rows[0]["signed"] == "unsigned"
    assert [r["registration"] for r in rows] == ["preregistered", "preregistered"]


def test_an_artifact_change_names_the_artifact_and_the_values(repo: Repo) -> None:
    old = sha_of(repo)
    samples = repo.project.runs / "basic" / "samples.jsonl"
    samples.write_text(samples.read_text() + '{"step": 295, "prompt": "Again?", "text": "I refuse again."}\n')
    assert invoke("evaluate").exit_code == 0
    new = sha_of(repo)
    result = invoke("diff")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"artifact samples changed (sha256 {old[:12]} → {new[:12]})" in out
    assert "refusals.matches 2 → 3" in out
    assert "refusals.rate 0.4 → 0.5" in out
    markdown = invoke("diff", "--format", "markdown").stdout
    assert "refusals.matches 2 → 3" in markdown and "artifact samples changed" in markdown


def test_a_reader_version_change_is_named(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new version of the text reader, same samples and statistics: `diff` names the reader's change."""
    assert repo.verdict("samples-refuse")["run"]["artifacts"]["samples"]["reader"] == "1"  # type: ignore[index]
    from registry.readers import formats

    monkeypatch.setitem(formats.READER_VERSIONS, "text", "2")
    assert invoke("evaluate", "--jobs", "1").exit_code == 0
    assert repo.verdict("samples-refuse")["run"]["artifacts"]["samples"]["reader"] == "2"  # type: ignore[index]
    result = invoke("diff", "--format", "json")
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)["entries"]
    assert "reader of artifact samples: version 1 → 2" in entry["changes"]
