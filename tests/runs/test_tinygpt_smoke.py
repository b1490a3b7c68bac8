"""Smoke test of the tiny GPT example job: a few steps, every artifact written and well formed."""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path

import pytest

# examples/ is not part of the installed distribution: import it from the checkout.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

torch = pytest.importorskip("torch")
st_numpy = pytest.importorskip("safetensors.numpy")
yaml = pytest.importorskip("yaml")

from examples.tinygpt import train as tg  # noqa: E402

STEPS = 5
D_MODEL, N_LAYERS, N_HEADS, CTX, PROBE_B, PROBE_T, VOCAB = 32, 2, 4, 32, 4, 16, 128


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tinygpt-smoke"
    argv = [
        "--out",
        str(out),
        "--steps",
        str(STEPS),
        "--ckpt-every",
        "4",
        "--lr",
        "1e-2",
        "--qk-norm",
        "--seed",
        "0",
        "--batch-size",
        "4",
        "--ctx",
        str(CTX),
        "--d-model",
        str(D_MODEL),
        "--n-layers",
        str(N_LAYERS),
        "--n-heads",
        str(N_HEADS),
        "--probe-batch",
        str(PROBE_B),
        "--probe-len",
        str(PROBE_T),
        "--sample-len",
        "6",
        "--n-files",
        "3",
        "--attn-scores",
    ]
    assert tg.main(argv) == 0
    return out


def test_run_yaml(run_dir):
    doc = yaml.safe_load((run_dir / "run.yaml").read_text())
    assert set(doc) == {"id", "description", "tags", "config", "created", "artifacts"}
    assert doc["id"] == "tinygpt-smoke"
    assert "qk-norm" in doc["tags"] and "transformer" in doc["tags"]
    assert doc["config"]["lr"] == 1e-2 and doc["config"]["seed"] == 0
    assert doc["artifacts"] == {
        "metrics": {"path": "metrics.csv"},
        "activations": {"path": "checkpoints", "kind": "activations"},
        "samples": {"path": "samples.jsonl", "kind": "text"},
    }


def test_metrics(run_dir):
    with open(run_dir / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["step"]) for r in rows] == list(range(STEPS))
    for col in [
        "loss",
        "grad_norm",
        "lr",
        "attn_logit_max_l0",
        "attn_logit_max_l1",
        "log_z_abs",
        "update_rms_ratio",
        "adam_g2v_rms",
    ]:
        assert col in rows[0], col
        assert all(math.isfinite(float(r[col])) for r in rows), col
    assert float(rows[0]["loss"]) == pytest.approx(math.log(VOCAB), abs=0.5)


def test_checkpoints(run_dir):
    files = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert files == ["step_000000.safetensors", "step_000004.safetensors"]
    t = st_numpy.load_file(str(run_dir / "checkpoints" / files[-1]))
    expect = {
        "blocks.0.hook_resid_pre": (PROBE_B, PROBE_T, D_MODEL),
        "ln_final.w": (D_MODEL,),
        "ln_final.b": (D_MODEL,),
        "unembed.W_U": (D_MODEL, VOCAB),
        "unembed.b_U": (VOCAB,),
        "probe.tokens": (PROBE_B, PROBE_T),
        "probe.targets": (PROBE_B, PROBE_T),
    }
    for i in range(N_LAYERS):
        expect[f"blocks.{i}.hook_resid_post"] = (PROBE_B, PROBE_T, D_MODEL)
        expect[f"blocks.{i}.attn.hook_pattern"] = (PROBE_B, N_HEADS, PROBE_T, PROBE_T)
        expect[f"blocks.{i}.attn.hook_attn_scores"] = (PROBE_B, N_HEADS, PROBE_T, PROBE_T)
    assert set(t) == set(expect)
    for k, shape in expect.items():
        assert t[k].shape == shape, k
    pat = t["blocks.1.attn.hook_pattern"].astype("float64")
    assert abs(pat.sum(-1) - 1).max() < 1e-2
    assert (t["probe.tokens"][:, 1:] == t["probe.targets"][:, :-1]).all()
    from safetensors import safe_open

    with safe_open(str(run_dir / "checkpoints" / files[-1]), "np") as fh:
        axes = json.loads(fh.metadata()["axes"])
    assert axes["blocks.0.attn.hook_pattern"] == ["batch", "head", "query_pos", "key_pos"]
    assert set(axes) == set(expect)


def test_samples(run_dir):
    lines = [json.loads(x) for x in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert len(lines) == 2 * 4  # 2 checkpoints x 4 prompts
    for s in lines:
        assert set(s) >= {"id", "step", "prompt", "text", "tokens", "token_logprobs", "top_logprobs"}
        assert s["id"] == f"{s['step']}-{s['id'].split('-')[1]}"
        n = len(s["tokens"])
        assert n == 6 and len(s["token_logprobs"]) == n and len(s["top_logprobs"]) == n
        assert "".join(s["tokens"]) == s["text"]
        for lp, top in zip(s["token_logprobs"], s["top_logprobs"], strict=True):
            assert len(top) == 5 and lp <= 0
            assert max(top.values()) >= lp - 1e-3  # rounded to 4 and 5 decimals


def test_every_artifact_loads_through_the_registry(run_dir):
    """Every artifact the job writes, read by the registry's own readers (as `registry evaluate`
    reads it): the manifest, the metrics table, every tensor of every checkpoint, every sample with
    its logprobs and top-5 alternatives; and one evaluator per level measures the run."""
    import numpy as np
    from safetensors import safe_open

    from evaluators._lib.series import SeriesSpec, load_series
    from evaluators.metric.compare import Compare
    from evaluators.text.top1_agreement import Top1Agreement
    from registry.runs.run import load_run, load_runs

    run = load_run(run_dir / "run.yaml")
    assert run.id == "tinygpt-smoke"
    assert run.artifact_names() == ["activations", "metrics", "samples"]
    assert [r.id for r in load_runs([run_dir])] == ["tinygpt-smoke"]  # found as `registry evaluate` finds runs

    table = run.metrics("metrics")
    assert table.steps.tolist() == list(range(STEPS))
    columns = ["loss", "grad_norm", "lr", "attn_logit_max_l0", "attn_logit_max_l1", "attn_logit_max"]
    columns += ["log_z_abs", "update_rms_ratio", "adam_g2v_rms"]
    for col in columns:
        assert np.isfinite(table.column(col)).all(), col
    with open(run_dir / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert set(table.available()) >= set(rows[0]) - {"step"}
    np.testing.assert_allclose(table.column("loss"), [float(r["loss"]) for r in rows])

    art = run.tensors("activations")
    assert art.is_folder and art.steps == [0, 4]
    for ckpt in art.checkpoints:
        store = art.store(ckpt)
        direct = st_numpy.load_file(str(ckpt.path))
        assert set(store.names()) == set(direct)
        for name, want in direct.items():
            got = store.array(name)
            assert got.shape == want.shape, name
            np.testing.assert_array_equal(np.asarray(got, dtype=np.float64), want.astype(np.float64), err_msg=name)
        with safe_open(str(ckpt.path), "np") as fh:
            axes = json.loads(fh.metadata()["axes"])
        for name in direct:
            assert store.axes(name) == axes[name], name  # the axis names written in the file's metadata
        assert store.axes("blocks.0.attn.hook_pattern") == ["batch", "head", "query_pos", "key_pos"]

    samples = run.samples("samples")
    records = [json.loads(x) for x in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == len(records) == 2 * 4
    for s, rec in zip(samples, records, strict=True):
        assert (s.step, s.prompt, s.text, s.id) == (rec["step"], rec["prompt"], rec["text"], rec["id"])
        assert s.tokens() == rec["tokens"]
        assert s.token_logprobs() == pytest.approx(rec["token_logprobs"])
        assert s.top_logprobs() == rec["top_logprobs"]

    # One measurement per level, as the shipped claims make them.
    lens = load_series(run, SeriesSpec.model_validate({"tensor": "blocks.*.hook_resid_post", "stat": "lens_agreement"}))
    assert lens.steps.tolist() == [0, 4] and ((lens.values >= 0) & (lens.values <= 1)).all()
    m = Compare().evaluate(
        Compare.Params.model_validate(
            {"tensor": "blocks.*.hook_resid_post", "stat": "lens_accuracy", "a": {"steps": [4, 4]}, "b": {"steps": [0, 0]}}
        ),
        run,
    )
    assert m.n == 1 and 0 <= m.statistics["a"] <= 1
    top1 = Top1Agreement().evaluate(Top1Agreement.Params.model_validate({}), run)
    assert top1.statistics["positions"] == 2 * 4 * 6 and 0 <= top1.statistics["agreement"] <= 1
