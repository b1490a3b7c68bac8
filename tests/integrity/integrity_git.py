"""Helpers for the integrity tests: a temporary project that is a git repository with fixed dates.

Commits get explicit author and committer dates, so whether a claim was committed before a run
started is decided by the test, not by the clock. Identity comes from the environment (no global
git configuration is read or written).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml
from conftest import FIXTURES, Project

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ada Tester",
    "GIT_AUTHOR_EMAIL": "ada@example.org",
    "GIT_COMMITTER_NAME": "Ada Tester",
    "GIT_COMMITTER_EMAIL": "ada@example.org",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}

CLAIM = """\
id: {id}
title: Final loss is low
statement: The last train loss of the run is below 2.0.
falsified_if: The last train loss is 2.0 or more.
status: {status}
predictions:
  - id: final-loss
    level: loss
    evaluator: metric.threshold
    params: {{column: loss, reduce: last}}
    expect:
      - {{stat: value, op: "<", value: 2.0}}
"""


def git(root: Path, *args: str, date: str | None = None) -> str:
    env = {**os.environ, **GIT_ENV}
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        env.pop(var, None)
    if date is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date
    proc = subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True, check=True)
    return proc.stdout.strip()


class Repo:
    """The test project as a git repository."""

    def __init__(self, project: Project):
        self.project = project
        self.root = project.root
        git(self.root, "init", "-q", "-b", "main")
        git(self.root, "config", "commit.gpgsign", "false")

    def commit(self, message: str, date: str = "2026-01-01T00:00:00Z") -> str:
        git(self.root, "add", "-A")
        git(self.root, "commit", "-q", "--allow-empty", "-m", message, date=date)
        return git(self.root, "rev-parse", "HEAD")

    def claim(self, text: str, name: str = "final-loss-low", area: str = "loss") -> Path:
        path = self.project.claims / area / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def run(self, created: str | None = "2026-06-01T00:00:00Z", name: str = "basic") -> Path:
        """The fixture run `basic`, with `created` set (or removed when None)."""
        folder = self.project.add_run("runs/basic", dest=name)
        manifest = folder / "run.yaml"
        data = yaml.safe_load(manifest.read_text())
        data["id"] = name
        data.pop("created", None)
        if created is not None:
            data["created"] = created
        manifest.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return folder

    def verdict(self, claim: str, run: str = "basic") -> dict[str, object]:
        data = yaml.safe_load(self.project.verdict(claim, run).read_text())
        assert isinstance(data, dict)
        return data


def fixture_text(rel: str) -> str:
    return (FIXTURES / rel).read_text(encoding="utf-8")
