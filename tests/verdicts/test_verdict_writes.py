"""How verdict files and the hash cache are written (issue 12): the umask's mode, never through a
symbolic link out of their folder, and no temporary file of ours left behind."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import Project, invoke

from registry.runs import hashing
from registry.verdicts.file import write_atomic_many

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def basic(project: Project) -> Project:
    project.add_run("runs/basic")
    project.add_claim("claims/loss/final-loss-below-2.yaml")
    return project


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_verdict_file_has_the_umask_mode(basic: Project, umask: int, mode: int) -> None:
    old = os.umask(umask)
    try:
        result = invoke("evaluate")
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert basic.verdict("final-loss-below-2", "basic").stat().st_mode & 0o777 == mode


def test_claim_folder_that_is_a_link_is_refused(basic: Project, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (basic.verdicts / "final-loss-below-2").symlink_to(outside, target_is_directory=True)
    result = invoke("evaluate")
    assert result.exit_code == 2, result.output
    assert result.output == (
        "verdicts/final-loss-below-2: verdict folder 'final-loss-below-2' is a symbolic link; verdicts are written "
        "only inside the verdicts folder (hint: replace the link with a real folder or file)\n"
    )
    assert list(outside.iterdir()) == []


def test_verdict_file_that_is_a_link_is_refused(basic: Project, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.yaml"
    target.write_text("x")
    (basic.verdicts / "final-loss-below-2").mkdir()
    basic.verdict("final-loss-below-2", "basic").symlink_to(target)
    result = invoke("evaluate")
    assert result.exit_code == 2, result.output
    assert "verdict file 'basic.yaml' is a symbolic link" in result.output
    assert target.read_text() == "x"


def test_stale_temp_file_is_removed_on_the_next_write(basic: Project) -> None:
    folder = basic.verdicts / "final-loss-below-2"
    folder.mkdir()
    dead = _dead_pid()
    stale = folder / f".basic.yaml.{dead}.0123abcd.tmp"
    stale.write_text("half a verdict")
    live = folder / f".basic.yaml.{os.getppid()}.0123abcd.tmp"  # a writer still running: left alone
    live.write_text("being written")
    assert invoke("evaluate").exit_code == 0
    assert not stale.exists() and live.exists()
    live.unlink()
    stale.write_text("half a verdict")
    assert invoke("evaluate").exit_code == 0  # the verdict is unchanged: the stale file still goes
    assert sorted(p.name for p in folder.iterdir()) == ["basic.yaml"]


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_project_gitignore_covers_our_temp_files() -> None:
    probe = "verdicts/some-claim/.some-run.yaml.1234.0123abcd.tmp"
    result = subprocess.run(["git", "check-ignore", "--no-index", probe], cwd=REPO, capture_output=True, text=True)
    assert result.stdout.strip() == probe


def test_write_atomic_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "c" / "r.yaml"
    assert write_atomic_many([(path, "a: 1\n")]) == [path]
    assert write_atomic_many([(path, "a: 1\n")]) == []
    assert [p.name for p in path.parent.iterdir()] == ["r.yaml"]


def test_hash_cache_does_not_follow_a_link(project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashing, "HASH_CACHE_MIN_BYTES", 0)
    outside = tmp_path / "outside"
    outside.mkdir()
    (project.root / ".registry-cache").symlink_to(outside, target_is_directory=True)
    artifact = project.root / "a.bin"
    artifact.write_bytes(b"data")
    assert len(hashing.sha256_of(artifact)) == 64
    assert list(outside.iterdir()) == []
    (project.root / ".registry-cache").unlink()
    hashing.sha256_of(artifact)
    assert len(list((project.root / ".registry-cache" / "sha256").iterdir())) == 1
