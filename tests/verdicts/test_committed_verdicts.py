"""The committed verdicts are up to date with the committed claims and runs.

Every claim of this repository is evaluated on every run it applies to -- `registry evaluate` with no
arguments, through its core function (registry/commands.py), with the repository's own
`[tool.registry]` settings except that verdicts are written to a temporary folder -- and the result
is compared byte for byte with `verdicts/`: no file missing, none left over (a claim or run that is
gone), none different. The repository is only read.

The registration level in a verdict is computed from git history (README "Integrity of the record"),
so the verdicts of a claim can only match once the claim is committed and then re-evaluated: commit
the claims, run `registry evaluate`, commit `verdicts/`. Where there is no history to ask (no git, or
a shallow clone, where every level would read `unknown`), the `registration:` block is left out of
the comparison on both sides and everything else is still compared.

Measured: about 2 s for all claims and runs of the repository (the budget is 20 s).
"""

from __future__ import annotations

import dataclasses
import difflib
import time
from pathlib import Path

import pytest

from registry.cli import commands
from registry.config import load_settings
from registry.integrity.git import Git

REPO = Path(__file__).resolve().parents[2]


def _without_registration(text: str) -> str:
    """The verdict text without its top-level `registration:` block."""
    out: list[str] = []
    skipping = False
    for line in text.splitlines(keepends=True):
        if line.startswith("registration:"):
            skipping = True
            continue
        if skipping and line[:1] in (" ", "-"):
            continue
        skipping = False
        out.append(line)
    return "".join(out)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.yaml")) if p.is_file()}


def test_committed_verdicts_are_up_to_date(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = dataclasses.replace(load_settings(REPO), verdicts=tmp_path / "verdicts")
    # `registry evaluate` itself (registry/commands.py), with these settings instead of the working
    # directory's: claims and runs of the repository, verdicts to the temporary folder.
    monkeypatch.setattr(commands, "load_settings", lambda start=None: settings)
    started = time.perf_counter()
    result = commands.evaluate([], [])
    elapsed = time.perf_counter() - started
    assert all(p.is_relative_to(settings.verdicts) for p in result.written)

    git, why = Git.find(REPO)
    history = git is not None and not git.shallow
    fresh = _files(settings.verdicts)
    committed = _files(REPO / "verdicts")
    missing = sorted(set(fresh) - set(committed))
    leftover = sorted(set(committed) - set(fresh))
    different = []
    for name in sorted(set(fresh) & set(committed)):
        a, b = committed[name].decode("utf-8"), fresh[name].decode("utf-8")
        if not history:
            a, b = _without_registration(a), _without_registration(b)
        if a != b:
            diff = difflib.unified_diff(a.splitlines(), b.splitlines(), f"verdicts/{name}", "evaluated now", lineterm="", n=1)
            different.append("\n".join(list(diff)[:24]))

    problems = [f"not committed (evaluate and commit it): verdicts/{n}" for n in missing]
    problems += [f"left over (its claim or run is gone, or the claim no longer applies): verdicts/{n}" for n in leftover]
    problems += different
    note = "" if history else f" (registration blocks not compared: {why or 'shallow clone'})"
    assert not problems, (
        f"{len(missing)} missing, {len(leftover)} left over, {len(different)} out-of-date verdict file(s){note}; "
        "commit the claims, run `registry evaluate`, and commit verdicts/:\n\n" + "\n\n".join(problems)
    )
    assert fresh, "the repository has no verdicts at all"
    assert elapsed < 20, f"evaluating every claim took {elapsed:.1f} s; the budget of this test is 20 s"
