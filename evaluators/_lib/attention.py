"""Measuring attention per checkpoint, for `activation.attention` and for attention statistics used as a
series; the definitions are in `evaluators/activation/attention.py`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

from registry import CannotMeasure

from .checkpoints import CheckpointResult, tensors_matching

if TYPE_CHECKING:
    import numpy as np

    from registry import Tensor, TensorStore

ROW_SUM_TOLERANCE = 0.02
# Elements per region read (whole rows).
BLOCK = 1 << 21
# The attention statistics (activation.attention's main ones, and a series' `stat:`): named here only.
AttentionStat = Literal["entropy_mean", "entropy_min", "max_weight", "frac_low_entropy", "max_logit"]
ATTENTION_STATS: tuple[str, ...] = get_args(AttentionStat)


def _head_position(t: Tensor, head_axis: str) -> int:
    if t.ndim < 3:
        raise CannotMeasure(f"{t.describe()} has shape {list(t.shape)}: attention needs at least [head, query, key] (3 axes)")
    if t.axes is None:
        return t.ndim - 3
    if head_axis not in t.axes:
        raise CannotMeasure(f"{t.describe()} has axes {t.axes}, no head axis {head_axis!r} (set `head_axis:` to its name)")
    pos = t.axes.index(head_axis)
    if pos >= t.ndim - 2:
        raise CannotMeasure(f"{t.describe()}: the head axis {head_axis!r} cannot be one of the last two (query, key)")
    return pos


def _rows(arr: np.ndarray, scores: bool) -> tuple[Any, ...]:
    """Per row: entropy, max weight, max finite logit (scores), usable, non-finite, row-sum error."""
    import numpy as np

    x = np.asarray(arr, dtype=np.float64)
    with np.errstate(all="ignore"):
        bad = np.isnan(x).any(axis=-1) | np.isposinf(x).any(axis=-1)
        if scores:
            finite = np.isfinite(x)
            masked = ~finite.any(axis=-1)
            logit_max = np.where(finite, x, -np.inf).max(axis=-1)
            shift = np.where(np.isfinite(logit_max), logit_max, 0.0)[..., None]
            e = np.where(finite, np.exp(x - shift), 0.0)
            z = e.sum(axis=-1, keepdims=True)
            p = e / np.where(z > 0, z, 1.0)
            err = np.zeros(x.shape[:-1])
        else:
            masked = np.zeros(x.shape[:-1], dtype=bool)
            bad |= np.isneginf(x).any(axis=-1)
            p = np.where(np.isfinite(x), x, 0.0)
            logit_max = np.full(x.shape[:-1], -np.inf)
            err = np.abs(p.sum(axis=-1) - 1.0)
        plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
        entropy = -plogp.sum(axis=-1)
        weight_max = p.max(axis=-1)
    usable = ~bad & ~masked
    return entropy, weight_max, logit_max, usable, bad, np.where(usable, err, 0.0)


@dataclass
class _Heads:
    """Per-head sums over every row of one tensor."""

    entropy_sum: np.ndarray
    rows: np.ndarray
    weight_max: np.ndarray
    logit_max: np.ndarray
    nonfinite: int = 0
    row_sum_error: float = 0.0

    @property
    def entropy(self) -> np.ndarray:
        import numpy as np

        with np.errstate(all="ignore"):
            return np.where(self.rows > 0, self.entropy_sum / np.where(self.rows > 0, self.rows, 1), np.nan)


def _heads(t: Tensor, head: int, scores: bool) -> _Heads:
    """Stream a tensor's rows and accumulate per head."""
    import numpy as np

    n_heads = t.shape[head]
    h = _Heads(np.zeros(n_heads), np.zeros(n_heads), np.full(n_heads, -np.inf), np.full(n_heads, -np.inf))
    reduce_axes = tuple(k for k in range(t.ndim - 1) if k != head)
    for full, arr in t.slabs(BLOCK, whole_trailing=1):
        ent, wmax, lmax, usable, bad, err = _rows(arr, scores)
        # Row arrays have the tensor's leading axes; the head axis keeps its position.
        sl = full[head]
        h.nonfinite += int(bad.sum())
        h.entropy_sum[sl] += np.where(usable, ent, 0.0).sum(axis=reduce_axes)
        h.rows[sl] += usable.sum(axis=reduce_axes)
        h.weight_max[sl] = np.maximum(h.weight_max[sl], np.where(usable, wmax, -np.inf).max(axis=reduce_axes))
        h.logit_max[sl] = np.maximum(h.logit_max[sl], np.where(usable, lmax, -np.inf).max(axis=reduce_axes))
        h.row_sum_error = max(h.row_sum_error, float(err.max(initial=0.0)))
    return h


def _finite_or_none(values: np.ndarray) -> list[float | None]:
    import numpy as np

    return [None if not np.isfinite(v) else v for v in values.tolist()]


def measure_attention(
    store: TensorStore, tensor: str, kind: str = "auto", head_axis: str = "head", entropy_below: float | None = None
) -> CheckpointResult:
    """The attention statistics over the tensors matching `tensor` in one checkpoint."""
    import numpy as np

    entropies: list[float] = []
    weights: list[float] = []
    logits: list[float] = []
    per_tensor: dict[str, Any] = {}
    nonfinite = rows_used = 0
    worst_sum = 0.0
    any_scores = False
    for name in tensors_matching(store, tensor):
        t = store.tensor(name)
        scores = kind == "scores" or (kind == "auto" and "score" in name.lower())
        any_scores |= scores
        h = _heads(t, _head_position(t, head_axis), scores)
        nonfinite += h.nonfinite
        worst_sum = max(worst_sum, h.row_sum_error)
        if not scores and h.row_sum_error > ROW_SUM_TOLERANCE:
            raise CannotMeasure(
                f"{t.describe()}: rows do not sum to 1 (largest deviation {h.row_sum_error:.3g}); "
                "if it holds pre-softmax scores, set `kind: scores`"
            )
        h_ent = h.entropy
        rows_used += int(h.rows.sum())
        ok = h.rows > 0
        entropies.extend(h_ent[ok].tolist())
        weights.extend(h.weight_max[ok].tolist())
        if scores:
            logits.extend(v for v in h.logit_max[ok].tolist() if np.isfinite(v))
        per_tensor[name] = {"entropy": _finite_or_none(h_ent), "max_weight": _finite_or_none(h.weight_max)}
        if scores:
            per_tensor[name]["max_logit"] = _finite_or_none(h.logit_max)
    stats: dict[str, Any] = {
        "entropy_mean": float(np.mean(entropies)) if entropies else None,
        "entropy_min": float(np.min(entropies)) if entropies else None,
        "max_weight": float(np.max(weights)) if weights else None,
        "frac_low_entropy": (
            float(np.mean(np.asarray(entropies) < entropy_below)) if entropies and entropy_below is not None else None
        ),
        "max_logit": float(np.max(logits)) if logits else None,
        "heads": len(entropies),
        "rows": rows_used,
        "nonfinite": nonfinite,
    }
    evidence = {"per_tensor": per_tensor, "row_sum_error": worst_sum, "from": "scores" if any_scores else "pattern"}
    return CheckpointResult(stats=stats, n=len(entropies), evidence=evidence)
