"""Amendments: a non-draft claim changed after its verdicts were recorded is found, classified from git,
and refused unless recorded (`amendments:`) or replaced (`supersedes:` + `retired`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, Project, invoke
from integrity_git import CLAIM, Repo, git

from registry.integrity.git import Git
from registry.language.changes import classify
from registry.language.fingerprint import claim_from_text, fingerprint
from registry.language.schema import Claim

BASE = """\
id: c
title: t
statement: Surges precede spikes.
falsified_if: They do not.
status: registered
applies_to: {tags: [transformer]}
predictions:
  - id: precedes
    level: loss
    evaluator: events.precedes
    params:
      target: {column: loss, detector: robust_z, z: 8}
      signal: {column: grad_norm, detector: threshold, above: 2.0}
      within: [-10, 0]
    expect:
      - {stat: fraction, op: ">=", value: 0.8}
      - {stat: p_value, op: "<", value: alpha}
    min_samples: 3
  - id: final
    level: loss
    evaluator: metric.threshold
    params: {column: loss, reduce: last}
    expect:
      - {stat: value, op: "<", value: 2.0}
"""

NEW_PREDICTION = """\
  - id: extra
    level: loss
    evaluator: loss.spikes
    expect:
      - {stat: count, op: "==", value: 1}
"""


def claim(text: str) -> Claim:
    c = claim_from_text(text)
    assert c is not None
    return c


CASES = {
    "fraction >= 0.8 -> 0.7": (("value: 0.8}", "value: 0.7}"), "threshold loosened", "precedes.expect[0]"),
    "fraction >= 0.8 -> 0.9": (("value: 0.8}", "value: 0.9}"), "threshold tightened", "precedes.expect[0]"),
    "value < 2.0 -> 3.0": (("value: 2.0}", "value: 3.0}"), "threshold loosened", "final.expect[0]"),
    "stat swapped": (("stat: fraction", "stat: lift"), "statistic swapped", "precedes.expect[1]"),
    "op changed": (('op: ">=", value: 0.8', 'op: ">", value: 0.8'), "op changed", "precedes.expect[0]"),
    "window": (("within: [-10, 0]", "within: [-50, 0]"), "window changed", "precedes.params"),
    "params": (("z: 8}", "z: 6}"), "params changed", "precedes.params"),
    "evaluator": (("evaluator: metric.threshold", "evaluator: metric.trend"), "evaluator changed", "final"),
    "min_samples": (("min_samples: 3", "min_samples: 1"), "min_samples changed", "precedes"),
    "applies_to": (("tags: [transformer]", "tags: [transformer, big]"), "applies_to changed", ""),
    "prediction added": (("  - id: final\n", NEW_PREDICTION + "  - id: final\n"), "prediction added", ""),
    "combine": (("applies_to:", "combine: any\napplies_to:"), "combine changed", ""),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_classify(case: str) -> None:
    (old, new), kind, _ = CASES[case]
    assert old in BASE
    changes = classify(claim(BASE), claim(BASE.replace(old, new)))
    assert [c.kind for c in changes] == [kind], changes


def test_classify_prediction_removed_and_alpha() -> None:
    removed = BASE[: BASE.index("  - id: final")]
    assert [(c.kind, c.detail) for c in classify(claim(BASE), claim(removed))] == [("prediction removed", "final")]
    looser = classify(claim(BASE), claim(BASE + "alpha: 0.1\n"))
    assert [(c.kind, c.detail) for c in looser] == [("alpha loosened", "0.05 → 0.1")]
    # `value: alpha` compares with the claim's alpha: raising alpha is a loosened alpha, not a new line.
    numeric = classify(claim(BASE), claim(BASE.replace("value: alpha}", "value: 0.01}")))
    assert [(c.kind, c.detail) for c in numeric] == [("threshold tightened", "p_value < alpha → < 0.01")]


def test_classify_details_name_the_place() -> None:
    (change,) = classify(claim(BASE), claim(BASE.replace("within: [-10, 0]", "within: [-50, 0]")))
    assert change.where == ("predictions", 0, "params", "within")
    assert change.render() == "window changed (precedes: within: [-10, 0] → [-50, 0])"


# --- through the CLI, on a git repository ---------------------------------------------------------------


@pytest.fixture
def judged(project: Project) -> Repo:
    """A registered claim, evaluated on the fixture run, claim and verdict committed."""
    repo = Repo(project)
    repo.run()
    repo.claim(CLAIM.format(id="final-loss-low", status="registered"))
    repo.commit("register the claim", "2026-01-01T00:00:00Z")
    assert invoke("evaluate").exit_code == 0
    repo.commit("verdicts", "2026-07-01T00:00:00Z")
    return repo


CLAIM_FILE = "claims/loss/final-loss-low.yaml"


def loosen(repo: Repo) -> None:
    path = repo.project.claims / "loss" / "final-loss-low.yaml"
    path.write_text(path.read_text().replace("value: 2.0}", "value: 3.0}"))


def original_fingerprint() -> str:
    return fingerprint(claim(CLAIM.format(id="final-loss-low", status="registered")))


def refusal(where: str) -> str:
    fp = original_fingerprint()[:12]
    return (
        f"{CLAIM_FILE}:12:39: predictions[0].expect[0].value: registered claim changed after it was judged on 1 run(s) "
        f"(basic): threshold loosened (value < 2.0 → < 3.0), in {where} "
        f"(hint: record it under `amendments:` as {{date: <today>, reason: <why>, replaces: {fp}}}, or register a new "
        "claim with `supersedes: final-loss-low` and set this one to `status: retired`)\n"
    )


def test_unrecorded_change_is_refused_naming_class_and_place(judged: Repo) -> None:
    loosen(judged)
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert result.output == refusal("uncommitted changes")


def test_unrecorded_change_names_the_commit(judged: Repo) -> None:
    loosen(judged)
    sha = judged.commit("relax the bound", "2026-08-01T00:00:00Z")
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert result.output == refusal(f'commit {sha[:12]} (2026-08-01, "relax the bound")')


def test_claim_histories_are_read_from_git_once_per_head(judged: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    """A warm `validate` reads the claim files' histories from the cache kept at this HEAD; a new
    commit makes them be read from git again, and the answer never depends on the cache."""
    followed: list[str] = []
    log = Git.log

    def counting(self: Git, paths: list[str], **kw: object) -> object:
        if kw.get("follow"):
            followed.extend(paths)
        return log(self, paths, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Git, "log", counting)
    loosen(judged)
    sha = judged.commit("relax the bound", "2026-08-01T00:00:00Z")
    first = invoke("validate")
    assert followed == [CLAIM_FILE]
    saved = json.loads((judged.root / ".registry-cache" / "git" / "histories.json").read_text())
    assert saved["head"] == sha and list(saved["histories"]) == [CLAIM_FILE]
    assert invoke("validate").output == first.output == refusal(f'commit {sha[:12]} (2026-08-01, "relax the bound")')
    assert followed == [CLAIM_FILE]
    judged.commit("an empty commit", "2026-08-02T00:00:00Z")
    assert invoke("validate").output == first.output
    assert followed == [CLAIM_FILE, CLAIM_FILE]
    (judged.root / ".registry-cache" / "git" / "histories.json").write_text("{not json")  # a torn cache file
    assert invoke("validate").output == first.output
    assert followed == [CLAIM_FILE] * 3


def test_re_evaluating_does_not_hide_the_change(judged: Repo) -> None:
    """The verdicts' committed history still shows the old fingerprint, even when the verdict file was
    rewritten under the new one (by a tool that did not refuse it: `evaluate` does, see test_guard.py)."""
    loosen(judged)
    assert invoke("evaluate").exit_code == 2
    verdict = judged.project.verdict("final-loss-low", "basic")
    new = fingerprint(claim((judged.project.claims / "loss" / "final-loss-low.yaml").read_text()))
    verdict.write_text(verdict.read_text().replace(original_fingerprint(), new))
    sha = judged.commit("relax and re-evaluate", "2026-08-01T00:00:00Z")
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert result.output == refusal(f'commit {sha[:12]} (2026-08-01, "relax and re-evaluate")')


def test_a_recorded_amendment_is_accepted_and_shown(judged: Repo) -> None:
    loosen(judged)
    path = judged.project.claims / "loss" / "final-loss-low.yaml"
    fp = original_fingerprint()
    amendment = f"amendments:\n  - {{date: 2026-08-01, reason: The bound was a typo., replaces: {fp[:16]}}}\n"
    path.write_text(path.read_text() + amendment)
    result = invoke("validate")
    assert result.exit_code == 0, result.output
    show = invoke("show", "final-loss-low").output
    assert "amended 2026-08-01: The bound was a typo. (replaces " + fp[:12] + ")" in show
    assert "run basic: pass  (recorded under the original claim)" in show
    assert invoke("evaluate").exit_code == 0
    judged.commit("amend and re-evaluate", "2026-08-02T00:00:00Z")
    show = invoke("show", "final-loss-low").output
    assert "run basic: pass\n" in show
    assert "under the original claim: run basic: pass (commit " in show
    history = invoke("history", "final-loss-low").output
    assert "original claim" in invoke("history", "final-loss-low", "--format", "json").output
    assert "claim as amended 2026-08-01" in history


def test_supersedes_with_the_old_claim_retired(judged: Repo) -> None:
    old = judged.project.claims / "loss" / "final-loss-low.yaml"
    text = CLAIM.format(id="final-loss-below-3", status="registered").replace("value: 2.0}", "value: 3.0}")
    new = judged.claim(text, name="final-loss-below-3")
    new.write_text(new.read_text() + "supersedes: final-loss-low\n")
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert result.output == (
        "claims/loss/final-loss-below-3.yaml:13:13: supersedes: supersedes 'final-loss-low', which is still registered "
        "(hint: set `status: retired` in claims/loss/final-loss-low.yaml)\n"
    )
    old.write_text(old.read_text().replace("status: registered", "status: retired"))
    result = invoke("validate")
    assert result.exit_code == 0, result.output
    new.write_text(new.read_text().replace("supersedes: final-loss-low", "supersedes: no-such-claim"))
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert "supersedes 'no-such-claim', which is not a claim" in result.output


def test_a_retired_claim_may_not_change_either(judged: Repo) -> None:
    loosen(judged)
    path = judged.project.claims / "loss" / "final-loss-low.yaml"
    path.write_text(path.read_text().replace("status: registered", "status: retired"))
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert "retired claim changed after it was judged on 1 run(s)" in result.output


def test_changes_while_a_draft_are_free(project: Project) -> None:
    repo = Repo(project)
    repo.run()
    repo.claim(CLAIM.format(id="final-loss-low", status="draft"))
    repo.commit("draft")
    assert invoke("evaluate").exit_code == 0
    repo.commit("draft verdicts")
    loosen(repo)
    path = project.claims / "loss" / "final-loss-low.yaml"
    path.write_text(path.read_text().replace("status: draft", "status: registered"))
    result = invoke("validate")
    assert result.exit_code == 0, result.output


def test_renamed_claim_file_is_followed(judged: Repo) -> None:
    (judged.project.claims / "misc").mkdir()
    git(judged.root, "mv", CLAIM_FILE, "claims/misc/final-loss-low.yaml")
    judged.commit("move the claim", "2026-07-15T00:00:00Z")
    path = judged.project.claims / "misc" / "final-loss-low.yaml"
    path.write_text(path.read_text().replace("value: 2.0}", "value: 3.0}"))
    sha = judged.commit("relax the bound", "2026-08-01T00:00:00Z")
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert result.output == refusal(f'commit {sha[:12]} (2026-08-01, "relax the bound")').replace(
        CLAIM_FILE, "claims/misc/final-loss-low.yaml"
    )
    # The version before the change was committed under the old path; --follow found it.
    assert "moved" not in result.output


def test_without_git_the_change_is_still_refused(project: Project) -> None:
    repo_less = project
    (repo_less.claims / "loss").mkdir()
    (repo_less.claims / "loss" / "final-loss-low.yaml").write_text(CLAIM.format(id="final-loss-low", status="registered"))
    project.add_run("runs/basic")
    assert invoke("evaluate").exit_code == 0
    path = project.claims / "loss" / "final-loss-low.yaml"
    path.write_text(path.read_text().replace("value: 2.0}", "value: 3.0}"))
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    new = fingerprint(claim(path.read_text()))
    fp = original_fingerprint()
    assert result.output == (
        f"{CLAIM_FILE}:1:1: registered claim changed after it was judged on 1 run(s) (basic) under fingerprint "
        f"{fp[:12]}, now {new[:12]}; the change cannot be classified: not a git repository "
        f"(hint: record it under `amendments:` as {{date: <today>, reason: <why>, replaces: {fp[:12]}}}, or register a "
        "new claim with `supersedes: final-loss-low` and set this one to `status: retired`)\n"
    )


def test_shallow_clone_says_so(judged: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loosen(judged)
    judged.commit("relax the bound", "2026-08-01T00:00:00Z")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{judged.root}", str(clone))
    monkeypatch.chdir(clone)
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert "the change cannot be classified: this is a shallow clone (`git fetch --unshallow`)" in result.output
    shutil.rmtree(clone)


def test_version_1_verdicts_are_checked_and_amended_by_the_versions_fingerprint(project: Project) -> None:
    """A v1 verdict recorded the old definition's hash; the error and the amendment use the version's
    fingerprint, so one amendment covers verdicts of both schema versions."""
    repo = Repo(project)
    repo.run()
    path = project.add_claim("golden/golden-all-levels.yaml")
    target = project.verdict("golden-all-levels", "basic")
    target.parent.mkdir(parents=True)
    shutil.copyfile(FIXTURES / "golden" / "golden-all-levels.basic.v1.yaml", target)
    repo.commit("a v1 verdict")
    original = fingerprint(claim(path.read_text()))
    path.write_text(path.read_text().replace("value: 3.0}", "value: 2.5}"))
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert "threshold tightened (value < 3.0 → < 2.5), in uncommitted changes" in result.output
    assert f"replaces: {original[:12]}}}" in result.output
    path.write_text(path.read_text() + f"amendments:\n  - {{date: 2026-08-01, reason: Tighter., replaces: {original[:12]}}}\n")
    result = invoke("validate")
    assert result.exit_code == 0, result.output
