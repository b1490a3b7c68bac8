"""Verdict files are a pure function of the inputs: same inputs, same bytes; nothing rewritten needlessly.

The golden files pin the verdict of a fixed claim on a fixed fixture run, one file per schema version:
current output must equal the current version's file, and every older file must still be read. When a
change of output is intended (a new statistic, a new evaluator version), regenerate the current one
with `REGISTRY_UPDATE_GOLDEN=1 pytest tests/verdicts/test_determinism.py` and review the diff like any
verdict; when the schema version goes up, the new version gets a new file and the old one stays.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, Project, invoke

from registry import __version__
from registry.verdicts.file import read_verdict, render, write_atomic_many
from registry.verdicts.model import SCHEMA_VERSION

GOLDEN_CLAIM = FIXTURES / "golden" / "golden-all-levels.yaml"
ALL_CLAIMS = [
    "claims/loss/final-loss-below-2.yaml",
    "claims/loss/one-spike.yaml",
    "claims/loss/loss-below-zero.yaml",
    "claims/activation/resid-rms-bounded.yaml",
    "claims/text/refusals-are-rare.yaml",
]
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def setup(project: Project) -> None:
    project.add_run("runs/basic")
    for claim in ALL_CLAIMS:
        project.add_claim(claim)
    project.add_claim(GOLDEN_CLAIM)


def evaluate_ok(*args: str) -> None:
    result = invoke("evaluate", *args)
    assert result.exit_code == 0, result.output


def test_evaluate_twice_gives_identical_bytes(project: Project) -> None:
    setup(project)
    evaluate_ok()
    first = {k: data for k, (data, _) in project.verdict_snapshot().items()}
    assert len(first) == len(ALL_CLAIMS) + 1
    shutil.rmtree(project.verdicts)
    evaluate_ok()
    assert {k: data for k, (data, _) in project.verdict_snapshot().items()} == first


def test_rerun_leaves_files_untouched(project: Project) -> None:
    setup(project)
    evaluate_ok()
    for p in project.verdicts.rglob("*.yaml"):
        os.utime(p, ns=(1_000_000_000, 1_000_000_000))  # an old mtime that a rewrite would replace
    before = project.verdict_snapshot()
    result = invoke("evaluate")
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith("0 file(s) changed")
    assert project.verdict_snapshot() == before


def test_changed_input_rewrites_only_its_verdicts(project: Project) -> None:
    setup(project)
    evaluate_ok()
    before = project.verdict_snapshot()
    samples = project.runs / "basic" / "samples.jsonl"
    samples.write_text(samples.read_text() + '{"step": 300, "text": "I refuse again."}\n')
    result = invoke("evaluate")
    assert result.exit_code == 0, result.output
    after = project.verdict_snapshot()
    changed = sorted(k for k in after if after[k] != before[k])
    assert changed == ["golden-all-levels/basic.yaml", "refusals-are-rare/basic.yaml"]


def test_verdicts_hold_no_absolute_path_and_no_time(project: Project) -> None:
    setup(project)
    evaluate_ok()
    for rel, (data, _) in project.verdict_snapshot().items():
        text = data.decode("utf-8")
        assert str(project.root) not in text, rel
        assert str(project.root.resolve()) not in text, rel
        assert not re.search(r"(^|[\s:'\"])/(tmp|home|root|work|Users|private)/", text), rel
        assert not TIMESTAMP.search(text), rel


def test_verdicts_do_not_depend_on_where_the_project_lives(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup(project)
    evaluate_ok()
    here = {k: data for k, (data, _) in project.verdict_snapshot().items()}
    elsewhere = tmp_path / "somewhere" / "else" / "project"
    shutil.copytree(project.root, elsewhere, ignore=shutil.ignore_patterns("verdicts"))
    (elsewhere / "verdicts").mkdir()
    monkeypatch.chdir(elsewhere / "claims")  # and run from a sub-folder
    evaluate_ok()
    there = Project(elsewhere)
    assert {k: data for k, (data, _) in there.verdict_snapshot().items()} == here


def _normalise_tool_version(text: str) -> str:
    return re.sub(r"(\ntool:\n  name: claims-registry\n  version: )\S+\n", rf"\g<1>{__version__}\n", text)


def golden(version: int) -> Path:
    return FIXTURES / "golden" / f"golden-all-levels.basic.v{version}.yaml"


def test_golden_verdict_of_the_current_schema_version(project: Project) -> None:
    project.add_run("runs/basic")
    project.add_claim(GOLDEN_CLAIM)
    evaluate_ok()
    produced = project.verdict("golden-all-levels", "basic").read_text(encoding="utf-8")
    assert f"\nschema_version: {SCHEMA_VERSION}\n" in produced
    path = golden(SCHEMA_VERSION)
    if os.environ.get("REGISTRY_UPDATE_GOLDEN"):
        path.write_text(produced, encoding="utf-8")
    assert path.is_file(), f"no golden file for schema version {SCHEMA_VERSION}: run with REGISTRY_UPDATE_GOLDEN=1"
    assert produced == _normalise_tool_version(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION + 1))
def test_golden_verdict_of_every_schema_version_reads_back(version: int) -> None:
    """Verdict files of every schema version stay readable, and render back to the same bytes."""
    path = golden(version)
    verdict = read_verdict(path)
    assert verdict.schema_version == version
    assert verdict.outcome == "pass"
    assert render(verdict) == path.read_text(encoding="utf-8")


def test_verdict_of_a_newer_schema_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    newer = tmp_path / "newer.yaml"
    text = golden(SCHEMA_VERSION).read_text(encoding="utf-8")
    newer.write_text(text.replace(f"schema_version: {SCHEMA_VERSION}", f"schema_version: {SCHEMA_VERSION + 1}"))
    from registry.errors import UserError

    with pytest.raises(UserError) as info:
        read_verdict(newer)
    assert str(info.value) == (
        f"newer.yaml: verdict schema version {SCHEMA_VERSION + 1} is newer than this tool reads ({SCHEMA_VERSION}) "
        "(hint: upgrade claims-registry)"
    )


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "v" / "run.yaml"
    assert write_atomic_many([(target, "old\n")]) == [target]
    assert write_atomic_many([(target, "old\n")]) == []  # same text: not rewritten

    def refuse(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError):
        write_atomic_many([(target, "new\n")])
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["run.yaml"]

