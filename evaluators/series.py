"""Step-indexed series, wherever they come from: a metrics column today, an activation statistic per
checkpoint too (a prediction names a series the same way in both cases).

Evaluators that work on curves (spikes, events, trends) take a `SeriesSpec` and call `load_series`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import Field

from registry.plugins import Params

from ._common import StepWindow, in_window

if TYPE_CHECKING:
    import numpy as np

    from registry.artifacts import Run


class SeriesSpec(Params):
    artifact: str = Field("metrics", description="Name of the run's artifact holding the series.")
    column: str = Field(description="Column of a metrics artifact.")
    steps: StepWindow = None


@dataclass(frozen=True)
class Series:
    name: str
    steps: np.ndarray  # int64, strictly increasing
    values: np.ndarray  # float64, NaN where missing


def load_series(run: Run, spec: SeriesSpec) -> Series:
    table = run.metrics(spec.artifact)
    steps = table.steps
    values = table.column(spec.column)
    if spec.steps is not None:
        mask = in_window(steps, spec.steps)
        steps, values = steps[mask], values[mask]
    return Series(name=spec.column, steps=steps, values=values)
