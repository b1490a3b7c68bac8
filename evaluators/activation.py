"""activation.stat — a statistic over the elements of activation tensors, per checkpoint; and the
pieces the activation evaluators share (checkpoints, named axes, summaries of a series over steps).

An activation artifact is one file (one checkpoint) or a folder of checkpoints named by step. Every
activation evaluator measures each checkpoint it is given; over a folder the per-checkpoint values
form a series over steps, summarised into statistics (and offered to the series-based evaluators
through `evaluators.series.load_series`, with `tensor:` and `stat:` where a metric has `column:`).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from registry import CannotMeasure, Evaluator, Measurement, Params

from ._common import Reduce, StepWindow, reduce
from .moments import moments_of, needs_for

if TYPE_CHECKING:
    from registry import ActivationArtifact, Checkpoint, Run, Tensor, TensorStore

    from .series import Series, SeriesSpec

ElementStat = Literal["mean", "mean_abs", "rms", "std", "kurtosis", "max_abs", "max", "min", "frac_above"]
Across = Literal["max", "min", "mean", "median"]

# Statistics every series-capable activation evaluator adds to its own.
SERIES_STATISTICS = ("checkpoints", "first", "last", "min", "max", "ratio", "growth_exponent")


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


def across_values(values: Sequence[float], how: str) -> float | None:
    import numpy as np

    arr = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    if arr.size == 0:
        return None
    if how == "max":
        return float(arr.max())
    if how == "min":
        return float(arr.min())
    if how == "mean":
        return float(arr.mean())
    return float(np.median(arr))


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


# -- activation.stat --------------------------------------------------------------------------------
class StatParams(Params):
    artifact: str = Field("activations", description="Name of the run's activation artifact (a file or a folder of checkpoints).")
    tensor: str = Field(description="Tensor name or alias, or a glob matching several (e.g. 'blocks.*.hook_resid_post').")
    stat: ElementStat = Field(
        description="Statistic over the elements (finite ones; kurtosis is excess kurtosis, std the population std)."
    )
    threshold: float | None = Field(None, description="For frac_above: the value elements must exceed.")
    keep: list[str] = Field([], description="Named axes kept (e.g. [head]): the statistic per index of them, then `across` them.")
    across: Across = Field("max", description="With `keep`: how the per-index values become `value`.")
    select: dict[str, int] = Field({}, description="Named axis -> index (negative from the end): read only that slice.")
    steps: StepWindow = None
    reduce: Reduce = Field("last", description="Folder of checkpoints: how the per-checkpoint values become `value`.")

    @model_validator(mode="after")
    def _consistent(self) -> StatParams:
        if self.stat == "frac_above" and self.threshold is None:
            raise ValueError("stat frac_above needs a threshold")
        if self.stat != "frac_above" and self.threshold is not None:
            raise ValueError("threshold is only used with stat frac_above")
        both = sorted(set(self.keep) & set(self.select))
        if both:
            raise ValueError(f"axis {both[0]!r} is both kept and selected")
        if len(set(self.keep)) != len(self.keep):
            raise ValueError("keep names an axis twice")
        return self


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
    total = None
    for name in names:
        t = store.tensor(name)
        kept = axis_positions(t, keep, "keep")
        fixed = fixed_indices(t, select or {})
        m = moments_of(t, threshold, needs=needs, keep=kept, fixed=fixed)
        elements += m.total_count
        nonfinite += m.total_nonfinite
        if keep:
            values = m.values(stat)
            per_tensor[name] = [None if not math.isfinite(v) else v for v in values.reshape(-1).tolist()]
            if values.ndim > 1:
                per_tensor[name] = _nest(per_tensor[name], values.shape)
            pooled.extend(v for v in values.reshape(-1).tolist() if math.isfinite(v))
        else:
            per_tensor[name] = m.stat(stat)
            total = m if total is None else total + m
    value = across_values(pooled, across) if keep else total.stat(stat) if total is not None else None
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


class Stat(Evaluator):
    """A statistic over the elements of the matching tensors, per checkpoint (`value`).

    Tensors are streamed in blocks, so memory stays bounded whatever their size; only the named
    tensors are read. Non-finite elements are excluded and counted in `nonfinite`; `elements` counts
    the finite ones. With `keep`, the statistic is computed per index of the kept axes (evidence)
    and `across` them gives `value`. Over a folder of checkpoints, `value` is the `reduce` of the
    per-checkpoint values and the series statistics describe them: `first`, `last`, `min`, `max`,
    `ratio` (last / first) and `growth_exponent` (least-squares slope of log value on log step).
    `n`: finite elements for a single file; checkpoints measured for a folder.
    """

    name = "activation.stat"
    levels = frozenset({"activation"})
    version = "2"
    Params = StatParams
    statistics = ("value", "nonfinite", "tensors", "elements", *SERIES_STATISTICS)

    def evaluate(self, params: StatParams, run: Run) -> Measurement:
        art = run.tensors(params.artifact)
        return measure_checkpoints(
            art,
            params.steps,
            lambda store: measure_stat(
                store, params.tensor, params.stat, params.threshold, params.keep, params.across, params.select
            ),
            main=("value",),
            how=params.reduce,
            totals=("nonfinite", "elements"),
        )


# -- series over checkpoints (for evaluators.series.load_series) --------------------------------------
def activation_series(run: Run, spec: SeriesSpec) -> Series:
    """The series a `SeriesSpec` with `tensor:` names: its statistic on each checkpoint, by step."""
    import numpy as np

    from .series import Series

    assert spec.tensor is not None and spec.stat is not None
    art = run.tensors(spec.source_artifact)
    if art.checkpoints[0].step is None:
        raise CannotMeasure(
            f"activation artifact {spec.source_artifact!r} is one file without a step ({art.path.name}); "
            "a series needs a folder of checkpoints named by step"
        )
    chosen = checkpoints_in(art, spec.steps)
    measure = _series_measure(spec)
    values = [measure(art.store(c)) for c in chosen]
    return Series(
        name=spec.label,
        steps=np.asarray([c.step for c in chosen], dtype=np.int64),
        values=np.asarray([np.nan if v is None else v for v in values], dtype=np.float64),
    )


def _series_measure(spec: SeriesSpec) -> Callable[[TensorStore], float | None]:
    stat = str(spec.stat)
    tensor = str(spec.tensor)
    if stat in ("entropy_mean", "entropy_min", "max_weight", "frac_low_entropy", "max_logit"):
        from .attention import measure_attention

        return lambda store: measure_attention(store, tensor, entropy_below=spec.threshold).stats.get(stat)
    if stat.startswith("lens_"):
        from .lens import LensParams, measure_lens

        lens = LensParams.model_validate({"resid": tensor})
        return lambda store: measure_lens(store, lens).stats.get(stat[len("lens_") :])
    return lambda store: measure_stat(store, tensor, stat, spec.threshold, spec.keep, spec.across, spec.select).stats[
        "value"
    ]
