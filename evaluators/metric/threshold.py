"""metric.threshold — the reference evaluator: every other built-in has this shape.

1. a `Params` model (extra keys are errors; defaults documented with `Field(description=...)`),
2. a subclass of `Evaluator[ThatParams]` (or `CrossRunEvaluator[ThatParams]` for a set of runs) with
   class attributes `name`, `levels`, `version`, and `statistics`, a tuple of `registry.Stat`: each
   statistic's one-sentence doc, its range where one exists, `rate=True` for a rate over n, its type,
3. `evaluate(params, run)`: read only what the params name through `run`, raise `CannotMeasure`
   when there is nothing to measure, and return a `Measurement` — never an outcome,
4. imports from `registry` (the public plugin API) and `evaluators._lib` only, never another evaluator.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pydantic import Field

from registry import CannotMeasure, Evaluator, Measurement, Params, Stat

from .._lib.reduce import Reduce, reduce
from .._lib.transform import TRANSFORM_FIELD, Transform, apply_transform, transform_evidence, with_nonpositive
from .._lib.windows import StepWindow, no_rows, outside_data, window_slice

if TYPE_CHECKING:
    from registry import Run


class ThresholdParams(Params):
    artifact: str = Field("metrics", description="Name of the run's metrics artifact.")
    column: str = Field(description="Column to reduce (a metric name or an alias from the manifest).")
    steps: StepWindow = None
    reduce: Reduce = Field("last", description="How the window's values become one number.")
    transform: Transform = TRANSFORM_FIELD


class Threshold(Evaluator[ThresholdParams]):
    """Reduce one step-indexed column over a window of steps to a single `value`.

    The column's rows are those where it was written (version 2: a step at which only other metrics
    were logged is not a row). Logged NaNs are skipped and counted in `missing`; `n` is the number of
    values reduced. `transform: log`/`log10` reduces log values (values <= 0 left out, in `nonpositive`).
    """

    name = "metric.threshold"
    levels = frozenset({"loss", "activation"})
    version = "2"
    Params = ThresholdParams
    statistics = (
        Stat("value", "The window's non-missing values reduced by `reduce` (null when all are missing)."),
        Stat("missing", "Logged NaNs in the window, skipped (unwritten steps: not rows).", range=(0, math.inf), type=int),
    )

    def statistics_for(self, params: ThresholdParams) -> tuple[Stat, ...]:
        return with_nonpositive(self.statistics, params.transform)

    def evaluate(self, params: ThresholdParams, run: Run) -> Measurement:
        import numpy as np

        steps, values = run.metrics(params.artifact).series(params.column)
        window = window_slice(steps, params.steps)  # steps are sorted: a view, not a mask and a copy
        if window.stop <= window.start:
            if steps.size and params.steps is not None:
                raise CannotMeasure(outside_data(params.artifact, params.column, params.steps, steps))
            raise CannotMeasure(no_rows(params.artifact, params.steps))
        steps, values, nonpositive = apply_transform(steps[window], values[window], params.transform)
        present = ~np.isnan(values)
        kept = values[present]
        value = reduce(kept, params.reduce) if kept.size else None
        stats: dict[str, float | int | None] = {"value": value, "missing": int((~present).sum())}
        if params.transform != "none":
            stats["nonpositive"] = nonpositive
        first_last = {"first_step": int(steps[0]), "last_step": int(steps[-1])} if steps.size else {}
        return Measurement(
            statistics=stats,
            n=int(kept.size),
            evidence={**first_last, **transform_evidence(params.transform, nonpositive)},
        )
