"""Activation evaluators measured against direct numpy computations, on the tinygpt-shaped fixture run
(tests/fixtures/activations/tiny-gpt, three safetensors checkpoints) and on small hand-made tensors."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import FIXTURES, safetensors_bytes
from pydantic import ValidationError

from evaluators._lib.checkpoints import growth_exponent
from evaluators._lib.series import SeriesSpec, load_series
from evaluators.activation.attention import Attention
from evaluators.activation.drift import Drift
from evaluators.activation.lens import Lens
from evaluators.activation.probe import Probe, ProbeUnavailable
from evaluators.activation.stat import ActivationStat as Stat
from evaluators.activation.stat import StatParams
from registry import CannotMeasure, Measurement, Run
from registry.runs.run import load_run

TINY = FIXTURES / "activations" / "tiny-gpt"


@pytest.fixture(scope="module")
def run() -> Run:
    return load_run(TINY / "run.yaml")


def ckpt(step: int) -> dict[str, np.ndarray]:
    from registry.readers.activations.artifact import open_tensors

    store = open_tensors(TINY / "checkpoints" / f"step_{step:06d}.safetensors")
    return {n: store.array(n) for n in store.names()}


def measure(evaluator: Any, run: Run, **params: Any) -> Measurement:
    return evaluator.evaluate(evaluator.Params.model_validate(params), run)  # type: ignore[no-any-return]


def one_file_run(tmp_path: Path, tensors: dict[str, np.ndarray], axes: dict[str, list[str]] | None = None,
                 spec: str = "") -> Run:
    codes = {np.dtype("float32"): "F32", np.dtype("float64"): "F64", np.dtype("int64"): "I64", np.dtype("int32"): "I32"}
    meta = {"axes": json.dumps(axes)} if axes else None
    (tmp_path / "a.safetensors").write_bytes(
        safetensors_bytes({k: (codes[v.dtype], v) for k, v in tensors.items()}, meta)
    )
    (tmp_path / "run.yaml").write_text(f"id: t\nartifacts:\n  activations: {{path: a.safetensors{spec}}}\n")
    return load_run(tmp_path / "run.yaml")


# --- activation.stat -----------------------------------------------------------------------------------
def test_stat_over_a_folder_is_a_series(run: Run) -> None:
    m = measure(Stat(), run, tensor="blocks.*.hook_resid_post", stat="rms")
    per_step = []
    for step in (0, 10, 20):
        t = ckpt(step)
        x = np.concatenate([t[f"blocks.{i}.hook_resid_post"].ravel() for i in (0, 1)]).astype(np.float64)
        per_step.append(float(np.sqrt((x * x).mean())))
    assert m.n == 3
    assert m.statistics["checkpoints"] == 3
    assert m.statistics["value"] == pytest.approx(per_step[-1])  # reduce: last
    assert m.statistics["first"] == pytest.approx(per_step[0])
    assert m.statistics["ratio"] == pytest.approx(per_step[-1] / per_step[0])
    assert m.statistics["growth_exponent"] == pytest.approx(
        np.polyfit(np.log([10, 20]), np.log(per_step[1:]), 1)[0]
    )  # step 0 has no logarithm
    assert m.evidence["steps"] == [0, 10, 20]


def test_stat_keeps_a_named_axis(run: Run) -> None:
    m = measure(Stat(), run, tensor="blocks.1.attn.hook_attn_scores", stat="max", keep=["head"], steps=[20, 20])
    scores = ckpt(20)["blocks.1.attn.hook_attn_scores"]
    per_head = np.where(np.isfinite(scores), scores, -np.inf).max(axis=(0, 2, 3))
    ev = m.evidence["last_checkpoint"]["per_tensor"]["blocks.1.attn.hook_attn_scores"]
    np.testing.assert_allclose(ev, per_head)
    assert m.statistics["value"] == pytest.approx(per_head.max())  # across: max
    assert m.statistics["nonfinite"] == int(np.isinf(scores).sum())  # masked -inf counted


def test_stat_alias_and_select(run: Run) -> None:
    m = measure(Stat(), run, tensor="resid1", stat="mean", select={"pos": -1, "batch": 0}, steps=[10, 10])
    x = ckpt(10)["blocks.1.hook_resid_post"][0, -1]
    assert m.statistics["value"] == pytest.approx(float(x.astype(np.float64).mean()))
    assert m.statistics["elements"] == x.size


def test_stat_params_are_checked() -> None:
    with pytest.raises(ValidationError, match="axis 'head' is both kept and selected"):
        StatParams.model_validate({"tensor": "x", "stat": "mean", "keep": ["head"], "select": {"head": 0}})
    with pytest.raises(ValidationError, match="stat frac_above needs a threshold"):
        StatParams.model_validate({"tensor": "x", "stat": "frac_above"})


def test_stat_unknown_axis_is_inconclusive(run: Run) -> None:
    with pytest.raises(CannotMeasure) as info:
        measure(Stat(), run, tensor="blocks.0.attn.hook_pattern", stat="mean", keep=["heads"])
    assert info.value.reason == (
        "step_000000.safetensors: tensor 'blocks.0.attn.hook_pattern' has axes "
        "['batch', 'head', 'query_pos', 'key_pos'], no axis 'heads'; did you mean 'head'?"
    )


def test_stat_on_a_single_file_keeps_its_old_meaning(tmp_path: Path) -> None:
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    r = one_file_run(tmp_path, {"x": x})
    m = measure(Stat(), r, tensor="x", stat="rms")
    assert m.n == 12 and m.statistics["checkpoints"] == 1 and m.statistics["growth_exponent"] is None
    assert m.statistics["value"] == pytest.approx(float(np.sqrt((x.astype(float) ** 2).mean())))
    assert m.evidence == {"per_tensor": {"x": pytest.approx(m.statistics["value"])}}


def test_growth_exponent_of_a_power_law() -> None:
    widths = [128, 256, 512, 1024]
    assert growth_exponent(widths, [3 * w**0.5 for w in widths]) == pytest.approx(0.5)
    assert growth_exponent([5], [1.0]) is None


# --- series (for the event engine and trends) -----------------------------------------------------------
def test_activation_statistics_are_series(run: Run) -> None:
    s = load_series(run, SeriesSpec.model_validate({"tensor": "blocks.1.attn.hook_attn_scores", "stat": "max_abs"}))
    assert s.name == "blocks.1.attn.hook_attn_scores:max_abs"
    assert s.steps.tolist() == [0, 10, 20]
    for step, v in zip((0, 10, 20), s.values, strict=True):
        x = ckpt(step)["blocks.1.attn.hook_attn_scores"]
        assert v == pytest.approx(float(np.abs(x[np.isfinite(x)]).max()))
    ent = load_series(run, SeriesSpec.model_validate({"tensor": "blocks.*.attn.hook_pattern", "stat": "entropy_min",
                                                      "steps": [10, None]}))
    assert ent.steps.tolist() == [10, 20] and ent.values[1] < ent.values[0]
    lens = load_series(run, SeriesSpec.model_validate({"tensor": "blocks.*.hook_resid_post", "stat": "lens_agreement"}))
    assert ((lens.values >= 0) & (lens.values <= 1)).all()


def test_series_spec_is_backward_compatible_and_checked() -> None:
    assert SeriesSpec.model_validate({"column": "loss"}).label == "loss"
    spec = SeriesSpec.model_validate({"tensor": "x", "stat": "rms"})
    assert (spec.source_artifact, spec.label) == ("activations", "x:rms")
    for bad, message in [
        ({}, "a series needs `column` (a metrics column) or `tensor` and `stat` (activations)"),
        ({"column": "loss", "tensor": "x", "stat": "rms"}, "give `column` (a metrics series) or `tensor`"),
        ({"tensor": "x"}, "an activation series needs `stat`"),
        ({"column": "loss", "stat": "rms"}, "stat is only used with `tensor`"),
    ]:
        with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
            SeriesSpec.model_validate(bad)


def test_a_series_needs_checkpoints(tmp_path: Path) -> None:
    r = one_file_run(tmp_path, {"x": np.ones(3, dtype=np.float32)})
    with pytest.raises(CannotMeasure, match="is one file without a step"):
        load_series(r, SeriesSpec.model_validate({"tensor": "x", "stat": "rms"}))


# --- activation.attention ------------------------------------------------------------------------------
def entropy(p: np.ndarray) -> np.ndarray:
    p = p.astype(np.float64)
    return -np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0).sum(-1)


def test_attention_from_patterns(run: Run) -> None:
    m = measure(Attention(), run, entropy_below=1.2, steps=[20, 20])
    t = ckpt(20)
    heads = np.concatenate([entropy(t[f"blocks.{i}.attn.hook_pattern"]).mean(axis=(0, 2)) for i in (0, 1)])
    assert m.statistics["entropy_mean"] == pytest.approx(heads.mean())
    assert m.statistics["entropy_min"] == pytest.approx(heads.min())
    assert m.statistics["frac_low_entropy"] == pytest.approx((heads < 1.2).mean())
    assert m.statistics["max_weight"] == pytest.approx(max(t[f"blocks.{i}.attn.hook_pattern"].max() for i in (0, 1)))
    assert m.statistics["max_logit"] is None and m.statistics["heads"] == 4


def test_attention_from_scores_matches_patterns(run: Run) -> None:
    pat = measure(Attention(), run, tensor="blocks.1.attn.hook_pattern")
    sc = measure(Attention(), run, tensor="blocks.1.attn.hook_attn_scores")
    assert sc.statistics["entropy_mean"] == pytest.approx(pat.statistics["entropy_mean"], rel=1e-5)
    scores = ckpt(20)["blocks.1.attn.hook_attn_scores"]
    assert sc.statistics["max_logit"] == pytest.approx(float(scores[np.isfinite(scores)].max()))
    assert sc.statistics["nonfinite"] == 0  # masked -inf scores are not non-finite rows


def test_attention_known_cases(tmp_path: Path) -> None:
    k = 4
    uniform = np.full((1, 2, 3, k), 1 / k, dtype=np.float32)
    uniform[0, 1] = np.eye(k, dtype=np.float32)[:3]  # head 1: one-hot rows
    uniform[0, 0, 2, :] = np.nan
    r = one_file_run(tmp_path, {"p": uniform}, {"p": ["batch", "head", "q", "k"]})
    m = measure(Attention(), r, tensor="p", entropy_below=0.5)
    assert m.statistics["entropy_min"] == pytest.approx(0.0)
    assert m.statistics["entropy_mean"] == pytest.approx(np.log(k) / 2)
    assert m.statistics["frac_low_entropy"] == 0.5 and m.statistics["nonfinite"] == 1
    assert m.n == 2


def test_attention_refuses_scores_taken_for_patterns(tmp_path: Path) -> None:
    r = one_file_run(tmp_path, {"blocks.0.attn.hook_q": np.ones((2, 3, 3), dtype=np.float32)})
    with pytest.raises(CannotMeasure) as info:
        measure(Attention(), r, tensor="blocks.0.attn.hook_q")
    assert info.value.reason == (
        "a.safetensors: tensor 'blocks.0.attn.hook_q': rows do not sum to 1 (largest deviation 2); "
        "if it holds pre-softmax scores, set `kind: scores`"
    )


def test_attention_wrong_rank(tmp_path: Path) -> None:
    r = one_file_run(tmp_path, {"p": np.ones((3, 3), dtype=np.float32) / 3})
    with pytest.raises(CannotMeasure) as info:
        measure(Attention(), r, tensor="p")
    assert info.value.reason == (
        "a.safetensors: tensor 'p' has shape [3, 3]: attention needs at least [head, query, key] (3 axes)"
    )


# --- activation.lens -----------------------------------------------------------------------------------
def lens_reference(t: dict[str, np.ndarray], eps: float = 1e-5) -> dict[str, np.ndarray]:
    w, b = t["ln_final.w"].astype(np.float64), t["ln_final.b"].astype(np.float64)
    wu, bu = t["unembed.W_U"].astype(np.float64), t["unembed.b_U"].astype(np.float64)
    tgt = t["probe.targets"].reshape(-1)
    out = {}
    for i in (0, 1):
        x = t[f"blocks.{i}.hook_resid_post"].reshape(-1, wu.shape[0]).astype(np.float64)
        mu, var = x.mean(1, keepdims=True), x.var(1, keepdims=True)
        logits = ((x - mu) / np.sqrt(var + eps) * w + b) @ wu + bu
        lse = np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
        out[f"top{i}"] = logits.argmax(1)
        out[f"ce{i}"] = lse - logits[np.arange(len(tgt)), tgt]
    out["tgt"] = tgt
    return out


def test_lens_matches_a_direct_computation(run: Run) -> None:
    m = measure(Lens(), run, steps=[10, 10])
    ref = lens_reference(ckpt(10))
    last = m.evidence["last_checkpoint"]
    assert last["norm"] == "layernorm" and last["eps"] == 1e-5
    assert m.statistics["agreement"] == pytest.approx((ref["top0"] == ref["top1"]).mean())
    assert m.statistics["cross_entropy"] == pytest.approx(ref["ce0"].mean(), rel=1e-5)
    assert m.statistics["accuracy"] == pytest.approx((ref["top0"] == ref["tgt"]).mean())
    assert m.statistics["final_cross_entropy"] == pytest.approx(ref["ce1"].mean(), rel=1e-5)
    assert m.statistics["layer"] == "blocks.0.hook_resid_post"
    assert last["per_layer"]["blocks.1.hook_resid_post"]["agreement"] == 1.0
    assert m.n == 1  # a folder: checkpoints


def test_lens_from_stored_logits(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    logits = {f"blocks.{i}.logits": rng.standard_normal((2, 5, 7)).astype(np.float32) for i in range(3)}
    targets = rng.integers(0, 7, (2, 5)).astype(np.int64)
    r = one_file_run(tmp_path, {**logits, "probe.targets": targets})
    m = measure(Lens(), r, logits="blocks.*.logits", layer=0)
    tops = [v.reshape(-1, 7).argmax(1) for v in logits.values()]
    assert m.statistics["agreement"] == pytest.approx((tops[0] == tops[2]).mean())
    assert m.n == 10 and m.evidence["norm"] == "logits given"


def test_lens_shape_mismatch(tmp_path: Path) -> None:
    t = ckpt(0)
    t["unembed.W_U"] = np.ones((12, 11), dtype=np.float32)
    r = one_file_run(tmp_path, t)
    with pytest.raises(CannotMeasure) as info:
        measure(Lens(), r)
    assert info.value.reason == (
        "shape mismatch: residual 'blocks.0.hook_resid_post' has d_model = 16 (its last axis), but the "
        "unembedding 'unembed.W_U' is [12, 11] (expected [16, d_vocab])"
    )


def test_lens_nonfinite_positions_are_counted(tmp_path: Path) -> None:
    t = ckpt(0)
    t["blocks.0.hook_resid_post"][0, 3, 5] = np.nan
    m = measure(Lens(), one_file_run(tmp_path, t))
    assert m.statistics["nonfinite"] == 1 and m.n == 15


# --- activation.drift ----------------------------------------------------------------------------------
def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    x, y = x - x.mean(0), y - y.mean(0)
    return float(np.linalg.norm(y.T @ x) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)))


def test_drift_between_first_and_last(run: Run) -> None:
    m = measure(Drift(), run, tensor="resid1")
    a = ckpt(0)["blocks.1.hook_resid_post"].reshape(-1, 16).astype(np.float64)
    b = ckpt(20)["blocks.1.hook_resid_post"].reshape(-1, 16).astype(np.float64)
    cos = (a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum())
    assert m.statistics["cosine"] == pytest.approx(cos)
    assert m.statistics["cka"] == pytest.approx(linear_cka(a, b))
    assert (m.statistics["step_a"], m.statistics["step_b"], m.n) == (0, 20, 16)


def test_cka_is_invariant_to_rotation_and_scale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((40, 6))
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    (tmp_path / "ck").mkdir()
    for step, arr in ((1, x), (2, 3 * x @ q)):
        (tmp_path / "ck" / f"step_{step}.safetensors").write_bytes(safetensors_bytes({"h": ("F64", arr)}))
    (tmp_path / "run.yaml").write_text("id: t\nartifacts:\n  activations: {path: ck, kind: activations}\n")
    r = load_run(tmp_path / "run.yaml")
    m = measure(Drift(), r, tensor="h")
    assert m.statistics["cka"] == pytest.approx(1.0) and m.statistics["cosine"] < 0.9
    import evaluators.activation.drift as drift

    monkeypatch.setattr(drift, "FEATURE_GRAM_MAX", 2)  # force the sample-space computation
    assert measure(Drift(), r, tensor="h").statistics["cka"] == pytest.approx(1.0)


def test_drift_consecutive_and_needs_two_checkpoints(run: Run, tmp_path: Path) -> None:
    m = measure(Drift(), run, tensor="resid1", consecutive=True)
    assert m.n == 2 and m.evidence["steps"] == [10, 20]
    assert m.statistics["cosine"] == min(m.evidence["cosine"])
    single = one_file_run(tmp_path, {"h": np.ones((3, 2), dtype=np.float32)})
    with pytest.raises(CannotMeasure) as info:
        measure(Drift(), single, tensor="h")
    assert info.value.reason == (
        "drift needs two checkpoints; a.safetensors gives a.safetensors for both ends of ['first', 'last']"
    )


# --- activation.probe ----------------------------------------------------------------------------------
def probe_run(tmp_path: Path, signal: float) -> Run:
    rng = np.random.default_rng(11)
    labels = rng.integers(0, 3, (4, 50)).astype(np.int64)
    feats = rng.standard_normal((4, 50, 8))
    feats[..., 0] += signal * labels
    return one_file_run(tmp_path, {"h": feats.astype(np.float32), "probe.targets": labels})


def test_probe_reads_a_planted_signal(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    m = measure(Probe(), probe_run(tmp_path, 4.0), tensor="h", permutations=19)
    assert m.statistics["accuracy"] > 0.9 > m.statistics["chance"]
    assert m.statistics["p_value"] == pytest.approx(1 / 20)
    assert m.n == 50 and m.statistics["classes"] == 3
    again = measure(Probe(), probe_run(tmp_path, 4.0), tensor="h", permutations=19)
    assert again.statistics == m.statistics  # seeded


def test_probe_without_signal_is_not_significant(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    m = measure(Probe(), probe_run(tmp_path, 0.0), tensor="h", permutations=19)
    assert m.statistics["p_value"] > 0.1


def test_probe_label_shape_mismatch(tmp_path: Path) -> None:
    r = one_file_run(tmp_path, {"h": np.ones((4, 8), dtype=np.float32), "probe.targets": np.ones(5, dtype=np.int64)})
    with pytest.raises(CannotMeasure) as info:
        measure(Probe(), r, tensor="h")
    assert info.value.reason == "shape mismatch: labels 'probe.targets' are [5], the samples of 'h' are [4]"


def test_probe_without_scikit_learn_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.linear_model", None)
    with pytest.raises(ProbeUnavailable) as info:
        measure(Probe(), probe_run(tmp_path, 1.0), tensor="h")
    assert str(info.value) == (
        "activation.probe needs scikit-learn, which is not installed: pip install 'claims-registry[probe]'"
    )


def test_fixture_run_is_current(tmp_path: Path) -> None:
    """The committed fixture is what make_fixtures.py writes."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("mk", FIXTURES / "activations" / "make_fixtures.py")
    assert spec is not None and spec.loader is not None
    mk = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mk)
    mk.HERE = tmp_path
    mk.main()
    for f in sorted((TINY / "checkpoints").iterdir()):
        assert (tmp_path / "tiny-gpt" / "checkpoints" / f.name).read_bytes() == f.read_bytes()
    shutil.rmtree(tmp_path / "tiny-gpt")


def test_series_based_evaluators_consume_activation_series(run: Run) -> None:
    """metric.trend (owned by the loss level) reads an activation statistic per checkpoint as a series."""
    from registry import EvaluatorRegistry

    trend = EvaluatorRegistry().get("metric.trend")
    m = measure(trend, run, tensor="blocks.*.hook_resid_post", stat="rms", alternative="increasing")
    assert m.statistics["tau"] == pytest.approx(1.0) and m.n == 3
