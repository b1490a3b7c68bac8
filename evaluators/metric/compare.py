"""metric.compare — two windows or series reduced to one number each, compared: a − b and a / b."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationError, model_validator

from registry import CannotMeasure, Evaluator, Measurement, Params, Stat

from .._lib.reduce import Across, Reduce, reduce
from .._lib.series import SeriesSpec, SeriesStat, load_series
from .._lib.transform import TRANSFORM_FIELD, Transform, apply_transform, transform_evidence, with_nonpositive
from .._lib.windows import StepWindow, no_rows, outside_data, window_slice

if TYPE_CHECKING:
    from registry import Run


class _SeriesFields(Params):
    """What names an activation series (as in `SeriesSpec`): a tensor and a statistic per checkpoint."""

    tensor: str | None = Field(
        None, description="Instead of `column`: tensor name, alias or glob in a folder of activation checkpoints."
    )
    stat: SeriesStat | None = Field(None, description="With `tensor`: the statistic measured on each checkpoint.")
    threshold: float | None = Field(None, description="With `tensor`: frac_above's value, or frac_low_entropy's entropy.")
    keep: list[str] | None = Field(None, description="With `tensor` and an element statistic: named axes kept, then `across`.")
    across: Across | None = Field(None, description="With `keep`: how kept indices combine.")
    select: dict[str, int] | None = Field(None, description="With `tensor`: named axis -> index read.")


_SERIES_FIELDS = ("tensor", "stat", "threshold", "keep", "across", "select")


class Side(_SeriesFields):
    """One side of a comparison; what it does not say is taken from the prediction's top level."""

    artifact: str | None = Field(None, description="Artifact (default: the top-level `artifact`).")
    column: str | None = Field(None, description="Column (default: the top-level `column`).")
    steps: StepWindow = None
    reduce: Reduce | None = Field(None, description="Reduction (default: the top-level `reduce`).")


@dataclass(frozen=True)
class ResolvedSide:
    """A side with the top level's defaults filled in: a metrics column, or an activation series."""

    artifact: str
    column: str | None
    steps: tuple[int | None, int | None] | None
    reduce: str
    series: dict[str, Any]  # tensor, stat, ... (empty for a column side)
    transform: str = "none"

    def spec(self) -> SeriesSpec:
        """The side as a `SeriesSpec` (an activation series; a column side never needs one)."""
        fields = {"artifact": self.artifact, "steps": self.steps, **self.series, "transform": self.transform}
        return SeriesSpec.model_validate(fields)


class CompareParams(_SeriesFields):
    artifact: str = Field(
        "metrics",
        description="Artifact of both sides unless a side names its own (default: metrics; activations with `tensor`).",
    )
    column: str | None = Field(None, description="Column of both sides unless a side names its own.")
    steps: StepWindow = None
    reduce: Reduce = Field("mean", description="How each side's values become one number.")
    transform: Transform = TRANSFORM_FIELD
    a: Side = Field(description="The first side: {column or tensor + stat, steps, reduce, artifact}, each optional.")
    b: Side = Field(description="The second side.")

    @model_validator(mode="after")
    def _sides(self) -> CompareParams:
        if self.column is not None and self.tensor is not None:
            raise ValueError("give `column` (a metrics series) or `tensor` (an activation series), not both")
        resolved = []
        for label in ("a", "b"):
            side: Side = getattr(self, label)
            if side.column is not None and side.tensor is not None:
                raise ValueError(f"side {label}: give `column` or `tensor`, not both")
            r = self.resolved(label)
            if r.column is None and not r.series:
                raise ValueError(f"side {label} names no column: set `column` at the top or in `{label}`")
            if r.column is not None:
                given = [f for f in _SERIES_FIELDS if getattr(side, f) is not None]
                if given:
                    raise ValueError(f"side {label}: {given[0]} is only used with `tensor` (an activation series)")
            else:
                try:
                    r.spec()
                except ValidationError as exc:
                    first = exc.errors(include_url=False)[0]
                    raise ValueError(f"side {label}: {first['msg'].removeprefix('Value error, ')}") from None
            resolved.append(r)
        if resolved[0] == resolved[1]:
            raise ValueError("sides a and b are the same values: give them different columns, steps or reduce")
        return self

    def resolved(self, label: str) -> ResolvedSide:
        side: Side = getattr(self, label)
        steps = side.steps if side.steps is not None else self.steps
        how = side.reduce or self.reduce
        if side.column is not None or (side.tensor is None and self.tensor is None):
            # A metrics column: exactly as before activation series were accepted.
            return ResolvedSide(side.artifact or self.artifact, side.column or self.column, steps, how, {}, self.transform)
        # An activation series: the side's own fields first, then the top level's.
        series: dict[str, Any] = {}
        for f in _SERIES_FIELDS:
            value = getattr(side, f)
            if value is None:
                value = getattr(self, f)
            if value is not None:
                series[f] = value
        if side.artifact is not None:
            artifact = side.artifact
        elif "artifact" in self.model_fields_set:
            artifact = self.artifact
        else:
            artifact = "activations"
        return ResolvedSide(artifact, None, steps, how, series, self.transform)


class Compare(Evaluator[CompareParams]):
    """Reduce two windows or series to one number each -- `a` and `b` -- and compare them:
    `difference` = a − b, `ratio` = a / b (null when b is 0).

    Each side is a metrics column over a step window, or an activation statistic per checkpoint
    (`tensor` + `stat`, named as in `metric.trend`/`events.precedes`: e.g. `{tensor:
    "blocks.*.hook_resid_post", stat: lens_agreement}`), reduced like metric.threshold (last, first,
    min, max, mean, median); a side inherits `artifact`, `column` or `tensor`/`stat`/..., `steps` and
    `reduce` from the top level, and a side that names its own `column` or `tensor` takes nothing of
    the other kind from it. A column side is the rows where the column was written (version 2), so
    the two sides' steps are each their own; `transform: log`/`log10` applies to both sides (values
    <= 0 left out, counted in `nonpositive`). Logged NaNs are skipped and counted in `missing`; a side with no
    values cannot be measured. `n` is the smaller of the two sides' numbers of values (rows, or
    checkpoints for an activation series).
    """

    name = "metric.compare"
    levels = frozenset({"loss", "activation"})
    version = "2"
    Params = CompareParams
    statistics = (
        Stat("a", "Side a's values reduced to one number."),
        Stat("b", "Side b's values reduced to one number."),
        Stat("difference", "a − b."),
        Stat("ratio", "a / b (null when b is 0)."),
        Stat("missing", "Logged NaNs on both sides, skipped (unwritten steps: not rows).", range=(0, math.inf), type=int),
    )

    def statistics_for(self, params: CompareParams) -> tuple[Stat, ...]:
        return with_nonpositive(self.statistics, params.transform)

    def evaluate(self, params: CompareParams, run: Run) -> Measurement:
        import numpy as np

        out: dict[str, float] = {}
        counts: list[int] = []
        missing = 0
        evidence: dict[str, Any] = {}
        nonpositive = 0
        for label in ("a", "b"):
            side = params.resolved(label)
            try:
                if side.column is not None:
                    s, values = _window_values(run, side.artifact, side.column, side.steps)
                    s, values, dropped = apply_transform(s, values, params.transform)
                    what = f"column {side.column!r}"
                    described: dict[str, Any] = {"column": side.column}
                else:
                    spec = side.spec()
                    series = load_series(run, spec)
                    if series.steps.size == 0:
                        raise CannotMeasure(f"artifact {spec.source_artifact!r} has no checkpoints in the window")
                    s, values, dropped = series.steps, series.values, series.nonpositive
                    what = f"series {spec.label!r}"
                    described = {"series": spec.label}
            except CannotMeasure as exc:
                raise CannotMeasure(f"side {label}: {exc.reason}") from None
            nonpositive += dropped
            present = ~np.isnan(values)
            kept = values[present]
            missing += int(values.size - kept.size)
            if kept.size == 0:
                raise CannotMeasure(f"side {label}: {what} has only missing values in the window")
            out[label] = reduce(kept, side.reduce)
            counts.append(int(kept.size))
            evidence[label] = {**described, "reduce": side.reduce, "first_step": int(s[0]), "last_step": int(s[-1])}
        a, b = out["a"], out["b"]
        return Measurement(
            statistics={
                "a": a,
                "b": b,
                "difference": a - b,
                "ratio": a / b if b != 0 else None,
                "missing": missing,
                **({"nonpositive": nonpositive} if params.transform != "none" else {}),
            },
            n=min(counts),
            evidence={**evidence, **transform_evidence(params.transform, nonpositive)},
        )


def _window_values(run: Run, artifact: str, column: str, steps: tuple[int | None, int | None] | None) -> Any:
    """(steps, values) of a column inside a step window, as views; CannotMeasure when it is empty."""
    all_steps, values = run.metrics(artifact).series(column)
    if not all_steps.size and run.metrics(artifact).steps.size:
        raise CannotMeasure(f"column {column!r} is never written in artifact {artifact!r}")
    rows = window_slice(all_steps, steps)
    if rows.stop <= rows.start:
        if all_steps.size and steps is not None:
            raise CannotMeasure(outside_data(artifact, column, steps, all_steps))
        raise CannotMeasure(no_rows(artifact, steps))
    return all_steps[rows], values[rows]
