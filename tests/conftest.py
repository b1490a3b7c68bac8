"""Shared fixtures: a throw-away project to run the real CLI in, fixture copies, binary artifact writers.

Every CLI test runs with the working directory set to a temporary project (a pyproject.toml with
[tool.registry] and claims/ runs/ verdicts/ folders), so the paths in messages are short, relative
and the same on every machine.
"""

from __future__ import annotations

import json
import shutil
import struct
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner, Result

from registry.cli.app import app

TESTS = Path(__file__).resolve().parent
FIXTURES = TESTS / "fixtures"
FAKE_PLUGIN = TESTS / "fake_plugin"

PYPROJECT = """\
[project]
name = "tmp-claims"
version = "0"

[tool.registry]
claims = "claims"
runs = ["runs"]
verdicts = "verdicts"
"""

CLI_ENV = {"NO_COLOR": "1", "COLUMNS": "200"}


def invoke(*args: str) -> Result:
    """Run `registry ARGS` in-process through the real typer app."""
    return CliRunner().invoke(app, list(args), env=CLI_ENV)


class Project:
    """A temporary claims-registry project (the working directory of the test)."""

    def __init__(self, root: Path):
        self.root = root
        self.claims = root / "claims"
        self.runs = root / "runs"
        self.verdicts = root / "verdicts"

    def add_claim(self, source: str | Path, dest: str | None = None) -> Path:
        """Copy a claim file (relative to tests/fixtures/ unless absolute) into claims/."""
        src = Path(source) if Path(source).is_absolute() else FIXTURES / source
        target = self.claims / (dest or src.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
        return target

    def add_run(self, source: str | Path, dest: str | None = None, *, under: Path | None = None) -> Path:
        """Copy a run folder (relative to tests/fixtures/ unless absolute) into runs/ (or `under`)."""
        src = Path(source) if Path(source).is_absolute() else FIXTURES / source
        target = (under or self.runs) / (dest or src.name)
        shutil.copytree(src, target, symlinks=True)
        return target

    def add_run_copies(self, source: str | Path, copies: int) -> list[Path]:
        """`copies` copies of a run folder as runs `<name>0`, `<name>1`, ... (folder and `id` alike)."""
        name = Path(source).name
        folders = []
        for i in range(copies):
            folder = self.add_run(source, f"{name}{i}")
            manifest = folder / "run.yaml"
            manifest.write_text(manifest.read_text().replace(f"id: {name}", f"id: {name}{i}", 1))
            folders.append(folder)
        return folders

    def verdict_snapshot(self) -> dict[str, tuple[bytes, int]]:
        """Every file below verdicts/ with its bytes and mtime: equal snapshots mean nothing was touched."""
        out: dict[str, tuple[bytes, int]] = {}
        for p in sorted(self.verdicts.rglob("*")):
            if p.is_file():
                out[p.relative_to(self.verdicts).as_posix()] = (p.read_bytes(), p.stat().st_mtime_ns)
        return out

    def verdict(self, claim_id: str, run_id: str) -> Path:
        return self.verdicts / claim_id / f"{run_id}.yaml"


def yaml_files(folder: Path) -> dict[str, bytes]:
    """Every YAML file below `folder` (relative posix path -> bytes): two equal results mean the same verdicts."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.yaml"))}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    root = tmp_path / "project"
    for sub in ("claims", "runs", "verdicts"):
        (root / sub).mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    monkeypatch.chdir(root)
    monkeypatch.delenv("REGISTRY_DEBUG", raising=False)
    return Project(root)


# --- runs and artifacts written from code -----------------------------------------------------------


def write_run(folder: Path, run_id: str, artifacts: Mapping[str, Mapping[str, Any]], tags: list[str] | None = None) -> Path:
    """Write `folder/run.yaml` naming the given artifacts (name -> artifact spec)."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"id": run_id, "tags": list(tags or []), "artifacts": {k: dict(v) for k, v in artifacts.items()}}
    (folder / "run.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    return folder / "run.yaml"


def bf16_bits(values: Any) -> np.ndarray:
    """float values -> bf16 bit patterns (uint16) by truncation; exact for values bf16 can hold."""
    return (np.asarray(values, dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16)


_ST_CODES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "U8": "u1", "BOOL": "?"}


def safetensors_bytes(tensors: Mapping[str, tuple[str, Any]], metadata: Mapping[str, str] | None = None) -> bytes:
    """A safetensors file built by hand: 8-byte header length, JSON header, raw little-endian data.

    `tensors` maps name -> (dtype code, values); BF16 values are given as floats and truncated."""
    header: dict[str, Any] = {}
    blobs: list[bytes] = []
    offset = 0
    for name, (dtype, values) in tensors.items():
        arr = bf16_bits(values) if dtype == "BF16" else np.asarray(values, dtype=np.dtype(_ST_CODES[dtype]))
        data = np.ascontiguousarray(arr).tobytes()
        header[name] = {"dtype": dtype, "shape": list(np.shape(values)), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = dict(metadata)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    return struct.pack("<Q", len(head)) + head + b"".join(blobs)


def write_tensors(path: Path, tensors: Mapping[str, tuple[str, Any]], metadata: Mapping[str, str] | None = None) -> Path:
    """Write tensors as .npy (one tensor, named by the file stem), .npz or .safetensors, by suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".safetensors":
        path.write_bytes(safetensors_bytes(tensors, metadata))
        return path
    arrays = {name: np.asarray(values, dtype=np.dtype(_ST_CODES[dtype])) for name, (dtype, values) in tensors.items()}
    if path.suffix == ".npy":
        ((name, arr),) = arrays.items()
        assert name == path.stem, "an .npy file holds one tensor named by its stem"
        np.save(path, arr)
    elif path.suffix == ".npz":
        np.savez(path, **arrays)  # type: ignore[arg-type]
    else:
        raise ValueError(f"no tensor writer for {path.suffix}")
    return path


def write_truncated_npy(path: Path) -> Path:
    """A real .npy header promising 1,000 float32 values, followed by only 100 bytes of data."""
    np.save(path, np.arange(1000, dtype=np.float32))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 4000 + 100])
    return path


def write_table(path: Path, columns: Mapping[str, list[Any]]) -> Path:
    """A metrics table by suffix: .csv, .jsonl (one object per row) or .parquet."""
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(dict(columns))
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".jsonl":
        with path.open("w", encoding="utf-8") as fh:
            for row in frame.to_dict(orient="records"):
                fh.write(json.dumps({k: v for k, v in row.items() if v == v}) + "\n")  # NaN: key left out
    elif path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        raise ValueError(f"no table writer for {path.suffix}")
    return path


# --- the fake third-party plugin ----------------------------------------------------------------------

FAKE_DIST = "fake_registry_plugin-0.3.1.dist-info"


@pytest.fixture
def fake_plugin_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """tests/fake_plugin laid out as an installed distribution (package + dist-info) on sys.path.

    This is the layout `pip install --target` produces; the real `registry` then finds `fake.constant`
    and `fake.broken` through importlib.metadata like any installed plugin."""
    site = tmp_path / "site"
    shutil.copytree(FAKE_PLUGIN / "fake_registry_plugin", site / "fake_registry_plugin")
    dist = site / FAKE_DIST
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-registry-plugin\nVersion: 0.3.1\n")
    (dist / "entry_points.txt").write_text(
        "[registry.evaluators]\n"
        "fake.broken = fake_registry_plugin.broken:Broken\n"
        "fake.constant = fake_registry_plugin.constant:Constant\n"
    )
    monkeypatch.syspath_prepend(str(site))
    yield site
    for name in [m for m in sys.modules if m == "fake_registry_plugin" or m.startswith("fake_registry_plugin.")]:
        del sys.modules[name]


# --- an evaluated project (the report's tests) ------------------------------------------------------

EVALUATED_CLAIMS = [
    "claims/loss/final-loss-below-2.yaml",
    "claims/loss/one-spike.yaml",
    "claims/loss/loss-below-zero.yaml",
    "claims/activation/resid-rms-bounded.yaml",
    "claims/text/refusals-are-rare.yaml",
]


@pytest.fixture
def evaluated(project: Project) -> Project:
    """The fixture run with one claim of each level evaluated on it (verdict files written)."""
    project.add_run("runs/basic")
    for claim in EVALUATED_CLAIMS:
        project.add_claim(claim)
    result = invoke("evaluate")
    assert result.exit_code == 0, result.output
    return project
