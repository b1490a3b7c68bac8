"""Step-indexed series, wherever they come from: a metrics column, or an activation statistic per
checkpoint of a folder artifact (a prediction names a series the same way in both cases):

    {artifact: metrics, column: loss}
    {artifact: activations, tensor: "blocks.1.attn.hook_attn_scores", stat: max_abs}
    {tensor: "blocks.*.attn.hook_pattern", stat: entropy_min}          # artifact defaults to activations
    {tensor: "blocks.*.hook_resid_post", stat: lens_agreement}         # logit lens, last-but-one layer

`stat` is an `activation.stat` statistic (over the elements of the matching tensors, with optional
`keep`/`across`/`select`), an `activation.attention` statistic (`threshold` is then the entropy
threshold of `frac_low_entropy`), or a logit-lens statistic with the TransformerLens default names.

Evaluators that work on curves (spikes, events, trends) take a `SeriesSpec` and call `load_series`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

from pydantic import Field, model_validator

from registry import CannotMeasure, Params

from .attention import AttentionStat, measure_attention
from .checkpoints import checkpoints_in
from .elements import measure_stat
from .lens import LensSpec, LensStat, measure_lens
from .moments import ELEMENT_STATS, ElementStat
from .transform import TRANSFORM_FIELD, Transform, apply_transform
from .windows import StepWindow, outside_data, window_slice

if TYPE_CHECKING:
    import numpy as np

    from registry import Run, TensorStore

# What `stat:` may name: an element statistic, an attention statistic, or a logit-lens statistic
# (`lens_` + its name) -- each list is kept where it is computed.
SeriesStat = Literal[ElementStat, AttentionStat, LensStat]
_ACTIVATION_ONLY = ("stat", "threshold", "keep", "across", "select")


class SeriesSpec(Params):
    artifact: str = Field(
        "metrics", description="Name of the run's artifact holding the series (default: metrics; activations with `tensor`)."
    )
    column: str | None = Field(None, description="Column of a metrics artifact.")
    steps: StepWindow = None
    tensor: str | None = Field(
        None, description="Instead of `column`: tensor name, alias or glob in a folder of activation checkpoints."
    )
    stat: SeriesStat | None = Field(None, description="With `tensor`: the statistic measured on each checkpoint.")
    threshold: float | None = Field(None, description="With `tensor`: frac_above's value, or frac_low_entropy's entropy.")
    keep: list[str] = Field([], description="With `tensor` and an element statistic: named axes kept, then `across`.")
    across: Literal["max", "min", "mean", "median"] = Field("max", description="With `keep`: how kept indices combine.")
    select: dict[str, int] = Field({}, description="With `tensor`: named axis -> index read.")
    transform: Transform = TRANSFORM_FIELD

    @model_validator(mode="after")
    def _column_or_tensor(self) -> SeriesSpec:
        if self.tensor is None:
            given = [f for f in _ACTIVATION_ONLY if f in self.model_fields_set]
            if given:
                raise ValueError(f"{given[0]} is only used with `tensor` (an activation series)")
            if self.column is None:
                raise ValueError("a series needs `column` (a metrics column) or `tensor` and `stat` (activations)")
            return self
        if "column" in self.model_fields_set:
            raise ValueError("give `column` (a metrics series) or `tensor` (an activation series), not both")
        if self.stat is None:
            raise ValueError("an activation series needs `stat`, e.g. rms, max_abs, entropy_min, lens_agreement")
        if self.stat == "frac_above" and self.threshold is None:
            raise ValueError("stat frac_above needs a threshold")
        if self.threshold is not None and self.stat not in ("frac_above", "frac_low_entropy"):
            raise ValueError("threshold is only used with stat frac_above or frac_low_entropy")
        if (self.keep or self.select) and self.stat not in ELEMENT_STATS:
            raise ValueError("keep and select are only used with element statistics (mean ... frac_above)")
        return self

    @property
    def label(self) -> str:
        """How the series is named in messages and evidence: the column, or `tensor:stat`."""
        if self.tensor is not None:
            return f"{self.tensor}:{self.stat}"
        return str(self.column)

    @property
    def source_artifact(self) -> str:
        """The artifact read: `artifact`, whose default is `activations` for an activation series."""
        if self.tensor is not None and "artifact" not in self.model_fields_set:
            return "activations"
        return self.artifact


@dataclass(frozen=True)
class Series:
    name: str
    steps: np.ndarray  # int64, strictly increasing
    values: np.ndarray  # float64; a NaN/inf was logged as such (a step where the column was not written is absent)
    nonpositive: int = 0  # values <= 0 left out by a log transform


def load_series(run: Run, spec: SeriesSpec) -> Series:
    """The series a spec names: a metrics column's written rows (or an activation statistic per
    checkpoint), inside `steps`, under `transform`. An empty window names the data's step range."""
    if spec.tensor is not None:
        series = activation_series(run, spec)
    else:
        assert spec.column is not None
        steps, values = run.metrics(spec.artifact).series(spec.column)
        if spec.steps is not None:
            rows = window_slice(steps, spec.steps)  # steps are sorted: a view, no copy of a long column
            if rows.stop <= rows.start and steps.size:
                raise CannotMeasure(outside_data(spec.artifact, spec.column, spec.steps, steps))
            steps, values = steps[rows], values[rows]
        series = Series(name=spec.column, steps=steps, values=values)
    if spec.transform == "none":
        return series
    steps, values, nonpositive = apply_transform(series.steps, series.values, spec.transform)
    return Series(name=series.name, steps=steps, values=values, nonpositive=nonpositive)


def activation_series(run: Run, spec: SeriesSpec) -> Series:
    """The series a `SeriesSpec` with `tensor:` names: its statistic on each checkpoint, by step."""
    import numpy as np

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
    if stat in get_args(AttentionStat):
        return lambda store: _number(measure_attention(store, tensor, entropy_below=spec.threshold).stats.get(stat))
    if stat in get_args(LensStat):
        lens = LensSpec.model_validate({"resid": tensor})
        return lambda store: _number(measure_lens(store, lens).stats.get(stat.removeprefix("lens_")))
    return lambda store: _number(
        measure_stat(store, tensor, stat, spec.threshold, spec.keep, spec.across, spec.select).stats["value"]
    )


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None
