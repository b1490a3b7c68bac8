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
from .._lib.windows import StepWindow, no_rows, window_slice

if TYPE_CHECKING:
    from registry import Run


class ThresholdParams(Params):
    artifact: str = Field("metrics", description="Name of the run's metrics artifact.")
    column: str = Field(description="Column to reduce (a metric name or an alias from the manifest).")
    steps: StepWindow = None
    reduce: Reduce = Field("last", description="How the window's values become one number.")


class Threshold(Evaluator[ThresholdParams]):
    """Reduce one step-indexed column over a window of steps to a single `value`.

    Missing values (NaN) are skipped and counted in `missing`; `n` is the number of values reduced.
    """

    name = "metric.threshold"
    levels = frozenset({"loss", "activation"})
    version = "1"
    Params = ThresholdParams
    statistics = (
        Stat("value", "The window's non-missing values reduced by `reduce` (null when all are missing)."),
        Stat("missing", "Missing (NaN) values in the window, skipped.", range=(0, math.inf), type=int),
    )

    def evaluate(self, params: ThresholdParams, run: Run) -> Measurement:
        import numpy as np

        table = run.metrics(params.artifact)
        steps = table.steps
        values = table.column(params.column)
        window = window_slice(steps, params.steps)  # steps are sorted: a view, not a mask and a copy
        values = values[window]
        present = ~np.isnan(values)
        if window.stop <= window.start:
            raise CannotMeasure(no_rows(params.artifact, params.steps))
        kept = values[present]
        value = reduce(kept, params.reduce) if kept.size else None
        return Measurement(
            statistics={"value": value, "missing": int((~present).sum())},
            n=int(kept.size),
            evidence={"first_step": int(steps[window.start]), "last_step": int(steps[window.stop - 1])},
        )
