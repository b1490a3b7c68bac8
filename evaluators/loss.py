"""loss.spikes — spikes in a loss curve by a robust z-score against the preceding rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from registry.errors import CannotMeasure
from registry.plugins import Evaluator, Measurement

from .series import SeriesSpec, load_series
from .spikes import robust_z_flags, runs_of

if TYPE_CHECKING:
    from registry.artifacts import Run


class SpikesParams(SeriesSpec):
    column: str = Field("loss", description="The loss column.")
    window: int = Field(50, ge=3, description="Earlier rows a row is compared with.")
    z: float = Field(8.0, gt=0, description="Robust z-score a spike row must exceed.")
    min_ratio: float = Field(1.15, gt=0, description="x_t / median of the window a spike row must exceed.")


class Spikes(Evaluator):
    """Count loss spikes: a row t is flagged when (x_t − m) / (1.4826·MAD) > z and x_t / m > min_ratio,
    m and MAD being the median and median absolute deviation of the `window` rows before t.

    MAD = 0 counts as an infinite z when x_t > m. An event is a maximal run of consecutive flagged
    rows. Rows are taken in step order (within `steps`, when given); `n` is the number of rows
    examined (rows with a full window before them). Non-finite values are never flagged; they are
    counted in `nonfinite`.
    """

    name = "loss.spikes"
    levels = frozenset({"loss"})
    version = "1"
    Params = SpikesParams
    statistics = ("count", "rate_per_1k_steps", "max_ratio", "nonfinite")

    def evaluate(self, params: SpikesParams, run: Run) -> Measurement:
        import numpy as np

        series = load_series(run, params)
        steps, values = series.steps, series.values
        if steps.size == 0:
            raise CannotMeasure("no rows in the step window")
        flags, ratios = robust_z_flags(values, params.window, params.z, params.min_ratio)
        events = runs_of(flags)
        examined = max(0, int(values.size) - params.window)
        span = int(steps[-1] - steps[params.window]) + 1 if examined else 0
        nonfinite = ~np.isfinite(values)
        max_ratio = float(np.max(ratios[flags])) if flags.any() else None
        return Measurement(
            statistics={
                "count": len(events),
                "rate_per_1k_steps": 1000.0 * len(events) / span if span else None,
                "max_ratio": max_ratio,
                "nonfinite": int(nonfinite.sum()),
            },
            n=examined,
            evidence={
                "event_steps": [int(steps[a]) for a, _ in events],
                "nonfinite_steps": [int(s) for s in steps[nonfinite][:100]],
            },
        )
