"""loss.spikes — spikes in a loss curve by a robust z-score against the preceding rows."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pydantic import Field

from registry import CannotMeasure, Evaluator, Measurement, Stat

from .._lib.events import RobustZSpec, detect, events_from
from .._lib.reduce import median
from .._lib.series import SeriesSpec, load_series
from .._lib.stats import count
from .._lib.transform import transform_evidence, with_nonpositive
from .._lib.windows import no_rows

if TYPE_CHECKING:
    import numpy as np

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


class Spikes(Evaluator[SpikesParams]):
    """Count loss spikes: a row t is flagged when (x_t − m) / (1.4826·MAD) > z and x_t / m > min_ratio,
    m and MAD being the median and median absolute deviation of the `window` rows before t.

    The rows are those where the column was written (a step at which only other metrics were logged
    is not a row; until version 3 it was a NaN row that blocked detection for `window` rows).
    `transform: log` (or `log10`) looks at log values; values <= 0 are left out, counted in `nonpositive`.
    MAD = 0 counts as an infinite z when x_t > m. An event is a maximal run of consecutive flagged
    rows. Rows are taken in step order (within `steps`, when given); `n` is the number of rows
    examined (rows with a full window before them). Non-finite values are never flagged; they are
    counted in `nonfinite`. `max_ratio` is the largest x_t / m over the flagged rows.

    Each event is classified as in the event engine (evaluators/_lib/events.py), its pre-event median
    being m at its onset: `blips` (the next row is back within `tolerance` of it), `spikes` (back
    within `recover_within` steps of the onset), `divergences` (later, or never: `unrecovered` counts
    the never). `median_recovery_steps` is over the events that recovered (null if none did).
    """

    name = "loss.spikes"
    levels = frozenset({"loss"})
    version = "3"
    Params = SpikesParams
    statistics = (
        count("count", "Spike events (maximal runs of flagged rows)."),
        Stat("rate_per_1k_steps", "count per 1000 steps of the examined span.", range=(0, math.inf)),
        Stat("max_ratio", "The largest x_t / m over the flagged rows (null without any)."),
        count("nonfinite", "Non-finite (NaN, ±inf) values, never flagged."),
        count("blips", "Events whose next row is already back within tolerance."),
        count("spikes", "Events back within `recover_within` steps of the onset (not blips)."),
        count("divergences", "Events back later than `recover_within` steps, or never."),
        Stat("median_recovery_steps", "Median steps from onset to recovery over recovered events.", range=(0, math.inf)),
        count("unrecovered", "Events that never recover."),
    )

    def statistics_for(self, params: SpikesParams) -> tuple[Stat, ...]:
        return with_nonpositive(self.statistics, params.transform)

    def evaluate(self, params: SpikesParams, run: Run) -> Measurement:
        import numpy as np

        series = load_series(run, params)
        steps, values = series.steps, series.values
        if steps.size == 0:
            raise CannotMeasure(no_rows(params.source_artifact, params.steps))
        spec = RobustZSpec.model_validate(
            {
                "detector": "robust_z",
                "column": series.name,
                "window": params.window,
                "z": params.z,
                "min_ratio": params.min_ratio,
                "recover_within": params.recover_within,
                "tolerance": params.tolerance,
                "transform": params.transform,
            }
        )
        detection = detect(values, spec)
        events = events_from(steps, values, detection, spec)
        examined = detection.examined
        span = int(steps[-1] - steps[params.window]) + 1 if examined else 0
        bad = _nonfinite_rows(values)
        nonfinite_count = int(bad.size)
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
                "median_recovery_steps": float(median(recovered)) if recovered.size else None,
                "unrecovered": int((recovery < 0).sum()),
                **({"nonpositive": series.nonpositive} if params.transform != "none" else {}),
            },
            n=examined,
            evidence={
                "event_steps": events.onsets.tolist(),
                "events": events.records(),
                "nonfinite_steps": steps[bad[:100]].tolist(),
                **transform_evidence(params.transform, series.nonpositive),
            },
        )


# Rows tested at a time by `_nonfinite_rows`.
_BLOCK = 1 << 20


def _nonfinite_rows(x: np.ndarray) -> np.ndarray:
    """Rows of NaN or ±inf, block by block: masks of the whole column would be two fresh 10 MB
    arrays at 10^7 rows, whose first touch costs more than the test."""
    import numpy as np

    parts = [np.flatnonzero(~np.isfinite(x[i : i + _BLOCK])) + i for i in range(0, x.size, _BLOCK)]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.intp)
