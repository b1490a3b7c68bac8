"""`registry evaluate`'s progress bar: on a terminal only, never when piped or with --quiet."""

from __future__ import annotations

import io

import pytest
from conftest import Project, invoke

from registry.cli import render


def setup(project: Project) -> None:
    project.add_run("runs/basic")
    project.add_claim("claims/loss/final-loss-below-2.yaml")


def test_piped_output_has_no_progress_bar(project: Project) -> None:
    setup(project)
    result = invoke("evaluate", "--jobs", "1")
    assert result.exit_code == 0
    assert "pairs" not in result.output and "━" not in result.output.splitlines()[-1]


def test_quiet_prints_the_summary_line_only(project: Project) -> None:
    setup(project)
    result = invoke("evaluate", "--jobs", "1", "--quiet")
    assert result.output == "1 verdict(s): 1 pass; 1 file(s) changed\n"


def test_the_bar_shows_pairs_done_total_and_the_current_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    out = io.StringIO()
    monkeypatch.setattr("rich.console.Console", lambda **_: Console(file=out, force_terminal=True, width=100))
    bar = render.ProgressBar(delay=0)
    bar(3, 40, "run-0007")
    bar.close()
    assert "3/40" in out.getvalue() and "run-0007" in out.getvalue()


def test_nothing_is_shown_for_work_shorter_than_the_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    out = io.StringIO()
    monkeypatch.setattr("rich.console.Console", lambda **_: Console(file=out, force_terminal=True, width=100))
    bar = render.ProgressBar(delay=60)
    bar(1, 2, "run-a")
    bar.close()
    assert out.getvalue() == ""
