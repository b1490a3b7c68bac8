"""`registry evaluate --jobs N`: the same verdict bytes as `--jobs 1`, and a per-pair timeout that turns one
slow pair into an `error` while the others go on."""

from __future__ import annotations

import time
from typing import Any

import pytest
from conftest import Project, invoke, yaml_files

CLAIMS = [
    "claims/loss/final-loss-below-2.yaml",
    "claims/loss/one-spike.yaml",
    "claims/activation/resid-rms-bounded.yaml",
    "claims/text/refusals-are-rare.yaml",
    "golden/golden-all-levels.yaml",
]


def setup(project: Project, copies: int = 4) -> None:
    project.add_run_copies("runs/basic", copies)
    for claim in CLAIMS:
        project.add_claim(claim)


def test_jobs_give_the_same_bytes_as_one_process(project: Project) -> None:
    setup(project)
    one = invoke("evaluate", "--force", "--jobs", "1")
    assert one.exit_code == 0, one.output
    serial = yaml_files(project.verdicts)
    assert len(serial) == 4 * len(CLAIMS)
    for path in project.verdicts.rglob("*.yaml"):
        path.unlink()
    two = invoke("evaluate", "--force", "--jobs", "3")
    assert two.exit_code == 0, two.output
    assert yaml_files(project.verdicts) == serial
    assert two.output == one.output


def slow_on(run_id: str, seconds: float) -> Any:
    from evaluators.metric.threshold import Threshold

    original = Threshold.evaluate

    def evaluate(self: Threshold, params: Any, run: Any) -> Any:
        if run.id == run_id:
            time.sleep(seconds)
        return original(self, params, run)

    return evaluate


@pytest.mark.parametrize(("jobs", "send_every"), [("1", None), ("2", None), ("2", 0.0)])
def test_a_pair_over_the_timeout_is_an_error_and_the_others_go_on(
    project: Project, monkeypatch: pytest.MonkeyPatch, jobs: str, send_every: float | None
) -> None:
    from evaluators.metric.threshold import Threshold
    from registry.verdicts import executors

    setup(project, copies=3)
    monkeypatch.setattr(Threshold, "evaluate", slow_on("basic1", 30))
    if send_every is not None:  # workers send each pair's result as it is done, not a run's at its end
        monkeypatch.setattr(executors, "_SEND_EVERY", send_every)
    started = time.monotonic()
    result = invoke("evaluate", "--jobs", jobs, "--timeout", "1", "final-loss-below-2", "one-spike")
    assert time.monotonic() - started < 20
    assert result.exit_code == 3, result.output
    slow = project.verdict("final-loss-below-2", "basic1").read_text()
    assert "outcome: error" in slow and "reason: timed out after 1 s" in slow
    for run in ("basic0", "basic2"):
        assert "outcome: error" not in project.verdict("final-loss-below-2", run).read_text()
    for run in ("basic0", "basic1", "basic2"):  # the slow run's other claim was measured too
        assert "outcome: error" not in project.verdict("one-spike", run).read_text()


def test_timed_out_pairs_are_measured_again_next_time(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    from evaluators.metric.threshold import Threshold

    setup(project, copies=1)
    with monkeypatch.context() as m:
        m.setattr(Threshold, "evaluate", slow_on("basic0", 30))
        assert invoke("evaluate", "--jobs", "1", "--timeout", "0.5", "final-loss-below-2").exit_code == 3
    result = invoke("evaluate", "--jobs", "1", "final-loss-below-2")
    assert result.exit_code == 0, result.output
    assert "1 verdict(s)" in result.output


def test_bad_input_in_a_worker_fails_that_pair_only(project: Project) -> None:
    setup(project, copies=3)
    (project.runs / "basic2" / "resid.npy").write_bytes(b"\x93NUMPY truncated")
    result = invoke("evaluate", "--jobs", "2", "resid-rms-bounded")
    assert result.exit_code == 2, result.output
    assert "runs/basic2/resid.npy" in result.output and "Traceback" not in result.output
    assert sorted(yaml_files(project.verdicts)) == ["resid-rms-bounded/basic0.yaml", "resid-rms-bounded/basic1.yaml"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--jobs", "0"], "--jobs must be at least 1, not 0"),
        (["--executor", "dask"], "the dask executor needs a scheduler address (hint: --scheduler tcp://host:8786"),
    ],
)
def test_bad_options_are_located_messages(project: Project, args: list[str], message: str) -> None:
    setup(project, copies=1)
    result = invoke("evaluate", *args)
    assert result.exit_code == 2
    assert message in result.output


def test_bad_timeout_setting(project: Project) -> None:
    pyproject = project.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "timeout = -1\n")
    result = invoke("evaluate")
    assert result.exit_code == 2
    assert "pyproject.toml: tool.registry: [tool.registry] timeout must be a number of seconds >= 0 (hint: 0 means no limit)" in (
        result.output
    )


def test_a_worker_that_dies_fails_its_pair_and_the_others_go_on(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from evaluators.metric.threshold import Threshold

    setup(project, copies=3)
    original = Threshold.evaluate

    def crash(self: Threshold, params: Any, run: Any) -> Any:
        if run.id == "basic1":
            os._exit(7)  # as a segfault or the OOM killer would: no exception, no message
        return original(self, params, run)

    monkeypatch.setattr(Threshold, "evaluate", crash)
    result = invoke("evaluate", "--jobs", "2", "final-loss-below-2", "one-spike")
    assert result.exit_code == 3, result.output
    dead = project.verdict("final-loss-below-2", "basic1").read_text()
    assert "reason: worker process died (exit code 7)" in dead
    assert "outcome: error" not in project.verdict("one-spike", "basic1").read_text()
    assert "outcome: error" not in project.verdict("final-loss-below-2", "basic2").read_text()
