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

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

from pydantic import Field, model_validator

from registry import Params

from ._common import StepWindow, window_slice
from .moments import STATS as ELEMENT_STATS

if TYPE_CHECKING:
    import numpy as np

    from registry import Run


SeriesStat = Literal[
    # activation.stat
    "mean",
    "mean_abs",
    "rms",
    "std",
    "kurtosis",
    "max_abs",
    "max",
    "min",
    "frac_above",
    # activation.attention
    "entropy_mean",
    "entropy_min",
    "max_weight",
    "frac_low_entropy",
    "max_logit",
    # activation.lens (residual streams `tensor`, TransformerLens names for the rest, last-but-one layer)
    "lens_agreement",
    "lens_cross_entropy",
    "lens_accuracy",
]
ACTIVATION_SERIES_STATS: tuple[str, ...] = get_args(SeriesStat)
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
    values: np.ndarray  # float64, NaN where missing


def load_series(run: Run, spec: SeriesSpec) -> Series:
    if spec.tensor is not None:
        from .activation import activation_series

        return activation_series(run, spec)
    assert spec.column is not None
    table = run.metrics(spec.artifact)
    steps = table.steps
    values = table.column(spec.column)
    if spec.steps is not None:
        rows = window_slice(steps, spec.steps)  # steps are sorted: a view, no copy of a long column
        steps, values = steps[rows], values[rows]
    return Series(name=spec.column, steps=steps, values=values)
