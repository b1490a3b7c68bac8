"""Output a user pipes or reads in a terminal: plain lines when piped, a closed pipe is no error,
flags shown as flags, one evaluator in full."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import Project, invoke

LONG_ID = "final-loss-below-two-on-the-basic-run-with-a-very-long-claim-identifier"


@pytest.fixture
def basic(project: Project) -> Project:
    project.add_run("runs/basic")
    for claim in ("claims/loss/final-loss-below-2.yaml", "claims/loss/one-spike.yaml"):
        project.add_claim(claim)
    long = project.claims / f"{LONG_ID}.yaml"
    long.write_text(
        (project.claims / "final-loss-below-2.yaml").read_text().replace("id: final-loss-below-2", f"id: {LONG_ID}"),
        encoding="utf-8",
    )
    return project


def _registry(cwd: Project, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "80"}
    env.pop("REGISTRY_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "registry", *args], capture_output=True, text=True, cwd=cwd.root, env=env, timeout=120
    )


def test_piped_evaluate_prints_one_line_per_verdict_without_boxes_or_wrapping(basic: Project) -> None:
    proc = _registry(basic, "evaluate")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert not any(ch in proc.stdout for ch in "│┃━─┏└")
    verdict_lines = [line for line in lines if "\t" in line]
    assert len(verdict_lines) == 3
    long = next(line for line in verdict_lines if line.startswith(LONG_ID))
    assert long.split("\t")[:3] == [LONG_ID, "basic", "pass"]
    assert lines[-1].startswith("3 verdict(s): ")


def test_piped_list_is_one_line_per_claim(basic: Project) -> None:
    assert invoke("evaluate").exit_code == 0
    proc = _registry(basic, "list")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[1].split("\t")[0] == LONG_ID
    assert len(proc.stdout.splitlines()) == 3
    assert "basic: pass" in proc.stdout


@pytest.mark.parametrize("command", [["schema"], ["list"], ["evaluators"]])
def test_a_closed_pipe_exits_quietly(basic: Project, command: list[str]) -> None:
    """`registry schema | head -1`: the reader went away; that is no error and prints nothing."""
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "registry", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=basic.root,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before the command writes anything: its first write meets a closed pipe
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, stderr
    assert stderr == ""


def test_a_closed_pipe_in_a_shell_pipeline(basic: Project) -> None:
    proc = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {sys.executable} -m registry schema | true"],
        capture_output=True,
        text=True,
        cwd=basic.root,
        timeout=120,
    )
    assert (proc.returncode, proc.stderr) == (0, "")


@pytest.mark.parametrize(("command", "flag"), [("validate", "--strict"), ("evaluate", "--strict"), ("status", "--check")])
def test_help_shows_boolean_flags_as_flags(command: str, flag: str) -> None:
    result = invoke(command, "--help")
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.strip().startswith(flag))
    assert "<bool>" not in result.output
    assert line.split()[:2] != [flag, "BOOLEAN"]


def test_evaluators_name_shows_one_evaluator_in_full(project: Project) -> None:
    result = invoke("evaluators", "metric.threshold")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("metric.threshold 2  levels: activation, loss\n")
    assert "loss.spikes" not in out
    assert "  column: string, required\n" in out
    assert '  reduce: string, default "last"\n      one of: "last", "first", "min", "max", "mean", "median"' in out
    assert "statistics:\n  value (float)\n" in out


def test_evaluators_name_lists_statistics_with_ranges_and_meaning(project: Project) -> None:
    result = invoke("evaluators", "loss.spikes")
    assert result.exit_code == 0, result.output
    assert "  count (int, in [0, inf])\n      " in result.output
    assert "  window: integer, default 50\n" in result.output


def test_evaluators_unknown_name_is_bad_input(project: Project) -> None:
    result = invoke("evaluators", "loss.spike")
    assert result.exit_code == 2, result.output
    assert result.output == "no evaluator named 'loss.spike' (hint: did you mean 'loss.spikes'?)\n"


def test_evaluators_name_as_json(project: Project) -> None:
    import json

    data = json.loads(invoke("evaluators", "loss.spikes", "--format", "json").output)
    assert data["name"] == "loss.spikes"
    assert {s["name"] for s in data["statistics"]} >= {"count"}


def test_piped_evaluate_does_not_import_rich(basic: Project) -> None:
    """Piped, evaluate prints its plain lines itself: importing rich would add 30 ms to every run."""
    command = [sys.executable, "-X", "importtime", "-m", "registry", "evaluate"]
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.run(command, capture_output=True, text=True, cwd=basic.root, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1].startswith("3 verdict(s): ")
    assert not [line for line in proc.stderr.splitlines() if line.rsplit("|", 1)[-1].strip().startswith("rich")]
