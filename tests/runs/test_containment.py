"""What a run may read (issue 12): every file the registry opens for a run — the artifact, every
member of a folder artifact, an HDF5 dataset's storage — resolves inside the run folder (or an
`allow_outside` storage root) and is a regular file. One function owns the check,
`registry.files.contained`; these tests drive it through validate, evaluate and the readers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, PYPROJECT, Project, invoke, write_run

from registry.errors import ArtifactError
from registry.files import Boundary, contained
from registry.readers.activations.artifact import open_activations, open_tensors
from registry.readers.text.read import read_samples

HINT = "(hint: copy or move the file into the run folder, or list its storage root under `allow_outside` in [tool.registry])"
SECRET = "root:*:19000:0:99999:7:::\n"


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A file outside every run, standing for /etc/shadow."""
    path = tmp_path / "elsewhere" / "shadow"
    path.parent.mkdir()
    path.write_text(SECRET)
    return path


def refused(project: Project, expected: str, command: str = "validate") -> None:
    before = project.verdict_snapshot()
    result = invoke(command)
    assert result.exit_code == 2, result.output
    assert result.output == expected + "\n"
    assert "root:" not in result.output  # never the content
    assert project.verdict_snapshot() == before


def activation_run(project: Project) -> Path:
    run = project.runs / "r"
    (run / "ckpts").mkdir(parents=True)
    np.save(run / "ckpts" / "step_000.npy", np.ones(4, dtype=np.float32))
    write_run(run, "r", {"activations": {"path": "ckpts"}})
    project.add_claim("claims/activation/resid-rms-bounded.yaml")
    return run


def test_link_in_a_checkpoint_folder(project: Project, secret: Path) -> None:
    run = activation_run(project)
    (run / "ckpts" / "step_100.npy").symlink_to(secret)
    expected = ("runs/r/run.yaml:5:11: artifacts.activations.path: artifact path 'ckpts' (runs/r/ckpts/step_100.npy) "
                f"resolves outside the run folder (a symlink?) {HINT}")
    refused(project, expected)
    refused(project, expected, "evaluate")


def test_link_in_a_text_folder(project: Project, secret: Path) -> None:
    run = project.runs / "r"
    (run / "samples").mkdir(parents=True)
    (run / "samples" / "a.jsonl").write_text('{"text": "hi"}\n')
    (run / "samples" / "b.jsonl").symlink_to(secret)
    write_run(run, "r", {"samples": {"path": "samples", "kind": "text"}})
    refused(project, "runs/r/run.yaml:5:11: artifacts.samples.path: artifact path 'samples' (runs/r/samples/b.jsonl) "
            f"resolves outside the run folder (a symlink?) {HINT}")


def test_link_in_a_lightning_folder(project: Project, secret: Path) -> None:
    run = project.runs / "r"
    (run / "lightning_logs" / "version_0").mkdir(parents=True)
    (run / "lightning_logs" / "version_0" / "metrics.csv").symlink_to(secret)
    write_run(run, "r", {"metrics": {"path": "lightning_logs/version_0", "format": "lightning"}})
    refused(project, "runs/r/run.yaml:5:11: artifacts.metrics.path: artifact path 'lightning_logs/version_0' "
            "(runs/r/lightning_logs/version_0/metrics.csv) resolves outside the run folder (a symlink?) " + HINT)


def test_linked_folder_inside_a_folder_artifact(project: Project, secret: Path) -> None:
    run = activation_run(project)
    (run / "ckpts" / "step_200").symlink_to(secret.parent, target_is_directory=True)
    refused(project, "runs/r/run.yaml:5:11: artifacts.activations.path: artifact path 'ckpts' (runs/r/ckpts/step_200) "
            f"resolves outside the run folder (a symlink?) {HINT}")


def test_fifo_artifact_is_refused_not_opened(project: Project) -> None:
    run = project.runs / "r"
    run.mkdir()
    os.mkfifo(run / "metrics.csv")
    write_run(run, "r", {"metrics": {"path": "metrics.csv"}})
    refused(project, "runs/r/run.yaml:5:11: artifacts.metrics.path: artifact path 'metrics.csv' is a FIFO, not a "
            "regular file (hint: artifacts are files (or folders of files))")


def test_allow_outside_admits_links_into_listed_roots_only(project: Project, tmp_path: Path, secret: Path) -> None:
    storage = tmp_path / "storage"
    storage.mkdir()
    np.save(storage / "step_100.npy", np.ones(4, dtype=np.float32))
    run = activation_run(project)
    (run / "ckpts" / "step_100.npy").symlink_to(storage / "step_100.npy")
    (project.root / "pyproject.toml").write_text(PYPROJECT + f'allow_outside = ["{storage}"]\n')
    result = invoke("evaluate")
    assert result.exit_code == 0, result.output
    (run / "ckpts" / "step_200.npy").symlink_to(secret)
    refused(project, "runs/r/run.yaml:5:11: artifacts.activations.path: artifact path 'ckpts' (runs/r/ckpts/step_200.npy) "
            f"resolves outside the run folder (a symlink?) {HINT}")


def test_allow_outside_must_be_absolute_paths(project: Project) -> None:
    (project.root / "pyproject.toml").write_text(PYPROJECT + 'allow_outside = ["shared"]\n')
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert result.output == ("pyproject.toml: tool.registry.allow_outside: [tool.registry] allow_outside must be a list of "
                             'absolute paths (hint: e.g. allow_outside = ["/shared/storage"])\n')


def test_run_root_may_be_a_link(project: Project, tmp_path: Path) -> None:
    real = tmp_path / "real-runs" / "basic"
    real.parent.mkdir()
    import shutil

    shutil.copytree(FIXTURES / "runs" / "basic", real)
    (project.runs / "basic").symlink_to(real, target_is_directory=True)
    project.add_claim("claims/activation/resid-rms-bounded.yaml")
    result = invoke("evaluate")
    assert result.exit_code == 0, result.output


def test_hdf5_external_storage_is_refused(project: Project, secret: Path) -> None:
    h5py = pytest.importorskip("h5py")
    run = project.runs / "r"
    run.mkdir()
    with h5py.File(run / "acts.h5", "w") as f:
        f.create_dataset("resid", shape=(8,), dtype="u1", external=[(str(secret), 0, 8)])
    write_run(run, "r", {"activations": {"path": "acts.h5"}})
    project.add_claim("claims/activation/resid-rms-bounded.yaml")
    refused(project, "runs/r/acts.h5: dataset 'resid' keeps its data in other files (external storage), which are not "
            "read (hint: write the data into the .h5 file itself (h5py: no `external=`, no VirtualLayout))", "evaluate")


def test_hdf5_virtual_dataset_is_refused(tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    src = tmp_path / "outside.h5"
    with h5py.File(src, "w") as f:
        f["x"] = np.arange(4.0)
    run = tmp_path / "run"
    run.mkdir()
    layout = h5py.VirtualLayout(shape=(4,), dtype="f8")
    layout[:] = h5py.VirtualSource(str(src), "x", shape=(4,))
    with h5py.File(run / "acts.h5", "w") as f:
        f.create_virtual_dataset("resid", layout)
    with pytest.raises(ArtifactError, match="keeps its data in other files \\(a virtual dataset\\)"):
        open_tensors(run / "acts.h5", options=None)


def test_readers_check_every_file_they_open(tmp_path: Path, secret: Path) -> None:
    """Called directly (a plugin, a test), the readers still refuse a link out of the artifact's folder."""
    run = tmp_path / "run"
    (run / "ckpts").mkdir(parents=True)
    np.save(run / "ckpts" / "step_000.npy", np.ones(2, dtype=np.float32))
    (run / "ckpts" / "step_100.npy").symlink_to(secret)
    with pytest.raises(ArtifactError, match="resolves outside the run folder") as info:
        open_activations(run / "ckpts", boundary=Boundary.of(run))
    assert "root:" not in info.value.render()
    (run / "s.jsonl").symlink_to(secret)
    with pytest.raises(ArtifactError, match="resolves outside the run folder"):
        read_samples(run / "s.jsonl", boundary=Boundary.of(run))
    assert contained(run / "ckpts", Boundary.of(run, (secret.parent,)), folder=True) == (run / "ckpts").resolve()


def test_long_artifact_path_is_located(project: Project) -> None:
    run = project.runs / "r"
    run.mkdir()
    write_run(run, "r", {"metrics": {"path": "a" * 5000 + ".csv"}})
    refused(project, "runs/r/run.yaml:5:11: artifacts.metrics.path: artifact path "
            f"'{'a' * 79}…' is not a usable file name (hint: paths are at most 1024 characters, 255 per name, without NUL)")


def test_nul_in_artifact_path_is_escaped(project: Project) -> None:
    run = project.runs / "r"
    run.mkdir()
    (run / "run.yaml").write_text('id: r\nartifacts:\n  metrics: {path: "metrics\\0.csv"}\n')
    refused(project, "runs/r/run.yaml:3:19: artifacts.metrics.path: artifact path 'metrics\\x00.csv' is not a usable "
            "file name (hint: paths are at most 1024 characters, 255 per name, without NUL)")


def test_link_loop_in_a_folder_artifact(project: Project) -> None:
    run = activation_run(project)
    (run / "ckpts" / "step_300.npy").symlink_to(run / "ckpts" / "step_300.npy")
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert result.output == ("runs/r/run.yaml:5:11: artifacts.activations.path: artifact path 'ckpts' "
                             "(runs/r/ckpts/step_300.npy) cannot open: symbolic link loop\n")


def test_link_back_to_its_own_folder_is_walked_once(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "ckpts").mkdir(parents=True)
    (run / "ckpts" / "again").symlink_to(run / "ckpts", target_is_directory=True)
    assert contained(run / "ckpts", Boundary.of(run), folder=True) == (run / "ckpts").resolve()
