"""events.locked — a series read at fixed offsets from every target event's onset, pooled over runs:
"at the spike checkpoint against a few steps before it", when the spikes' steps are not known in advance."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from registry import CannotMeasure, CrossRunEvaluator, EvaluatorRegistry, Measurement, Stat

from .._lib.events import EVIDENCE_EVENTS, EventParams, EventSpec, event_onsets
from .._lib.series import Series, SeriesSpec, load_series
from .._lib.stats import count, fraction, p_value

if TYPE_CHECKING:
    import numpy as np

    from registry import Run

Alternative = Literal["two-sided", "less", "greater"]


class LockedParams(EventParams):
    target: EventSpec = Field(description="The events to lock on in every run, e.g. {column: loss, detector: robust_z, z: 8}.")
    series: SeriesSpec = Field(
        description="The series read at the offsets: a metrics column, or an activation statistic per checkpoint "
        "(e.g. {tensor: 'lens.*', stat: lens_agreement})."
    )
    at: int = Field(0, description="Offset (steps) from each onset of the value compared: at = value(onset + at).")
    before: int = Field(-5, description="Offset (steps) from each onset of the reference value: value(onset + before).")
    tolerance: int = Field(
        0, ge=0, description="Use the nearest step with a finite value within ±tolerance of onset + offset (0: that exact step)."
    )
    min_change: float = Field(0.0, ge=0, description="|at − before| an event must exceed to count as up or down.")
    alternative: Alternative = Field(
        "two-sided", description="Sign test's alternative for at − before: less (falls), greater (rises), two-sided."
    )

    @model_validator(mode="after")
    def _two_offsets(self) -> LockedParams:
        if self.at == self.before:
            raise ValueError("`at` and `before` are the same offset; there is nothing to compare")
        return self


class Locked(CrossRunEvaluator[LockedParams]):
    """For every target event of every run (`across: runs`), a series' value at onset + `at` against
    its value at onset + `before`.

    A value is the series' value at the step onset + offset, or with `tolerance` > 0 at the nearest
    step within ±tolerance holding a finite value (the earlier step on a tie); a non-finite value is
    never used. An event without both values is left out (`missing`). Over the n events with both:
    `mean_before`, `mean_at`, `mean_change` and `median_change` of change = at − before; `frac_up` /
    `frac_down` = events with change > `min_change` / < −`min_change`, over n; `p_value` is the exact
    sign test (binomial, p = 1/2) on the events beyond `min_change` in either direction (the others
    are ties): with `alternative` less, P(X >= downs); greater, P(X >= ups); two-sided,
    min(1, 2·P(X >= max(ups, downs))); null when no event moved beyond `min_change`. Events are the
    target's onsets (after `kinds`); each run counts its own, and the statistics pool them.
    """

    name = "events.locked"
    levels = frozenset({"loss", "activation"})
    version = "1"
    Params = LockedParams
    statistics = (
        Stat("mean_before", "Mean over the n events of the series at onset + before."),
        Stat("mean_at", "Mean over the n events of the series at onset + at."),
        Stat("mean_change", "Mean of at − before over the n events."),
        Stat("median_change", "Median of at − before over the n events."),
        fraction("frac_up", "Events with at − before > min_change / n.", rate=True),
        fraction("frac_down", "Events with at − before < −min_change / n.", rate=True),
        p_value("Exact sign test of at − before over the events beyond min_change (see `alternative`)."),
        count("events", "Target events in all runs."),
        count("missing", "Target events without a value at onset + at or onset + before (left out)."),
        count("runs", "Runs taking part."),
    )

    def evaluate_runs(
        self,
        params: LockedParams,
        groups: Mapping[str, Sequence[Run]],
        evaluators: EvaluatorRegistry,  # noqa: ARG002 - the protocol's; no other evaluator is called
    ) -> Measurement:
        import numpy as np

        runs = sorted({r.id: r for rs in groups.values() for r in rs}.values(), key=lambda r: r.id)
        if not runs:
            raise CannotMeasure("no run to measure")
        befores: list[float] = []
        ats: list[float] = []
        per_run: dict[str, list[dict[str, Any]]] = {}
        events = 0
        for run in runs:
            onsets = event_onsets(load_series(run, params.target), params.target)
            values = load_series(run, params.series)
            rows = [_pair(values, int(t), params) for t in onsets.tolist()]
            events += len(rows)
            per_run[run.id] = rows[:EVIDENCE_EVENTS]
            for row in rows:
                if row["before"] is not None and row["at"] is not None:
                    befores.append(row["before"])
                    ats.append(row["at"])
        before, at = np.asarray(befores, dtype=np.float64), np.asarray(ats, dtype=np.float64)
        n = int(at.size)
        change = at - before
        ups = int((change > params.min_change).sum())
        downs = int((change < -params.min_change).sum())
        defined = n > 0
        statistics = {
            "mean_before": float(before.mean()) if defined else None,
            "mean_at": float(at.mean()) if defined else None,
            "mean_change": float(change.mean()) if defined else None,
            "median_change": float(np.median(change)) if defined else None,
            "frac_up": ups / n if defined else None,
            "frac_down": downs / n if defined else None,
            "p_value": sign_test(ups, downs, params.alternative),
            "events": events,
            "missing": events - n,
            "runs": len(runs),
        }
        evidence = {"series": params.series.label, "offsets": {"before": params.before, "at": params.at}, "runs": per_run}
        return Measurement(statistics=statistics, n=n, evidence=evidence)


def _pair(series: Series, onset: int, params: LockedParams) -> dict[str, Any]:
    """One event's record: its onset, and the step and value read at each offset (None where there is none)."""
    step_b, value_b = value_near(series, onset + params.before, params.tolerance)
    step_a, value_a = value_near(series, onset + params.at, params.tolerance)
    return {"onset": onset, "step_before": step_b, "before": value_b, "step_at": step_a, "at": value_a}


def value_near(series: Series, step: int, tolerance: int) -> tuple[int | None, float | None]:
    """(step, value) of the finite value nearest `step` within ±tolerance (the earlier on a tie), or (None, None)."""
    import numpy as np

    lo = int(np.searchsorted(series.steps, step - tolerance, side="left"))
    hi = int(np.searchsorted(series.steps, step + tolerance, side="right"))
    steps: np.ndarray = series.steps[lo:hi]
    values: np.ndarray = series.values[lo:hi]
    ok = np.isfinite(values)
    if not ok.any():
        return None, None
    candidates = np.flatnonzero(ok)
    best = candidates[np.argmin(np.abs(steps[candidates] - step))]  # argmin: the first minimum, the earlier step
    return int(steps[best]), float(values[best])


def sign_test(ups: int, downs: int, alternative: Alternative) -> float | None:
    """Exact binomial sign test (p = 1/2) of `ups` rises against `downs` falls; None without either."""
    m = ups + downs
    if m == 0:
        return None

    def tail(k: int) -> float:  # P(X >= k), X ~ Binomial(m, 1/2)
        return sum(math.comb(m, i) for i in range(k, m + 1)) / (1 << m)

    if alternative == "less":
        return tail(downs)
    if alternative == "greater":
        return tail(ups)
    return min(1.0, 2 * tail(max(ups, downs)))
