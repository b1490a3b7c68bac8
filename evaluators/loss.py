"""loss.spikes — spikes in a loss curve by a robust z-score against the preceding rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from registry import CannotMeasure, Evaluator, Measurement

from .events import RobustZSpec, detect, events_from
from .series import SeriesSpec, load_series

if TYPE_CHECKING:
    from registry import Run


class SpikesParams(SeriesSpec):
    column: str = Field("loss", description="The loss column.")
    window: int = Field(50, ge=3, description="Earlier rows a row is compared with.")
    z: float = Field(8.0, gt=0, description="Robust z-score a spike row must exceed.")
    min_ratio: float = Field(1.15, gt=0, description="x_t / median of the window a spike row must exceed.")
    recover_within: int = Field(
        100, ge=1, description="Steps from onset within which a spike must recover; later or never: a divergence."
    )
    tolerance: float = Field(
        0.05, ge=0, description="Recovered = back within tolerance × |pre-spike median| of the pre-spike median."
    )


class Spikes(Evaluator):
    """Count loss spikes: a row t is flagged when (x_t − m) / (1.4826·MAD) > z and x_t / m > min_ratio,
    m and MAD being the median and median absolute deviation of the `window` rows before t.

    MAD = 0 counts as an infinite z when x_t > m. An event is a maximal run of consecutive flagged
    rows. Rows are taken in step order (within `steps`, when given); `n` is the number of rows
    examined (rows with a full window before them). Non-finite values are never flagged; they are
    counted in `nonfinite`. `max_ratio` is the largest x_t / m over the flagged rows.

    Each event is classified as in the event engine (evaluators/events.py), its pre-event median
    being m at its onset: `blips` (the next row is back within `tolerance` of it), `spikes` (back
    within `recover_within` steps of the onset), `divergences` (later, or never: `unrecovered` counts
    the never). `median_recovery_steps` is over the events that recovered (null if none did).
    """

    name = "loss.spikes"
    levels = frozenset({"loss"})
    version = "2"
    Params = SpikesParams
    statistics = (
        "count",
        "rate_per_1k_steps",
        "max_ratio",
        "nonfinite",
        "blips",
        "spikes",
        "divergences",
        "median_recovery_steps",
        "unrecovered",
    )
    # Counts are never negative: for `registry validate` lints (`count >= 0` cannot fail).
    ranges = {
        name: (0.0, float("inf"))
        for name in ("count", "rate_per_1k_steps", "nonfinite", "blips", "spikes", "divergences", "unrecovered")
    }

    def evaluate(self, params: SpikesParams, run: Run) -> Measurement:
        import numpy as np

        series = load_series(run, params)
        steps, values = series.steps, series.values
        if steps.size == 0:
            where = f" with steps in {list(params.steps)}" if params.steps is not None else ""
            raise CannotMeasure(f"artifact {params.source_artifact!r} has no rows{where}")
        spec = RobustZSpec.model_validate(
            {
                "detector": "robust_z",
                "column": series.name,
                "window": params.window,
                "z": params.z,
                "min_ratio": params.min_ratio,
                "recover_within": params.recover_within,
                "tolerance": params.tolerance,
            }
        )
        detection = detect(values, spec)
        events = events_from(steps, values, detection, spec)
        examined = detection.examined
        span = int(steps[-1] - steps[params.window]) + 1 if examined else 0
        finite = np.isfinite(values)
        nonfinite_count = int(values.size - np.count_nonzero(finite))
        ratios = detection.ratios
        max_ratio = float(np.max(ratios)) if ratios is not None and ratios.size else None
        recovery = events.recovery_steps
        recovered = recovery[recovery >= 0]
        return Measurement(
            statistics={
                "count": len(events),
                "rate_per_1k_steps": 1000.0 * len(events) / span if span else None,
                "max_ratio": max_ratio,
                "nonfinite": nonfinite_count,
                **events.counts(),
                "median_recovery_steps": float(np.median(recovered)) if recovered.size else None,
                "unrecovered": int((recovery < 0).sum()),
            },
            n=examined,
            evidence={
                "event_steps": events.onsets.tolist(),
                "events": events.records(),
                "nonfinite_steps": steps[np.flatnonzero(~finite)[:100]].tolist() if nonfinite_count else [],
            },
        )
