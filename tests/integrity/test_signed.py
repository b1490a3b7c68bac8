"""Signed commits are shown from git's own verification (%G?, what `git verify-commit` checks)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from conftest import Project, invoke
from integrity_git import CLAIM, Repo, git


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen to make a signing key")
def test_a_signed_claim_commit_is_marked_signed(project: Project) -> None:
    keys = project.root.parent / "keys"
    keys.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / "id")], check=True)
    public = (keys / "id.pub").read_text().strip()
    (keys / "allowed").write_text(f"ada@example.org {public}\n")
    repo = Repo(project)
    for key, value in (
        ("gpg.format", "ssh"),
        ("user.signingkey", str(keys / "id.pub")),
        ("gpg.ssh.allowedSignersFile", str(keys / "allowed")),
    ):
        git(repo.root, "config", key, value)
    repo.run(created="2026-06-01T00:00:00Z")
    repo.claim(CLAIM.format(id="final-loss-low", status="registered"))
    git(repo.root, "add", "-A")
    git(repo.root, "commit", "-q", "-S", "-m", "register, signed", date="2026-01-01T00:00:00Z")
    sha = git(repo.root, "rev-parse", "HEAD")
    git(repo.root, "verify-commit", sha)  # git itself accepts the signature
    assert invoke("evaluate").exit_code == 0
    show = invoke("show", "final-loss-low").stdout
    assert f"registration: preregistered (claim content committed 2026-01-01T00:00:00Z ({sha[:12]}, signed)" in show
    repo.commit("verdicts, unsigned", "2026-07-01T00:00:00Z")
    rows = json.loads(invoke("history", "final-loss-low", "--format", "json").stdout)["entries"]
    assert [r["signed"] for r in rows] == ["unsigned"]
