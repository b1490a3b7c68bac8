"""The modular-arithmetic example job: a short run is replayed bit for bit, and every artifact it writes
has the documented names, shapes and structure."""

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

from examples.modarith import answers_by_offset, spikes  # noqa: E402
from examples.modarith import train as ma  # noqa: E402

P, D_MODEL, HEADS, STEPS, N_PT, N_PV = 13, 32, 2, 200, 8, 8
ONSET = 100  # an onset forced onto the run, so the onset-driven checkpoint path is exercised
OFFSETS = [-20, -5, -1, 0, 1, 5, 20]
CKPTS = sorted({0, STEPS - 1, 50} | {ONSET + d for d in OFFSETS})


def argv(out: Path, *extra: str) -> list[str]:
    return [
        "--out", str(out), "--p", str(P), "--d-model", str(D_MODEL), "--heads", str(HEADS), "--steps", str(STEPS),
        "--probe-train", str(N_PT), "--probe-val", str(N_PV), "--extra-ckpts", "50", "--seed", "3", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "modarith-smoke"
    mp = pytest.MonkeyPatch()
    real = spikes.onsets
    mp.setattr(spikes, "onsets", lambda losses, *a: sorted(set(real(losses, *a)) | {ONSET}))
    try:
        assert ma.main(argv(out)) == 0
    finally:
        mp.undo()
    return out


def read_metrics(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "metrics.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_replay_is_bit_identical(run_dir):
    """The job compared every step of its replay with pass 1; and pass 1 run again in this process gives
    the same loss bytes and parameter digests as the run on disk."""
    doc = yaml.safe_load((run_dir / "run.yaml").read_text())
    assert doc["config"]["replay"]["identical"] is True
    assert doc["config"]["replay"]["steps_compared"] == STEPS
    a = ma.build_parser().parse_args(argv(run_dir.parent / "again"))
    (run_dir.parent / "again").mkdir()
    task = ma.Task(a.p, a.train_frac, a.split_seed, a.probe_train, a.probe_val, a.probe_seed)
    loss_bytes, digests, losses = ma.pass1(a, task, str(run_dir.parent / "again"), lambda msg: None)
    assert len(loss_bytes) == len(digests) == STEPS
    assert (run_dir.parent / "again" / "metrics.csv").read_bytes() == (run_dir / "metrics.csv").read_bytes()
    recorded, n = ma.pass2(a, task, [0, STEPS - 1], loss_bytes, digests, lambda msg: None)
    assert n == STEPS and sorted(recorded) == [0, STEPS - 1]
    on_disk = st_numpy.load_file(str(run_dir / "checkpoints" / f"step_{STEPS - 1:06d}.safetensors"))
    for name, arr in recorded[STEPS - 1][0].items():
        assert arr.tobytes() == on_disk[name].tobytes(), name
    # Answers are sampled, each (pair, step) from its own seeded generator: recording only two steps
    # gives the same answers at the last step as the full run did.
    lines = [json.loads(x) for x in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert recorded[STEPS - 1][1] == [s for s in lines if s["step"] == STEPS - 1]


def test_replay_that_differs_writes_no_checkpoints(tmp_path, monkeypatch):
    real = ma.pass1

    def tampered(*args, **kw):
        loss_bytes, digests, losses = real(*args, **kw)
        loss_bytes[7] = bytes([loss_bytes[7][0] ^ 1]) + loss_bytes[7][1:]  # one bit of step 7's loss
        return loss_bytes, digests, losses

    monkeypatch.setattr(ma, "pass1", tampered)
    out = tmp_path / "bad"
    with pytest.raises(SystemExit, match="replay differs from pass 1 at step 7"):
        ma.main(argv(out, "--steps", "20"))
    assert not (out / "checkpoints").exists() and not (out / "samples.jsonl").exists()
    assert not (out / "run.yaml").exists()


def test_run_yaml(run_dir):
    doc = yaml.safe_load((run_dir / "run.yaml").read_text())
    assert list(doc) == ["id", "description", "tags", "config", "created", "artifacts"]
    assert doc["id"] == "modarith-smoke"
    assert {"transformer", "modarith", "seed-3", "no-weight-decay"} <= set(doc["tags"])
    assert isinstance(doc["created"], str) and len(doc["created"]) == 20 and doc["created"].endswith("Z")
    assert "T" in doc["created"]
    cfg = doc["config"]
    assert (cfg["p"], cfg["lr"], cfg["eps"], cfg["beta2"], cfg["weight_decay"]) == (P, 3e-3, 1e-12, 0.98, 0.0)
    assert cfg["checkpoint_steps"] == CKPTS
    assert ONSET in cfg["spikes"]["onsets"]
    assert cfg["data"]["train_pairs"] == round(0.4 * P * P)
    assert doc["artifacts"] == {
        "metrics": {"path": "metrics.csv"},
        "activations": {
            "path": "checkpoints",
            "kind": "activations",
            "aliases": {"lens.0": "blocks.0.hook_resid_mid", "lens.1": "blocks.0.hook_resid_post"},
        },
        "samples": {"path": "samples.jsonl", "kind": "text"},
    }


def test_metrics(run_dir):
    rows = read_metrics(run_dir)
    assert list(rows[0]) == [
        "step", "loss", "train_acc", "val_loss", "val_acc", "grad_norm", "lr", "attn_logit_max_l0",
        "attn_logit_max", "log_z_abs", "update_rms_ratio", "update_norm", "adam_g2v_rms", "unembed_norm", "param_norm",
    ]  # fmt: skip
    assert [int(r["step"]) for r in rows] == list(range(STEPS))
    for r in rows:
        for col, v in r.items():
            if col in ("val_loss", "val_acc"):
                assert (v == "") == (int(r["step"]) % 10 != 0), (col, r["step"])
            if v:
                assert math.isfinite(float(v)), (col, r["step"])
                assert v == f"{float(v):.7g}" or col == "step", (col, v)
    assert float(rows[0]["loss"]) == pytest.approx(math.log(P + 1), abs=0.3)
    assert all(0 <= float(r["train_acc"]) <= 1 for r in rows)
    assert all(float(r["attn_logit_max"]) == float(r["attn_logit_max_l0"]) for r in rows)


def test_checkpoints(run_dir):
    files = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert files == [f"step_{s:06d}.safetensors" for s in CKPTS]
    n, vocab = N_PT + N_PV, P + 1
    expect = {
        "blocks.0.hook_resid_mid": (n, D_MODEL),
        "blocks.0.hook_resid_post": (n, D_MODEL),
        "blocks.0.attn.hook_pattern": (n, HEADS, 3, 3),
        "blocks.0.attn.hook_attn_scores": (n, HEADS, 3, 3),
        "ln_final.w": (D_MODEL,),
        "ln_final.b": (D_MODEL,),
        "unembed.W_U": (D_MODEL, vocab),
        "unembed.b_U": (vocab,),
        "probe.tokens": (n, 3),
        "probe.targets": (n,),
        "probe.is_train": (n,),
    }
    from safetensors import safe_open

    for name in files:
        t = st_numpy.load_file(str(run_dir / "checkpoints" / name))
        assert {k: v.shape for k, v in t.items()} == expect, name
        assert t["blocks.0.hook_resid_post"].dtype.name == "float16"
        assert t["unembed.W_U"].dtype.name == "float32"
        pat = t["blocks.0.attn.hook_pattern"].astype("float64")
        assert abs(pat.sum(-1) - 1).max() < 1e-2 and (pat[..., 0, 1:] == 0).all()
        tok = t["probe.tokens"]
        assert (tok[:, 2] == P).all() and ((tok[:, 0] + tok[:, 1]) % P == t["probe.targets"]).all()
        assert t["probe.is_train"].tolist() == [1] * N_PT + [0] * N_PV
        with safe_open(str(run_dir / "checkpoints" / name), "np") as fh:
            meta = fh.metadata()
        assert meta["step"] == str(int(name[5:11]))
        axes = json.loads(meta["axes"])
        assert set(axes) == set(expect) and all(len(axes[k]) == len(s) for k, s in expect.items())


def test_samples(run_dir):
    lines = [json.loads(x) for x in (run_dir / "samples.jsonl").read_text().splitlines()]
    n = N_PT + N_PV
    assert len(lines) == len(CKPTS) * n
    assert [s["step"] for s in lines] == [s for s in CKPTS for _ in range(n)]
    for s in lines:
        assert set(s) == {"id", "step", "prompt", "text", "tokens", "token_logprobs", "top_logprobs", "greedy", "target", "split"}
        a, b, eq = s["prompt"].split()
        assert eq == "=" and s["target"] == str((int(a) + int(b)) % P)
        assert s["tokens"] == [s["text"]] and len(s["token_logprobs"]) == len(s["top_logprobs"]) == 1
        top = s["top_logprobs"][0]
        assert len(top) == 5 and max(top, key=top.get) == s["greedy"] and s["token_logprobs"][0] <= 0
        if s["text"] in top:  # the sampled answer's log-prob is the one in the top-5
            assert top[s["text"]] == s["token_logprobs"][0]


    # the README's breakdown reads the same file: every answer counted once, by split and offset
    counts = answers_by_offset.tally([run_dir])
    assert sum(n for _, n in counts.values()) == len(lines)
    assert {split for split, _ in counts} == {"train", "val"}


def test_offset_labels():
    assert [answers_by_offset.offset_label(s, [100, 130], 299) for s in (0, 80, 99, 100, 125, 150, 200, 299)] == [
        "start", "-20", "-1", "+0", "-5", "+20", "other", "end",
    ]


def test_spike_finder_on_a_synthetic_log():
    floor = [3e-8 * (1.3 if i % 2 else 0.8) for i in range(300)]
    floor[200:203] = [1e-3, 0.2, 0.05]  # a jump of x1e6 over 1-3 rows, then recovery
    floor[120] = 5e-8  # jitter at the floor: not a spike
    assert spikes.onsets(floor) == [200]
    assert spikes.describe(floor, 200)["peak_step"] == 201
    assert ma.checkpoint_steps([200], OFFSETS, [], 300) == [0, 180, 195, 199, 200, 201, 205, 220, 299]
    assert ma.checkpoint_steps([290], OFFSETS, [5], 300) == [0, 5, 270, 285, 289, 290, 291, 295, 299]


def test_every_artifact_loads_through_the_registry(run_dir):
    """Every artifact the job writes, read by the registry's own readers as `registry evaluate` reads
    it: the manifest, every metrics column (the sparse validation columns as their written rows only),
    every tensor of every checkpoint (with the lens aliases), every sample; and the lens reads the
    checkpoints through the `lens.*` aliases."""
    import numpy as np

    from evaluators._lib.series import SeriesSpec, load_series
    from registry.runs.run import load_run

    run = load_run(run_dir / "run.yaml")
    assert run.artifact_names() == ["activations", "metrics", "samples"]

    table = run.metrics("metrics")
    rows = read_metrics(run_dir)
    columns = set(rows[0]) - {"step"}
    assert set(table.available()) - {"step"} == columns
    for name in sorted(columns):
        steps, values = table.series(name)
        written = [(int(r["step"]), float(r[name])) for r in rows if r[name] != ""]
        assert steps.tolist() == [s for s, _ in written], name
        np.testing.assert_allclose(values, [v for _, v in written], err_msg=name)
    assert table.series("val_loss")[0].tolist() == list(range(0, STEPS, 10))  # written every 10 steps

    art = run.tensors("activations")
    assert art.steps == CKPTS
    for ckpt in art.checkpoints:
        store = art.store(ckpt)
        direct = st_numpy.load_file(str(ckpt.path))
        assert set(direct) <= set(store.names())
        for name, want in direct.items():
            np.testing.assert_array_equal(np.asarray(store.array(name), dtype=np.float64), want.astype(np.float64))

    samples = run.samples("samples")
    records = [json.loads(x) for x in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert [(s.step, s.prompt, s.text) for s in samples] == [(r["step"], r["prompt"], r["text"]) for r in records]

    lens = load_series(run, SeriesSpec.model_validate({"tensor": "lens.*", "stat": "lens_agreement"}))
    assert lens.steps.tolist() == CKPTS and ((lens.values >= 0) & (lens.values <= 1)).all()
