"""Activation claims through the real CLI: verdicts on a folder of checkpoints, bad input with pinned
messages, and the artifact hash cache."""

from __future__ import annotations

import hashlib
import os
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from conftest import FIXTURES, Project, invoke

CLAIM = """\
id: tiny-activations
title: Activation evaluators on the tiny fixture run
statement: Every activation evaluator runs on a folder of checkpoints.
falsified_if: Any expectation fails.
predictions:
  - id: resid-rms-grows
    level: activation
    evaluator: activation.stat
    params: {tensor: "blocks.*.hook_resid_post", stat: rms}
    expect:
      - {stat: ratio, op: ">", value: 1}
    min_samples: 3
  - id: attention-sharpens
    level: activation
    evaluator: activation.attention
    params: {tensor: "blocks.1.attn.hook_attn_scores", entropy_below: 1.0}
    expect:
      - {stat: ratio, op: "<", value: 1}
      - {stat: max_logit, op: ">", value: 0}
  - id: lens-agrees
    level: activation
    evaluator: activation.lens
    params: {}
    expect:
      - {stat: agreement, op: ">=", value: 0}
  - id: resid-drifts
    level: activation
    evaluator: activation.drift
    params: {tensor: resid1}
    expect:
      - {stat: cka, op: "<=", value: 1}
  - id: missing-tensor
    level: activation
    evaluator: activation.stat
    params: {tensor: "blocks.0.hook_resid_pre", stat: rms}
    expect:
      - {stat: value, op: "<", value: 1}
"""


@pytest.fixture
def tiny(project: Project) -> Project:
    project.add_run(FIXTURES / "activations" / "tiny-gpt")
    (project.claims / "tiny-activations.yaml").write_text(CLAIM)
    return project


def test_evaluate_activation_claims(tiny: Project) -> None:
    result = invoke("evaluate")
    assert result.exit_code == 0, result.output
    verdict = yaml.safe_load(tiny.verdict("tiny-activations", "tiny-gpt").read_text())
    outcomes = {p["id"]: p["outcome"] for p in verdict["predictions"]}
    assert outcomes == {
        "resid-rms-grows": "pass",
        "attention-sharpens": "pass",
        "lens-agrees": "pass",
        "resid-drifts": "pass",
        "missing-tensor": "inconclusive",
    }
    reason = next(p["reason"] for p in verdict["predictions"] if p["id"] == "missing-tensor")
    assert reason == "step_000000.safetensors has no tensor 'blocks.0.hook_resid_pre'; did you mean 'blocks.0.hook_resid_post'?"
    before = tiny.verdict_snapshot()
    assert invoke("evaluate").exit_code == 0
    assert tiny.verdict_snapshot() == before  # byte-identical, untouched


def test_evaluators_are_listed(tiny: Project) -> None:
    result = invoke("evaluators")
    assert result.exit_code == 0, result.output
    for name in ("activation.stat", "activation.attention", "activation.lens", "activation.drift", "activation.probe"):
        assert name in result.output


def test_truncated_checkpoint_is_bad_input(tiny: Project) -> None:
    path = tiny.runs / "tiny-gpt" / "checkpoints" / "step_000010.safetensors"
    path.write_bytes(path.read_bytes()[:-100])
    result = invoke("evaluate")
    assert result.exit_code == 2, result.output
    assert result.output == (
        "runs/tiny-gpt/checkpoints/step_000010.safetensors: tensor 'unembed.W_U' extends past the end of the file "
        "(8808 > 8752 bytes) (hint: the file is truncated)\n"
    )
    assert "Traceback" not in result.output
    assert not tiny.verdict("tiny-activations", "tiny-gpt").exists()


def test_folder_without_checkpoints_is_bad_input(tiny: Project) -> None:
    run = tiny.runs / "tiny-gpt"
    for f in (run / "checkpoints").iterdir():
        f.rename(f.with_name(f.name.replace("step_", "ckpt-")))
    result = invoke("evaluate")
    assert result.exit_code == 2, result.output
    assert result.output == (
        "runs/tiny-gpt/checkpoints: no checkpoint in this folder matches the step pattern "
        "'step[_-]?(?P<step>\\d+)(?:\\.(?:safetensors|npy|npz|h5|hdf5))?' (it holds: ckpt-000000.safetensors, "
        "ckpt-000010.safetensors, ckpt-000020.safetensors) (hint: name checkpoints like step_000500.safetensors, "
        "or set `step_pattern:` (a regex with a group `step`) for this artifact in run.yaml)\n"
    )


def test_bad_step_pattern_is_a_located_manifest_error(tiny: Project) -> None:
    manifest = tiny.runs / "tiny-gpt" / "run.yaml"
    manifest.write_text(manifest.read_text().replace("kind: activations,", "kind: activations, step_pattern: 'ckpt-(\\d+)',"))
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert "runs/tiny-gpt/run.yaml:" in result.output
    assert "step_pattern needs a named group `step`" in result.output


def test_hash_cache(tiny: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    import registry.runs.hashing as artifacts

    monkeypatch.setattr(artifacts, "HASH_CACHE_MIN_BYTES", 0)
    f = tiny.runs / "tiny-gpt" / "checkpoints" / "step_000020.safetensors"
    digest = artifacts.sha256_of(f)
    assert digest == hashlib.sha256(f.read_bytes()).hexdigest()
    entries = list((tiny.root / ".registry-cache" / "sha256").iterdir())
    assert len(entries) == 1 and entries[0].read_text().split("\n")[1] == digest
    monkeypatch.setattr(artifacts, "_hash_file", lambda p: "cached? no")
    assert artifacts.sha256_of(f) == digest  # served from the cache
    # same size, mtime put back: the inode-change time still tells
    st = f.stat()
    data = bytearray(f.read_bytes())
    data[-1] ^= 1
    f.write_bytes(bytes(data))
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    time.sleep(0.01)
    assert artifacts.sha256_of(f) == "cached? no"
    monkeypatch.setenv("REGISTRY_HASH_CACHE", "0")
    assert artifacts._hash_cache_dir() is None


def test_olmo_run_builds_reproducibly(tmp_path: Path) -> None:
    public = Path(__file__).resolve().parents[3] / "shared" / "data" / "public-runs"
    if not (public / "olmo_mup_coord_check_sp_vs_mup.csv").exists():
        pytest.skip("public-runs data not available")
    import importlib.util

    spec = importlib.util.spec_from_file_location("mk", Path(__file__).resolve().parents[2] / "examples" / "make_olmo_run.py")
    assert spec is not None and spec.loader is not None
    mk = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mk)
    assert mk.main([str(public), "--out", str(tmp_path / "olmo")]) == 0
    shipped = Path(__file__).resolve().parents[2] / "runs" / "olmo-mup-coord-check"
    made = sorted(p.relative_to(tmp_path / "olmo") for p in (tmp_path / "olmo").rglob("*") if p.is_file())
    assert made == sorted(p.relative_to(shipped) for p in shipped.rglob("*") if p.is_file())
    for rel in made:
        assert (tmp_path / "olmo" / rel).read_bytes() == (shipped / rel).read_bytes(), rel


def test_claim_text_is_dedented() -> None:
    assert textwrap.dedent(CLAIM) == CLAIM
