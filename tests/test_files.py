"""The one folder walker: hidden entries are never walked, and `descend` stops below a folder."""

from __future__ import annotations

from pathlib import Path

from registry.files import walk
from registry.language.load import claim_files
from registry.runs.manifest import find_run_manifests


def _tree(root: Path) -> None:
    files = ("a.yaml", ".hidden.yaml", ".git/config.yaml", "sub/b.yaml", "sub/.cache/c.yaml", "run/run.yaml", "run/acts/run.yaml")
    for rel in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x: 1\n")


def test_hidden_entries_are_never_walked(tmp_path: Path) -> None:
    _tree(tmp_path)
    found = [p.relative_to(tmp_path).as_posix() for p in walk(tmp_path)]
    assert found == ["a.yaml", "run/run.yaml", "run/acts/run.yaml", "sub/b.yaml"]


def test_descend_stops_below_a_folder(tmp_path: Path) -> None:
    _tree(tmp_path)
    found = [p.relative_to(tmp_path).as_posix() for p in walk(tmp_path, lambda d: d.name != "run")]
    assert found == ["a.yaml", "run/run.yaml", "sub/b.yaml"]


def test_claims_and_runs_share_the_rule(tmp_path: Path) -> None:
    _tree(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in claim_files([tmp_path])] == [
        "a.yaml", "run/acts/run.yaml", "run/run.yaml", "sub/b.yaml"
    ]
    # a run's own folders are its artifacts, not more runs
    assert [p.relative_to(tmp_path).as_posix() for p in find_run_manifests([tmp_path])] == ["run/run.yaml"]
