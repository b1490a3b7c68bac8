"""Run roots in object storage: `runs = ["s3://bucket/sweep/"]`, read through fsspec (s3fs) from a real S3 API
(moto in server mode on 127.0.0.1, not a mock of our own)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FIXTURES, Project, invoke

CLAIM = "claims/loss/final-loss-below-2.yaml"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    import s3fs

    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(var, "testing")
    fs = s3fs.S3FileSystem(key="testing", secret="testing", client_kwargs={"endpoint_url": endpoint}, use_listings_cache=False)
    fs.mkdir("sweep")
    for f in sorted((FIXTURES / "runs" / "basic").iterdir()):
        fs.pipe(f"sweep/runs/basic/{f.name}", f.read_bytes())
    yield fs
    fs.rm("sweep", recursive=True)


def configure(project: Project, endpoint: str) -> None:
    (project.root / "pyproject.toml").write_text(
        '[tool.registry]\nclaims = "claims"\nruns = ["s3://sweep/runs/"]\nverdicts = "verdicts"\n'
        f'[tool.registry.storage_options]\nkey = "testing"\nsecret = "testing"\nclient_kwargs = {{endpoint_url = "{endpoint}"}}\n'
    )
    project.add_claim(CLAIM)


def test_runs_in_s3_give_the_verdict_of_the_same_runs_on_disk(project: Project, endpoint: str, bucket: object) -> None:
    project.add_claim(CLAIM)
    project.add_run("runs/basic")
    assert invoke("evaluate", "--jobs", "1").exit_code == 0
    local = project.verdict("final-loss-below-2", "basic").read_bytes()
    project.verdict("final-loss-below-2", "basic").unlink()
    import shutil

    shutil.rmtree(project.runs)
    configure(project, endpoint)
    result = invoke("evaluate", "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert project.verdict("final-loss-below-2", "basic").read_bytes() == local  # paths relative to the run folder
    assert b".registry-cache" not in local


def test_a_changed_object_is_read_again(project: Project, endpoint: str, bucket: object) -> None:
    configure(project, endpoint)
    assert invoke("evaluate", "--jobs", "1").exit_code == 0
    assert "1 current, skipped" in invoke("evaluate", "--jobs", "1").output
    csv = (FIXTURES / "runs" / "basic" / "metrics.csv").read_text()
    bucket.pipe("sweep/runs/basic/metrics.csv", (csv + "\n").encode())  # type: ignore[attr-defined]
    result = invoke("evaluate", "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert "1 verdict(s)" in result.output


def test_unreachable_store_is_a_located_message(project: Project, endpoint: str, bucket: object) -> None:
    configure(project, endpoint)
    pyproject = project.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("s3://sweep/runs/", "s3://no-such-bucket/runs/"))
    result = invoke("evaluate", "--jobs", "1")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("s3://no-such-bucket/runs/: cannot list run root")


def test_file_urls(project: Project, tmp_path: Path) -> None:
    project.add_claim(CLAIM)
    elsewhere = project.add_run("runs/basic", under=tmp_path / "store")
    (project.root / "pyproject.toml").write_text(
        f'[tool.registry]\nclaims = "claims"\nruns = ["file://{elsewhere.parent}"]\nverdicts = "verdicts"\n'
    )
    result = invoke("evaluate", "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert "path: metrics.csv" in project.verdict("final-loss-below-2", "basic").read_text()


def test_a_key_that_climbs_out_of_the_root_is_refused(project: Project, endpoint: str, bucket: object) -> None:
    """S3 keys are strings: `runs/../outside.txt` lists under the root's prefix but names no file below it."""
    configure(project, endpoint)
    bucket.pipe("sweep/runs/basic/../../outside.txt", b"not a run")  # type: ignore[attr-defined]
    result = invoke("evaluate", "--jobs", "1")
    assert result.exit_code == 2, result.output
    assert "would leave the run root" in result.output
    assert not list(project.root.rglob("outside.txt"))
    assert not list((project.root / "verdicts").rglob("*.yaml"))
