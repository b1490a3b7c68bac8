"""An element statistic (`moments.ElementStat`) over the tensors matching a name or glob in one
checkpoint: what `activation.stat` reports, and an activation series with an element `stat:`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .checkpoints import CheckpointResult, axis_positions, fixed_indices, tensors_matching
from .moments import Moments, moments_of, needs_for
from .reduce import reduce_defined

if TYPE_CHECKING:
    from registry import TensorStore


def measure_stat(
    store: TensorStore,
    tensor: str,
    stat: str,
    threshold: float | None = None,
    keep: Sequence[str] = (),
    across: str = "max",
    select: Mapping[str, int] | None = None,
) -> CheckpointResult:
    """One element statistic over the tensors matching `tensor` in one checkpoint."""
    names = tensors_matching(store, tensor)
    needs = needs_for([stat])
    elements = nonfinite = 0
    per_tensor: dict[str, Any] = {}
    pooled: list[float] = []
    total: Moments | None = None
    for name in names:
        t = store.tensor(name)
        kept = axis_positions(t, keep, "keep")
        fixed = fixed_indices(t, select or {})
        m = moments_of(t, threshold, needs=needs, keep=kept, fixed=fixed)
        elements += m.total_count
        nonfinite += m.total_nonfinite
        if keep:
            values = m.values(stat)
            flat = [None if not math.isfinite(v) else v for v in values.reshape(-1).tolist()]
            per_tensor[name] = _nest(flat, values.shape) if values.ndim > 1 else flat
            pooled.extend(v for v in values.reshape(-1).tolist() if math.isfinite(v))
        else:
            per_tensor[name] = m.stat(stat)
            total = m if total is None else total + m
    value = reduce_defined(pooled, across) if keep else total.stat(stat) if total is not None else None
    stats = {"value": value, "nonfinite": nonfinite, "tensors": len(names), "elements": elements}
    evidence: dict[str, Any] = {"per_tensor": per_tensor}
    if keep:
        evidence["kept_axes"] = list(keep)
    return CheckpointResult(stats=stats, n=elements, evidence=evidence)


def _nest(flat: list[Any], shape: tuple[int, ...]) -> list[Any]:
    if len(shape) == 1:
        return flat
    step = len(flat) // shape[0]
    return [_nest(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]
