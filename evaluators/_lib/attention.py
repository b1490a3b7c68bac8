"""activation.attention — per-head attention entropy and weights from attention patterns, and the
largest pre-softmax attention logit from attention scores.

Definitions (natural logarithms throughout):
- A row is one query's distribution over keys: the last axis of a `[..., head, query, key]` tensor.
- Entropy of a row: H = -Σ p log p over the weights p > 0 (masked keys have weight 0). From scores,
  the row's softmax is taken first; masked scores are -inf. A head's entropy is the mean of H over
  all its rows (every batch element and query position). Causally masked early queries have few keys
  and low entropy by construction; they are included, as in the usual per-head averages.
- `entropy_mean` / `entropy_min`: mean / minimum of the heads' entropies (over every matching tensor,
  e.g. every layer); `frac_low_entropy`: fraction of heads whose entropy is below `entropy_below`.
- `max_weight`: the largest attention weight anywhere.
- `max_logit` (scores only): the largest finite pre-softmax score anywhere.
- Rows holding NaN or +inf are left out and counted in `nonfinite` (rows); rows that are entirely
  masked (-inf) are left out silently. A "pattern" whose rows do not sum to 1 (within 0.02, enough
  for bf16) is refused: it is probably scores.
"""

from __future__ import annotations

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


def measure_attention(
    store: TensorStore, tensor: str, kind: str = "auto", head_axis: str = "head", entropy_below: float | None = None
) -> CheckpointResult:
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
        head = _head_position(t, head_axis)
        scores = kind == "scores" or (kind == "auto" and "score" in name.lower())
        any_scores |= scores
        n_heads = t.shape[head]
        h_sum = np.zeros(n_heads)
        h_rows = np.zeros(n_heads)
        h_wmax = np.full(n_heads, -np.inf)
        h_lmax = np.full(n_heads, -np.inf)
        reduce_axes = tuple(k for k in range(t.ndim - 1) if k != head)
        tensor_sum = 0.0
        for full, arr in t.slabs(BLOCK, whole_trailing=1):
            ent, wmax, lmax, usable, bad, err = _rows(arr, scores)
            # Row arrays have the tensor's leading axes; the head axis keeps its position.
            sl = full[head]
            nonfinite += int(bad.sum())
            h_sum[sl] += np.where(usable, ent, 0.0).sum(axis=reduce_axes)
            h_rows[sl] += usable.sum(axis=reduce_axes)
            h_wmax[sl] = np.maximum(h_wmax[sl], np.where(usable, wmax, -np.inf).max(axis=reduce_axes))
            h_lmax[sl] = np.maximum(h_lmax[sl], np.where(usable, lmax, -np.inf).max(axis=reduce_axes))
            tensor_sum = max(tensor_sum, float(err.max(initial=0.0)))
        worst_sum = max(worst_sum, tensor_sum)
        if not scores and tensor_sum > ROW_SUM_TOLERANCE:
            raise CannotMeasure(
                f"{t.describe()}: rows do not sum to 1 (largest deviation {tensor_sum:.3g}); "
                "if it holds pre-softmax scores, set `kind: scores`"
            )
        with np.errstate(all="ignore"):
            h_ent = np.where(h_rows > 0, h_sum / np.where(h_rows > 0, h_rows, 1), np.nan)
        rows_used += int(h_rows.sum())
        ok = h_rows > 0
        entropies.extend(h_ent[ok].tolist())
        weights.extend(h_wmax[ok].tolist())
        if scores:
            logits.extend(v for v in h_lmax[ok].tolist() if np.isfinite(v))
        per_tensor[name] = {
            "entropy": [None if not np.isfinite(v) else v for v in h_ent.tolist()],
            "max_weight": [None if not np.isfinite(v) else v for v in h_wmax.tolist()],
            **({"max_logit": [None if not np.isfinite(v) else v for v in h_lmax.tolist()]} if scores else {}),
        }
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
