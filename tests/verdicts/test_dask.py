"""`registry evaluate --executor dask` against a real dask.distributed LocalCluster on 127.0.0.1 (two worker
processes): the same verdict bytes as `--jobs 1`, and bad input on a worker is still one located message."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import Project, invoke, yaml_files

CLAIMS = [
    "claims/loss/final-loss-below-2.yaml",
    "claims/loss/one-spike.yaml",
    "claims/activation/resid-rms-bounded.yaml",
    "claims/text/refusals-are-rare.yaml",
    "golden/golden-all-levels.yaml",
]


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def setup(project: Project, copies: int = 3) -> None:
    project.add_run_copies("runs/basic", copies)
    for claim in CLAIMS:
        project.add_claim(claim)


@pytest.mark.parametrize("tasks_per_thread", [16, 1])  # 16: a run per task here; 1: two runs in a task
def test_dask_gives_the_bytes_of_one_process(
    project: Project, scheduler: str, tasks_per_thread: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from registry.verdicts import dask_executor

    monkeypatch.setattr(dask_executor, "TASKS_PER_THREAD", tasks_per_thread)
    setup(project)
    local = invoke("evaluate", "--force", "--jobs", "1")
    assert local.exit_code == 0, local.output
    expected = yaml_files(project.verdicts)
    for path in project.verdicts.rglob("*.yaml"):
        path.unlink()
    remote = invoke("evaluate", "--force", "--executor", "dask", "--scheduler", scheduler)
    assert remote.exit_code == 0, remote.output
    assert yaml_files(project.verdicts) == expected
    assert remote.output == local.output


def test_scheduler_from_settings(project: Project, scheduler: str) -> None:
    setup(project, copies=1)
    pyproject = project.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + f'executor = "dask"\nscheduler = "{scheduler}"\n')
    result = invoke("evaluate")
    assert result.exit_code == 0, result.output
    assert len(yaml_files(project.verdicts)) == len(CLAIMS)


def test_bad_input_on_a_worker_is_a_located_message(project: Project, scheduler: str) -> None:
    setup(project, copies=2)
    (project.runs / "basic1" / "resid.npy").write_bytes(b"\x93NUMPY truncated")
    result = invoke("evaluate", "--executor", "dask", "--scheduler", scheduler, "resid-rms-bounded")
    assert result.exit_code == 2, result.output
    assert "runs/basic1/resid.npy" in result.output and "Traceback" not in result.output
    assert sorted(yaml_files(project.verdicts)) == ["resid-rms-bounded/basic0.yaml"]  # the other pair is judged


def test_unreachable_scheduler(project: Project) -> None:
    setup(project, copies=1)
    result = invoke("evaluate", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9", "--timeout", "5")
    assert result.exit_code == 2, result.output
    assert "cannot reach the dask scheduler tcp://127.0.0.1:9" in result.output
