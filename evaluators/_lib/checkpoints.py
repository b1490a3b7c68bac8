"""Checkpoints of an activation artifact and what the activation evaluators share about them: picking
checkpoints and tensors, named axes, reading rows, and summarising per-checkpoint values as a series
over steps.

An activation artifact is one file (one checkpoint) or a folder of checkpoints named by step. Every
activation evaluator measures each checkpoint it is given; over a folder the per-checkpoint values
form a series over steps, summarised into statistics (and offered to the series-based evaluators
through `evaluators._lib.series.load_series`, with `tensor:` and `stat:` where a metric has `column:`).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from registry import CannotMeasure, Measurement, Stat

from .reduce import reduce

if TYPE_CHECKING:
    import numpy as np

    from registry import ActivationArtifact, Checkpoint, Tensor, TensorStore

# Statistics every series-capable activation evaluator adds to its own.
SERIES_STATISTICS: tuple[Stat, ...] = (
    Stat("checkpoints", "Checkpoints with a defined value of the main statistic.", range=(0, math.inf), type=int),
    Stat("first", "The main statistic at the first such checkpoint."),
    Stat("last", "The main statistic at the last such checkpoint."),
    Stat("min", "The smallest per-checkpoint value of the main statistic."),
    Stat("max", "The largest per-checkpoint value of the main statistic."),
    Stat("ratio", "last / first (null when first is 0)."),
    Stat("growth_exponent", "Least-squares slope of log(value) on log(step): the a of value ∝ step^a."),
)


# -- shared helpers ---------------------------------------------------------------------------------
def checkpoints_in(art: ActivationArtifact, window: tuple[int | None, int | None] | None) -> list[Checkpoint]:
    """The artifact's checkpoints inside a step window; CannotMeasure when there are none."""
    chosen = art.within(window)
    if not chosen:
        steps = art.steps
        have = ", ".join(str(s) for s in steps[:10]) + (", ..." if len(steps) > 10 else "") if steps else "none"
        raise CannotMeasure(f"{art.path.name} has no checkpoint with steps in {list(window or ())} (steps: {have})")
    return chosen


def tensors_matching(store: TensorStore, pattern: str) -> list[str]:
    """Names matching a name, alias or glob; CannotMeasure with a did-you-mean when none does."""
    names = store.match(pattern)
    if not names:
        store.resolve(pattern)  # raises CannotMeasure with a did-you-mean
        raise CannotMeasure(f"{store.path.name}: no tensor matches {pattern!r}")
    return names


def axis_positions(t: Tensor, names: Sequence[str], purpose: str) -> list[int]:
    """Positions of named axes of a tensor, or a reason why they cannot be found."""
    if not names:
        return []
    if t.axes is None:
        raise CannotMeasure(
            f"{t.describe()} has no axis names, so it cannot {purpose} {list(names)} "
            "(declare them under `axes:` for this artifact in run.yaml)"
        )
    out = []
    for n in names:
        if n not in t.axes:
            close = difflib.get_close_matches(n, t.axes, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise CannotMeasure(f"{t.describe()} has axes {t.axes}, no axis {n!r}{hint}")
        out.append(t.axes.index(n))
    return out


def fixed_indices(t: Tensor, select: Mapping[str, int]) -> dict[int, int]:
    """`select` (axis name -> index, negative from the end) as axis position -> index."""
    out: dict[int, int] = {}
    for (name, index), pos in zip(select.items(), axis_positions(t, list(select), "select on"), strict=True):
        size = t.shape[pos]
        i = index + size if index < 0 else index
        if not 0 <= i < size:
            raise CannotMeasure(f"{t.describe()}: index {index} is outside axis {name!r} of length {size}")
        out[pos] = i
    return out


def growth_exponent(steps: Sequence[int], values: Sequence[float]) -> float | None:
    """Least-squares slope of log(value) against log(step) over points with step > 0 and value > 0:
    the exponent `a` of value ∝ step^a. None with fewer than two distinct steps."""
    import numpy as np

    pts = [(s, v) for s, v in zip(steps, values, strict=True) if s > 0 and v is not None and v > 0]
    if len({s for s, _ in pts}) < 2:
        return None
    x = np.log([s for s, _ in pts])
    y = np.log([v for _, v in pts])
    x = x - x.mean()
    return float((x * (y - y.mean())).sum() / (x * x).sum())


def summarise_series(steps: Sequence[int | None], values: Sequence[float | None], how: str) -> dict[str, Any]:
    """`value` (the `reduce` of the defined values) and the series statistics."""
    import numpy as np

    pts = [(s, v) for s, v in zip(steps, values, strict=True) if v is not None and math.isfinite(v)]
    out: dict[str, Any] = {"checkpoints": len(pts)}
    if not pts:
        return {
            **out,
            "value": None,
            "first": None,
            "last": None,
            "min": None,
            "max": None,
            "ratio": None,
            "growth_exponent": None,
        }
    vals = [v for _, v in pts]
    out["value"] = reduce(np.asarray(vals), how)
    out["first"], out["last"] = vals[0], vals[-1]
    out["min"], out["max"] = min(vals), max(vals)
    out["ratio"] = vals[-1] / vals[0] if vals[0] != 0 else None
    with_steps = [(s, v) for s, v in pts if s is not None]
    out["growth_exponent"] = growth_exponent([s for s, _ in with_steps], [v for _, v in with_steps])
    return out


@dataclass
class CheckpointResult:
    """What an evaluator measured on one checkpoint."""

    stats: dict[str, Any]
    n: int
    evidence: dict[str, Any] = field(default_factory=dict)


def measure_checkpoints(
    art: ActivationArtifact,
    window: tuple[int | None, int | None] | None,
    measure: Callable[[TensorStore], CheckpointResult],
    main: Sequence[str],
    how: str,
    totals: Sequence[str] = (),
) -> Measurement:
    """Measure every checkpoint in the window.

    A single file: its statistics as measured, `n` as the measurement says, series statistics of a
    one-point series. A folder: each statistic in `main` reduced over checkpoints by `how`, those in
    `totals` summed, others as at the last checkpoint; series statistics of the first of `main`; and
    `n` = checkpoints measured.
    """
    chosen = checkpoints_in(art, window)
    results = [(c, measure(art.store(c))) for c in chosen]
    steps = [c.step for c, _ in results]
    if not art.is_folder:
        ((_, r),) = results
        series = summarise_series(steps, [r.stats.get(main[0])], how)
        series.pop("value")
        return Measurement(statistics={**series, **r.stats}, n=r.n, evidence=r.evidence)
    stats: dict[str, Any] = dict(results[-1][1].stats)  # e.g. counts of the last checkpoint
    for key in main:
        s = summarise_series(steps, [r.stats.get(key) for _, r in results], how)
        if key == main[0]:
            stats.update({k: v for k, v in s.items() if k != "value"})
        stats[key] = s["value"]
    for key in totals:
        stats[key] = sum(int(r.stats.get(key) or 0) for _, r in results)
    evidence: dict[str, Any] = {"steps": steps}
    for key in main:
        evidence[key] = [r.stats.get(key) for _, r in results]
    evidence["last_checkpoint"] = results[-1][1].evidence
    return Measurement(statistics=stats, n=int(stats["checkpoints"]), evidence=evidence)


def read_rows(t: Tensor, r0: int, r1: int, width: int, dtype: Any) -> np.ndarray:
    """Rows r0..r1 of a tensor seen as [rows, width], as `dtype` (the one row reader)."""
    import numpy as np

    block = np.array(t.read(r0 * width, (r1 - r0) * width), dtype=dtype)
    t.release(r0 * width, (r1 - r0) * width)
    return block.reshape(r1 - r0, width)


def trailing_width(t: Tensor, features: Sequence[str], purpose: str) -> int:
    """How many trailing axes are features: the named ones (which must trail), else the last."""
    if not features:
        return 1
    pos = axis_positions(t, features, purpose)
    if sorted(pos) != list(range(t.ndim - len(pos), t.ndim)):
        raise CannotMeasure(f"features {list(features)} must be the trailing axes of {t.describe()} (axes {t.axes})")
    return len(pos)
