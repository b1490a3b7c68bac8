"""metric.threshold — the reference evaluator: every other built-in has this shape.

1. a `Params` model (extra keys are errors; defaults documented with `Field(description=...)`),
2. class attributes `name`, `levels`, `version`, `statistics`,
3. `evaluate(params, run)`: read only what the params name through `run`, raise `CannotMeasure`
   when there is nothing to measure, and return a `Measurement` — never an outcome.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from registry.errors import CannotMeasure
from registry.plugins import Evaluator, Measurement, Params

from ._common import Reduce, StepWindow, in_window, reduce

if TYPE_CHECKING:
    from registry.artifacts import Run


class ThresholdParams(Params):
    artifact: str = Field("metrics", description="Name of the run's metrics artifact.")
    column: str = Field(description="Column to reduce (a metric name or an alias from the manifest).")
    steps: StepWindow = None
    reduce: Reduce = Field("last", description="How the window's values become one number.")


class Threshold(Evaluator):
    """Reduce one step-indexed column over a window of steps to a single `value`.

    Missing values (NaN) are skipped and counted in `missing`; `n` is the number of values reduced.
    """

    name = "metric.threshold"
    levels = frozenset({"loss", "activation"})
    version = "1"
    Params = ThresholdParams
    statistics = ("value", "missing")

    def evaluate(self, params: ThresholdParams, run: Run) -> Measurement:
        import numpy as np

        table = run.metrics(params.artifact)
        steps = table.steps
        values = table.column(params.column)
        window = in_window(steps, params.steps)
        values = values[window]
        present = ~np.isnan(values)
        if not window.any():
            raise CannotMeasure(f"no rows with steps in {list(params.steps or ())}")
        kept = values[present]
        value = reduce(kept, params.reduce) if kept.size else None
        return Measurement(
            statistics={"value": value, "missing": int((~present).sum())},
            n=int(kept.size),
            evidence={"first_step": int(steps[window][0]), "last_step": int(steps[window][-1])},
        )
