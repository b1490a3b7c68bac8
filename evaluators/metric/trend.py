"""metric.trend — the trend of one series over a window of steps: slope, Kendall's tau-b and its p-value."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from registry import CannotMeasure, Evaluator, Measurement, Stat

from .._lib.fit import slope as least_squares_slope
from .._lib.kendall import kendall_tau
from .._lib.series import SeriesSpec, load_series
from .._lib.transform import transform_evidence, with_nonpositive
from .._lib.windows import no_rows

if TYPE_CHECKING:
    from registry import Run


class TrendParams(SeriesSpec):
    alternative: Literal["two-sided", "increasing", "decreasing"] = Field(
        "two-sided", description="What the p-value tests against no trend: any trend, or one direction."
    )


class Trend(Evaluator[TrendParams]):
    """Trend of one series over a window of steps: least-squares `slope` (value units per step) and
    Kendall's tau-b of value against step with its `p_value`.

    The series is a metrics column, or an activation statistic per checkpoint (`tensor` + `stat`).

    tau-b and its p-value use the normal approximation without continuity correction (as
    scipy.stats.kendalltau(method="asymptotic"); implemented in evaluators/_lib/kendall.py, no scipy
    needed). `alternative` chooses the test: two-sided, or one-sided for an increasing or decreasing
    trend. Rows are those where the column was written (version 2); logged NaNs are
    skipped and counted in `missing`; an infinite value, fewer than
    two values, or a constant series cannot be measured. `n` is the number of values used.
    """

    name = "metric.trend"
    levels = frozenset({"loss", "activation"})
    version = "2"
    Params = TrendParams
    statistics = (
        Stat("slope", "Least-squares slope of value against step, in value units per step."),
        Stat("tau", "Kendall's tau-b of value against step.", range=(-1, 1)),
        Stat("p_value", "p-value of tau under `alternative` (normal approximation).", range=(0, 1)),
        Stat("missing", "Logged NaNs in the window, skipped (unwritten steps: not rows).", range=(0, math.inf), type=int),
    )

    def statistics_for(self, params: TrendParams) -> tuple[Stat, ...]:
        return with_nonpositive(self.statistics, params.transform)

    def evaluate(self, params: TrendParams, run: Run) -> Measurement:
        import numpy as np

        series = load_series(run, params)
        if series.steps.size == 0:
            raise CannotMeasure(no_rows(params.source_artifact, params.steps))
        steps, values = series.steps, series.values
        what = f"column {params.column!r}" if params.tensor is None else f"series {params.label!r}"
        present = ~np.isnan(values)
        missing = int(values.size - present.sum())
        if missing:
            steps, values = steps[present], values[present]
        infinite = np.flatnonzero(np.isinf(values))
        if infinite.size:
            raise CannotMeasure(
                f"{what} has {infinite.size} infinite value(s) in the window "
                f"(first at step {int(steps[infinite[0]])}); a trend is undefined"
            )
        if values.size < 2:
            raise CannotMeasure(f"{what} has {values.size} value(s) in the window; a trend needs at least 2")
        if values.min() == values.max():
            raise CannotMeasure(f"{what} is constant ({float(values[0])!r}) over the window; Kendall's tau is undefined")
        slope, mean, xc = least_squares_slope(steps.astype(np.float64), values)
        tau = kendall_tau(values, params.alternative)
        return Measurement(
            statistics={
                "slope": slope,
                "tau": tau.tau,
                "p_value": tau.p_value,
                "missing": missing,
                **({"nonpositive": series.nonpositive} if params.transform != "none" else {}),
            },
            n=int(values.size),
            evidence={
                "first_step": int(steps[0]),
                "last_step": int(steps[-1]),
                "fit_first": mean + slope * float(xc[0]),
                "fit_last": mean + slope * float(xc[-1]),
                "z": tau.z,
                **transform_evidence(params.transform, series.nonpositive),
            },
        )
