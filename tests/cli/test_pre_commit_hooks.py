"""The shipped `.pre-commit-hooks.yaml`: what other repositories use with `repo:` + `rev:`."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from conftest import invoke

ROOT = Path(__file__).resolve().parents[2]
# The keys pre-commit documents for a hook definition that these hooks use.
KEYS = {"id", "name", "description", "entry", "language", "files", "pass_filenames", "always_run"}


def test_hooks_run_the_ci_gate() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert [h["id"] for h in hooks] == ["registry-validate", "registry-status"]
    for hook in hooks:
        assert set(hook) <= KEYS, hook
        assert (hook["language"], hook["pass_filenames"]) == ("python", False)
        assert re.search(hook["files"], "claims/loss/x.yaml") and re.search(hook["files"], "verdicts/c/r.yaml")
        assert not re.search(hook["files"], "registry/cli/app.py")
        program, *args = hook["entry"].split()
        assert program == "registry"
        result = invoke(*args, "--help")
        assert result.exit_code == 0, result.output
    assert [h["entry"] for h in hooks] == ["registry validate", "registry status --check"]
