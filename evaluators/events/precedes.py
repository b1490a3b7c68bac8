"""events.precedes — how often target events are preceded by signal events, against circular shifts."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from pydantic import Field

from registry import CannotMeasure, Evaluator, Measurement, Stat

from .._lib.events import EVIDENCE_EVENTS, EventParams, EventSpec, event_onsets, find_events
from .._lib.series import Series, load_series
from .._lib.shift import shift_test
from .._lib.stats import count, fraction, p_value
from .._lib.transform import transform_evidence, with_nonpositive
from .._lib.windows import Offsets

if TYPE_CHECKING:
    from registry import Run


class PrecedesParams(EventParams):
    target: EventSpec = Field(
        description="The events to explain, e.g. {column: loss, detector: robust_z, z: 8}. An event spec is a series "
        "(artifact, column or tensor+stat, steps) + detector: robust_z (window, z, min_ratio) | ema_ratio (ratio, "
        "alpha, warmup) | threshold (above or below) | nonfinite, + optional kinds, recover_within, tolerance, baseline."
    )
    signal: EventSpec = Field(
        description="The events that should come first, e.g. {column: grad_norm, detector: robust_z, z: 6}."
    )
    within: Offsets
    permutations: int = Field(1000, ge=1, le=1_000_000, description="Circular shifts of the signal events for the null.")
    seed: int = Field(0, ge=0, description="Seed of numpy.random.default_rng for the shifts.")


class Precedes(Evaluator[PrecedesParams]):
    """Fraction of target events with a signal event whose onset lies `within` [lo, hi] steps of the
    target's onset, against circular shifts of the signal events.

    Both series are aligned by step value (their step grids may differ). Only the steps both series
    cover, [max of first steps, min of last steps], are used: events outside are dropped. The null
    shifts every signal onset by the same k steps, circularly over that range (k uniform on 1..L-1,
    L its length in steps, from numpy default_rng(seed)); `base_rate` is the mean fraction over the
    shifts, `p_value` = (1 + #{shifted fraction >= observed}) / (1 + permutations), `lift` =
    fraction / base_rate. `n` is the number of target events. A strictly periodic signal train lines up
    with itself under shifts by its period, which only makes the test conservative.

    Each series is the rows where its column was written (version 2), so a lead or lag is counted in
    steps between written rows of each column, never across another metric's rows. With a log
    `transform` on either spec, `nonpositive` counts the values <= 0 left out of both.
    """

    name = "events.precedes"
    levels = frozenset({"loss", "activation"})
    version = "2"
    Params = PrecedesParams
    statistics = (
        fraction("fraction", "Target events with a signal onset `within` their window / target events.", rate=True),
        fraction("base_rate", "The mean fraction over the circular shifts of the signal events."),
        Stat("lift", "fraction / base_rate (null when base_rate is 0).", range=(0, math.inf)),
        p_value("(1 + #{shifted fraction >= observed}) / (1 + permutations)."),
        count("target_events", "Target events in the steps both series cover."),
        count("signal_events", "Signal events in the steps both series cover."),
    )

    def statistics_for(self, params: PrecedesParams) -> tuple[Stat, ...]:
        return with_nonpositive(self.statistics, _transform(params))

    def evaluate(self, params: PrecedesParams, run: Run) -> Measurement:
        import numpy as np

        target_series = _series(run, "target", params.target)
        signal_series = _series(run, "signal", params.signal)
        for role, spec, s in (("target", params.target, target_series), ("signal", params.signal, signal_series)):
            if s.steps.size == 0:
                where = f" with steps in {list(spec.steps)}" if spec.steps is not None else ""
                raise CannotMeasure(f"{role} {spec.label}: artifact {spec.source_artifact!r} has no rows{where}")
        lo_step = int(max(target_series.steps[0], signal_series.steps[0]))
        hi_step = int(min(target_series.steps[-1], signal_series.steps[-1]))
        if lo_step > hi_step:
            raise CannotMeasure(
                f"the target ({params.target.label}, steps {int(target_series.steps[0])}..{int(target_series.steps[-1])}) "
                f"and signal ({params.signal.label}, steps {int(signal_series.steps[0])}..{int(signal_series.steps[-1])}) "
                "series share no steps"
            )
        nonpositive = target_series.nonpositive + signal_series.nonpositive
        target = find_events(target_series, params.target).select(params.target.kinds)
        t_on = target.onsets
        s_on = event_onsets(signal_series, params.signal)
        t_in = (t_on >= lo_step) & (t_on <= hi_step)
        t_on = t_on[t_in]
        s_on = s_on[(s_on >= lo_step) & (s_on <= hi_step)]
        rng = np.random.default_rng(params.seed)
        result = shift_test(t_on, s_on, params.within, lo_step, hi_step, params.permutations, rng)
        evidence: dict[str, Any] = {
            "step_range": [lo_step, hi_step],
            # Lists are cut at EVIDENCE_EVENTS (their totals are statistics): a long one costs time to store.
            "target_onsets": t_on[:EVIDENCE_EVENTS].tolist(),
            "preceded_onsets": t_on[result.preceded][:EVIDENCE_EVENTS].tolist(),
            "leads": result.leads[:EVIDENCE_EVENTS],
            "signal_onsets": s_on[:EVIDENCE_EVENTS].tolist(),
            "target_kinds": target.counts(),
            "targets_outside_range": int((~t_in).sum()),
            **transform_evidence(_transform(params), nonpositive),
        }
        return Measurement(
            statistics={
                "fraction": result.fraction,
                "base_rate": result.base_rate,
                "lift": result.lift,
                "p_value": result.p_value,
                "target_events": int(t_on.size),
                "signal_events": int(s_on.size),
                **({"nonpositive": nonpositive} if _transform(params) != "none" else {}),
            },
            n=int(t_on.size),
            evidence=evidence,
        )


def _transform(params: PrecedesParams) -> str:
    """`log`/`log10` when either spec transforms its series ("none" otherwise)."""
    used = [t for t in (params.target.transform, params.signal.transform) if t != "none"]
    return used[0] if used else "none"


def _series(run: Run, role: str, spec: EventSpec) -> Series:
    try:
        return load_series(run, spec)
    except CannotMeasure as exc:
        raise CannotMeasure(f"{role} {spec.label}: {exc.reason}") from None
