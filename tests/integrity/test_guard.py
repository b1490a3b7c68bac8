"""The one integrity check, run by every command that reads claims: a registered claim changed after it
was judged without a matching amendment is refused by `evaluate` (as by `validate`), is a failed check
for `status --check`, is marked by `list`, `show` and `stats`; the amendment chain is verified entry by
entry against git; the registration level is computed when read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Project, invoke
from integrity_git import CLAIM, Repo, git

from registry.language.fingerprint import claim_from_text, fingerprint

CLAIM_FILE = "claims/loss/final-loss-low.yaml"
REGISTERED = CLAIM.format(id="final-loss-low", status="registered").replace("value: 2.0}", "value: 2.2}")
OTHER = CLAIM.format(id="other-claim", status="registered")


def fp(text: str) -> str:
    claim = claim_from_text(text)
    assert claim is not None
    return fingerprint(claim)


def claim_path(repo: Repo) -> Path:
    return repo.project.claims / "loss" / "final-loss-low.yaml"


def edit(repo: Repo, old: str, new: str) -> str:
    path = claim_path(repo)
    text = path.read_text().replace(old, new)
    path.write_text(text)
    return text


@pytest.fixture
def judged(project: Project) -> Repo:
    """Two registered claims, evaluated on the fixture run; claims and verdicts committed."""
    repo = Repo(project)
    repo.run()
    repo.claim(REGISTERED)
    repo.claim(OTHER, name="other-claim")
    repo.commit("register the claims", "2026-01-01T00:00:00Z")
    assert invoke("evaluate").exit_code == 0
    repo.commit("verdicts", "2026-07-01T00:00:00Z")
    return repo


def test_evaluate_refuses_a_loosened_threshold_and_evaluates_the_rest(judged: Repo) -> None:
    edit(judged, "value: 2.2}", "value: 2.5}")
    (judged.project.verdict("other-claim", "basic")).unlink()
    before = judged.project.verdict("final-loss-low", "basic").read_bytes()
    result = invoke("evaluate")
    assert result.exit_code == 2, result.output
    message = (
        f"{CLAIM_FILE}:12:39: predictions[0].expect[0].value: registered claim changed after it was judged on 1 run(s) "
        "(basic): threshold loosened (value < 2.2 → < 2.5), in uncommitted changes (hint: record it under `amendments:` "
        f"as {{date: <today>, reason: <why>, replaces: {fp(REGISTERED)[:12]}}}, or register a new claim with "
        "`supersedes: final-loss-low` and set this one to `status: retired`)"
    )
    assert result.stderr == message + "\n"
    assert invoke("validate").stderr == message + "\n"  # the same located message
    assert judged.project.verdict("final-loss-low", "basic").read_bytes() == before  # nothing written for it
    assert judged.project.verdict("other-claim", "basic").is_file()  # the other claim went on
    assert "other-claim" in result.stdout and "1 verdict(s): 1 pass; 1 file(s) changed" in result.stdout
    # `--strict` and `--format json` refuse it too.
    assert invoke("evaluate", "--strict").exit_code == 2
    data = invoke("evaluate", "--format", "json")
    assert data.exit_code == 2 and json.loads(data.stdout)["refused"] == [message]


def test_status_list_show_and_stats_mark_a_refused_claim(judged: Repo) -> None:
    edit(judged, "value: 2.2}", "value: 2.5}")
    status = invoke("status", "--check", "--format", "json")
    assert status.exit_code == 1, status.output
    pairs = {(p["claim"], p["run"]): p for p in json.loads(status.stdout)["pairs"]}
    assert pairs[("final-loss-low", "basic")]["state"] == "refused"
    assert "threshold loosened (value < 2.2 → < 2.5)" in pairs[("final-loss-low", "basic")]["reasons"][0]
    assert pairs[("other-claim", "basic")]["state"] == "ok"
    listed = {c["id"]: c for c in json.loads(invoke("list", "--format", "json").stdout)}
    assert listed["final-loss-low"]["refused"] and not listed["other-claim"]["refused"]
    assert "refused: final-loss-low changed after judged without a matching amendment" in invoke("list").stdout
    show = invoke("show", "final-loss-low").stdout
    assert show.splitlines()[1].startswith(f"warning: refused: {CLAIM_FILE}:12:39: predictions[0].expect[0].value:")
    stats = invoke("stats")
    assert "refused (changed after judged, no matching amendment; see `registry validate`): final-loss-low" in stats.stdout
    assert json.loads(invoke("stats", "--format", "json").stdout)["refused"] == ["final-loss-low"]


def test_an_unrecorded_change_after_a_recorded_amendment_on_a_branch(judged: Repo) -> None:
    """main: registered and judged. Branch: amended (recorded), committed; then loosened again with no
    amendment of its own, its verdict written while a (later deleted) amendment entry covered it."""
    git(judged.root, "checkout", "-q", "-b", "looser")
    original = fp(REGISTERED)
    amended = edit(judged, "value: 2.2}", "value: 2.5}")
    entry = f"amendments:\n  - {{date: 2026-08-01, reason: A typo., replaces: {original[:12]}}}\n"
    amended = edit(judged, amended, amended + entry)
    assert invoke("validate").exit_code == 0
    judged.commit("amend the bound", "2026-08-01T00:00:00Z")
    looser = edit(judged, "value: 2.5}", "value: 3.0}")
    second = f"  - {{date: 2026-09-01, reason: Again., replaces: {fp(amended)[:12]}}}\n"
    edit(judged, looser, looser + second)
    assert invoke("evaluate", "final-loss-low").exit_code == 0
    edit(judged, second, "")  # the entry is dropped: the change is no longer on record
    sha = judged.commit("loosen again", "2026-09-01T00:00:00Z")

    validate = invoke("validate")
    assert validate.exit_code == 2, validate.output
    assert validate.stderr == (
        f"{CLAIM_FILE}:12:39: predictions[0].expect[0].value: registered claim changed after it was judged on 1 run(s) "
        f'(basic): threshold loosened (value < 2.5 → < 3.0), in commit {sha[:12]} (2026-09-01, "loosen again") '
        f"(hint: record it under `amendments:` as {{date: <today>, reason: <why>, replaces: {fp(amended)[:12]}}}, or "
        "register a new claim with `supersedes: final-loss-low` and set this one to `status: retired`)\n"
    )
    status = invoke("status", "--check")
    assert status.exit_code == 1, status.output
    assert "refused" in status.stdout
    show = invoke("show", "final-loss-low").stdout
    assert "warning: refused: " in show and "threshold loosened (value < 2.5 → < 3.0)" in show
    rows = json.loads(invoke("history", "final-loss-low", "--format", "json").stdout)["entries"]
    assert rows[0]["commit"] == sha
    assert rows[0]["claim_version"] == f"fingerprint {fp(looser)[:12]} (unrecorded change of the claim as amended 2026-08-01)"
    assert f"claim fingerprint {original[:12]} → {fp(looser)[:12]} (unrecorded change of the claim as amended 2026-08-01)" in (
        rows[0]["changes"]
    )
    assert rows[-1]["claim_version"] == f"fingerprint {original[:12]} (original claim)"


def test_an_amendment_naming_the_wrong_version_is_refused(judged: Repo) -> None:
    text = edit(judged, "value: 2.2}", "value: 2.5}")
    wrong = "0123456789ab"
    edit(judged, text, text + f"amendments:\n  - {{date: 2026-08-01, reason: A typo., replaces: {fp(REGISTERED)[:12]}}}\n"
         f"  - {{date: 2026-08-02, reason: Again., replaces: {wrong}}}\n")
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"{CLAIM_FILE}:15:50: amendments[1].replaces: amendment replaces {wrong}, which no committed version of the claim "
        f"has (the versions it had, oldest first: {fp(REGISTERED)[:12]}) (hint: `replaces:` names the fingerprint of the "
        "version the amendment changed (`registry history` lists them))\n"
    )
    assert invoke("evaluate").exit_code == 2


def test_claim_and_verdict_committed_together_stay_current(project: Project) -> None:
    repo = Repo(project)
    repo.run(created="2026-06-01T00:00:00Z")
    repo.claim(REGISTERED)
    assert invoke("evaluate").exit_code == 0
    data = repo.verdict("final-loss-low")
    assert data["schema_version"] == 3 and "registration" not in data  # only what evaluate measured
    sha = repo.commit("register the claim with its verdict", "2026-01-01T00:00:00Z")
    status = invoke("status", "--check")
    assert status.exit_code == 0, status.output
    show = invoke("show", "final-loss-low").stdout
    assert (
        f"registration: preregistered (claim content committed 2026-01-01T00:00:00Z ({sha[:12]}, unsigned), before run "
        "'basic' started 2026-06-01T00:00:00Z (manifest created))"
    ) in show
    pairs = json.loads(invoke("status", "--format", "json").stdout)["pairs"]
    assert [(p["state"], p["registration"]["level"]) for p in pairs] == [("ok", "preregistered")]
    # Re-evaluating the committed state changes nothing.
    assert invoke("evaluate").stdout.rstrip().endswith("0 file(s) changed")


def amendments(*entries: tuple[str, str]) -> str:
    return "amendments:\n" + "".join(f"  - {{date: {d}, reason: Changed., replaces: {r[:12]}}}\n" for d, r in entries)


def test_an_amendment_replacing_the_current_version_or_one_already_replaced_is_refused(judged: Repo) -> None:
    loose = edit(judged, "value: 2.2}", "value: 2.5}")
    original, current = fp(REGISTERED), fp(loose)
    edit(judged, loose, loose + amendments(("2026-08-01", original), ("2026-08-02", current)))
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"{CLAIM_FILE}:15:52: amendments[1].replaces: amendment replaces {current[:12]}, which is the claim's current "
        f"version, not one it replaced (the versions it had, oldest first: {original[:12]}) (hint: `replaces:` names the "
        "fingerprint of the version the amendment changed (`registry history` lists them))\n"
    )
    edit(judged, current[:12], original[:12])
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert f"amendments[1].replaces: amendment replaces {original[:12]}, a version an earlier entry already replaces (" in (
        result.stderr
    )


def test_amendments_out_of_order_are_refused(judged: Repo) -> None:
    a = REGISTERED
    b = edit(judged, "value: 2.2}", "value: 2.5}")
    edit(judged, b, b + amendments(("2026-08-01", fp(a))))
    judged.commit("amend once", "2026-08-01T00:00:00Z")
    c = b.replace("value: 2.5}", "value: 3.0}")
    claim_path(judged).write_text(c + amendments(("2026-09-01", fp(b)), ("2026-08-01", fp(a))))
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"{CLAIM_FILE}:14:52: amendments[0].replaces: amendments are out of order: each entry replaces the version after "
        "the one before (hint: `replaces:` names the fingerprint of the version the amendment changed (`registry history` "
        "lists them))\n"
    )
    claim_path(judged).write_text(c + amendments(("2026-08-01", fp(a)), ("2026-09-01", fp(b))))
    assert invoke("validate").exit_code == 0
