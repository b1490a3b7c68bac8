"""The logit lens per checkpoint, for `activation.lens` and for lens statistics used as a series; the
definitions are in `evaluators/activation/lens.py`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from registry import CannotMeasure, Params

from .checkpoints import CheckpointResult, read_rows, tensors_matching

if TYPE_CHECKING:
    import numpy as np

    from registry import Tensor, TensorStore

# Logit elements computed at a time (positions per chunk = BLOCK // vocab).
BLOCK = 1 << 21
# activation.lens's main statistics; a series names the per-layer ones `lens_<name>`: named here only.
LENS_STATS = ("agreement", "cross_entropy", "accuracy", "final_cross_entropy", "final_accuracy")
LensStat = Literal["lens_agreement", "lens_cross_entropy", "lens_accuracy"]


class LensSpec(Params):
    """What the lens reads (activation.lens's params without artifact, steps and reduce)."""

    resid: str = Field("blocks.*.hook_resid_post", description="Per-layer residual streams [..., d_model]: a glob.")
    logits: str | None = Field(None, description="Instead of `resid`: per-layer logits [..., d_vocab], a glob.")
    unembed: str = Field("unembed.W_U", description="Unembedding [d_model, d_vocab].")
    unembed_bias: str = Field("unembed.b_U", description="Unembedding bias [d_vocab], used when present.")
    norm: Literal["auto", "layernorm", "rmsnorm", "none"] = Field(
        "auto", description="Final norm: auto = LayerNorm when `norm_weight` is in the artifact, else none."
    )
    norm_weight: str = Field("ln_final.w", description="Final norm weight [d_model].")
    norm_bias: str = Field("ln_final.b", description="Final norm bias [d_model], used when present.")
    eps: float = Field(1e-5, gt=0, description="Norm epsilon (PyTorch's LayerNorm default).")
    targets: str | None = Field("probe.targets", description="Target token ids [...] (positions); null: no targets.")
    final: str | None = Field(None, description="Tensor of the model's output logits; default: the last layer's lens.")
    layer: int = Field(-2, description="Index of the reported layer in the ordered list (negative from the end).")


def _present(store: TensorStore, name: str | None) -> bool:
    if name is None:
        return False
    try:
        store.resolve(name)
    except CannotMeasure:
        return False
    return True


def _load_vector(store: TensorStore, name: str, size: int, what: str) -> np.ndarray:
    import numpy as np

    t = store.tensor(name)
    if t.shape != (size,):
        raise CannotMeasure(f"{t.describe()} has shape {list(t.shape)}; as the {what} it must be [{size}]")
    return np.asarray(t.load(), dtype=np.float32)


class _Head:
    """norm + unembedding, applied to rows of a residual stream."""

    def __init__(self, store: TensorStore, p: LensSpec, d_model: int, resid_name: str):
        import numpy as np

        u = store.tensor(p.unembed)
        if u.ndim != 2:
            raise CannotMeasure(f"{u.describe()} has shape {list(u.shape)}; the unembedding must be [d_model, d_vocab]")
        w = np.asarray(u.load(), dtype=np.float32)
        if u.axes is not None and "vocab" in u.axes[0] and "vocab" not in u.axes[1]:
            w = w.T  # declared [d_vocab, d_model]
        if w.shape[0] != d_model:
            raise CannotMeasure(
                f"shape mismatch: residual {resid_name!r} has d_model = {d_model} (its last axis), but the "
                f"unembedding {p.unembed!r} is {list(u.shape)} (expected [{d_model}, d_vocab])"
            )
        self.w = np.ascontiguousarray(w)
        self.vocab = int(w.shape[1])
        self.b = _load_vector(store, p.unembed_bias, self.vocab, "unembedding bias") if _present(store, p.unembed_bias) else None
        kind = p.norm
        if kind == "auto":
            kind = "layernorm" if _present(store, p.norm_weight) else "none"
        self.kind = kind
        self.eps = p.eps
        self.nw = self.nb = None
        if kind != "none":
            if not _present(store, p.norm_weight):
                raise CannotMeasure(f"{store.path.name} has no norm weight {p.norm_weight!r} for norm: {kind}")
            self.nw = _load_vector(store, p.norm_weight, d_model, "norm weight")
            if _present(store, p.norm_bias):
                self.nb = _load_vector(store, p.norm_bias, d_model, "norm bias")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        import numpy as np

        if self.kind == "layernorm":
            mu = x.mean(axis=1, keepdims=True)
            var = ((x - mu) ** 2).mean(axis=1, keepdims=True)
            x = (x - mu) / np.sqrt(var + self.eps)
        elif self.kind == "rmsnorm":
            x = x / np.sqrt((x * x).mean(axis=1, keepdims=True) + self.eps)
        if self.nw is not None:
            x = x * self.nw
        if self.nb is not None:
            x = x + self.nb
        out = x @ self.w
        if self.b is not None:
            out += self.b
        return out


def _scores(logits: np.ndarray, targets: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """top-1, finite-row flag, and per-row cross-entropy (NaN where the target is ignored)."""
    import numpy as np

    with np.errstate(all="ignore"):
        finite = np.isfinite(logits).all(axis=1)
        safe = np.where(finite[:, None], logits, 0.0).astype(np.float64)
        top = safe.argmax(axis=1)
        ce = None
        if targets is not None:
            m = safe.max(axis=1, keepdims=True)
            lse = np.log(np.exp(safe - m).sum(axis=1)) + m[:, 0]
            valid = (targets >= 0) & (targets < logits.shape[1])
            picked = safe[np.arange(len(safe)), np.where(valid, targets, 0)]
            ce = np.where(valid, lse - picked, np.nan)
    return top, finite, ce


@dataclass
class _Layers:
    """The layers read, their common shape, the head (None: logits given) and the reference output."""

    names: list[str]
    tensors: list[Tensor]
    shape: tuple[int, ...]
    head: _Head | None
    vocab: int
    final: Tensor | None

    @property
    def width(self) -> int:
        return self.shape[-1]

    @property
    def rows(self) -> int:
        import numpy as np

        return int(np.prod(self.shape[:-1], dtype=np.int64))

    def logits(self, t: Tensor, r0: int, r1: int) -> np.ndarray:
        import numpy as np

        x = read_rows(t, r0, r1, self.width, np.float32)
        return x if self.head is None else self.head(x)


def _layers(store: TensorStore, p: LensSpec) -> _Layers:
    layers = tensors_matching(store, p.logits if p.logits is not None else p.resid)
    ts = [store.tensor(n) for n in layers]
    shape = ts[0].shape
    for t in ts[1:]:
        if t.shape != shape:
            raise CannotMeasure(f"layers differ in shape: {layers[0]!r} is {list(shape)}, {t.name!r} is {list(t.shape)}")
    if len(shape) < 1:
        raise CannotMeasure(f"{ts[0].describe()} is a scalar; the lens needs [..., d_model]")
    head = None if p.logits is not None else _Head(store, p, shape[-1], layers[0])
    vocab = shape[-1] if head is None else head.vocab
    final_t = None
    if p.final is not None:
        final_t = store.tensor(p.final)
        if final_t.shape != shape[:-1] + (vocab,):
            raise CannotMeasure(f"{final_t.describe()} has shape {list(final_t.shape)}; expected {list(shape[:-1]) + [vocab]}")
    return _Layers(layers, ts, tuple(shape), head, vocab, final_t)


def _targets(store: TensorStore, p: LensSpec, ly: _Layers) -> tuple[np.ndarray | None, int]:
    """Target ids per position (None without targets) and how many lie outside [0, vocab)."""
    import numpy as np

    if p.targets is None or not (_present(store, p.targets) or "targets" in p.model_fields_set):
        return None, 0
    tt = store.tensor(p.targets)
    if tt.size != ly.rows or tt.shape != ly.shape[:-1]:
        raise CannotMeasure(
            f"shape mismatch: targets {p.targets!r} are {list(tt.shape)}, the layers' positions are {list(ly.shape[:-1])}"
        )
    raw = tt.load().reshape(-1)
    if raw.dtype.kind == "f" and not np.all(np.isfinite(raw) & (raw == np.round(raw))):
        raise CannotMeasure(f"{tt.describe()} holds non-integer values; targets are token ids")
    targets = raw.astype(np.int64)
    return targets, int(((targets < 0) | (targets >= ly.vocab)).sum())


class _Tally:
    """Per-layer counts accumulated over chunks of positions, and the output's own."""

    def __init__(self, n_layers: int) -> None:
        import numpy as np

        self.agree = np.zeros(n_layers)
        self.correct = np.zeros(n_layers)
        self.ce_sum = np.zeros(n_layers)
        self.counted = np.zeros(n_layers)
        self.ce_counted = np.zeros(n_layers)
        self.nonfinite = np.zeros(n_layers, dtype=np.int64)
        self.final_ce_sum = self.final_correct = self.final_ce_counted = 0.0

    def add_final(self, f_top: np.ndarray, f_ok: np.ndarray, f_ce: np.ndarray | None, tgt: np.ndarray | None) -> None:
        import numpy as np

        if tgt is not None and f_ce is not None:
            valid = f_ok & ~np.isnan(f_ce)
            self.final_correct += float((f_top == tgt)[valid].sum())
            self.final_ce_sum += float(f_ce[valid].sum())
            self.final_ce_counted += float(valid.sum())

    def add_layer(self, i: int, lg: np.ndarray, f_top: np.ndarray, f_ok: np.ndarray, tgt: np.ndarray | None) -> None:
        import numpy as np

        top, ok, ce = _scores(lg, tgt)
        self.nonfinite[i] += int((~ok).sum())
        both = ok & f_ok
        self.agree[i] += float((top == f_top)[both].sum())
        self.counted[i] += float(both.sum())
        if tgt is not None and ce is not None:
            valid = ok & ~np.isnan(ce)
            self.correct[i] += float((top == tgt)[valid].sum())
            self.ce_sum[i] += float(ce[valid].sum())
            self.ce_counted[i] += float(valid.sum())

    def per_layer(self) -> dict[str, np.ndarray]:
        import numpy as np

        with np.errstate(all="ignore"):
            return {
                "agreement": np.where(self.counted > 0, self.agree / np.maximum(self.counted, 1), np.nan),
                "accuracy": np.where(self.ce_counted > 0, self.correct / np.maximum(self.ce_counted, 1), np.nan),
                "cross_entropy": np.where(self.ce_counted > 0, self.ce_sum / np.maximum(self.ce_counted, 1), np.nan),
            }


def _tally(ly: _Layers, targets: np.ndarray | None) -> _Tally:
    """Every layer's top-1 against the output's and the targets, chunk by chunk of positions."""
    import numpy as np

    n_layers = len(ly.names)
    tally = _Tally(n_layers)
    chunk = max(1, BLOCK // max(ly.vocab, ly.width))
    for r0 in range(0, ly.rows, chunk):
        r1 = min(ly.rows, r0 + chunk)
        tgt = targets[r0:r1] if targets is not None else None
        if ly.final is not None:
            final_logits = read_rows(ly.final, r0, r1, ly.vocab, np.float32)
        else:
            final_logits = ly.logits(ly.tensors[-1], r0, r1)
        f_top, f_ok, f_ce = _scores(final_logits, tgt)
        tally.add_final(f_top, f_ok, f_ce, tgt)
        for i, t in enumerate(ly.tensors):
            lg = final_logits if (i == n_layers - 1 and ly.final is None) else ly.logits(t, r0, r1)
            tally.add_layer(i, lg, f_top, f_ok, tgt)
    return tally


def _val(x: float) -> float | None:
    import numpy as np

    return None if not np.isfinite(x) else float(x)


def measure_lens(store: TensorStore, p: LensSpec) -> CheckpointResult:
    """The lens on one checkpoint: statistics of layer `p.layer`, every layer in the evidence."""
    ly = _layers(store, p)
    targets, ignored = _targets(store, p, ly)
    tally = _tally(ly, targets)
    per = tally.per_layer()
    n_layers = len(ly.names)
    if not -n_layers <= p.layer < n_layers:
        raise CannotMeasure(f"layer {p.layer} is out of range: {n_layers} layer(s) match {p.logits or p.resid!r}")
    k = p.layer % n_layers
    has_targets = targets is not None
    fc = tally.final_ce_counted
    stats: dict[str, Any] = {
        "agreement": _val(per["agreement"][k]),
        "cross_entropy": _val(per["cross_entropy"][k]) if has_targets else None,
        "accuracy": _val(per["accuracy"][k]) if has_targets else None,
        "final_cross_entropy": _val(tally.final_ce_sum / fc) if fc else None,
        "final_accuracy": _val(tally.final_correct / fc) if fc else None,
        "layer": ly.names[k],
        "layers": n_layers,
        "positions": ly.rows,
        "nonfinite": int(tally.nonfinite[k]),
        "ignored_targets": ignored,
    }
    head = ly.head
    evidence: dict[str, Any] = {
        "per_layer": {name: {key: _val(per[key][i]) for key in PER_LAYER_ORDER} for i, name in enumerate(ly.names)},
        "norm": head.kind if head is not None else "logits given",
        "eps": p.eps if head is not None and head.kind != "none" else None,
        "reference": p.final or f"lens of {ly.names[-1]}",
    }
    if not has_targets:
        evidence["targets"] = f"no tensor {p.targets!r}: cross-entropy and accuracy undefined"
    return CheckpointResult(stats=stats, n=int(tally.counted[k]), evidence=evidence)


# The order per-layer figures are listed in a verdict's evidence.
PER_LAYER_ORDER = ("agreement", "accuracy", "cross_entropy")
