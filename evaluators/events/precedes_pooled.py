"""events.precedes_pooled — `events.precedes` pooled over runs: each run's events are few, together
they are enough to judge."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import Field

from registry import CannotMeasure, CrossRunEvaluator, EvaluatorRegistry, Measurement, Stat

from .._lib.events import EVIDENCE_EVENTS, EventParams, EventSpec, event_onsets
from .._lib.series import load_series
from .._lib.shift import ShiftCounts, shift_counts, summarize
from .._lib.stats import count, fraction, p_value
from .._lib.windows import Offsets

if TYPE_CHECKING:
    import numpy as np

    from registry import Run


class PooledParams(EventParams):
    target: EventSpec = Field(description="The events to explain in every run, e.g. {column: loss, detector: robust_z, z: 8}.")
    signal: EventSpec = Field(
        description="The events that should come first, e.g. {column: grad_norm, detector: robust_z, z: 6}."
    )
    within: Offsets
    permutations: int = Field(1000, ge=1, le=1_000_000, description="Joint circular shifts (one per run) for the null.")
    seed: int = Field(0, ge=0, description="Seed of numpy.random.default_rng for the shifts (drawn run by run, in run-id order).")


class PrecedesPooled(CrossRunEvaluator[PooledParams]):
    """`events.precedes` over every run the prediction applies to, pooled: the fraction of all runs'
    target events with a signal onset `within` [lo, hi] steps of the target's onset, against a null
    that shifts each run's signal events circularly within that run.

    Per run, exactly as `events.precedes`: only the steps both series cover are used, and a shift by
    k (uniform on 1..L-1, L that run's range in steps) moves every signal onset of the run. One null
    draw shifts every run by its own k (numpy default_rng(seed), run by run in run-id order), so each
    run keeps its own event counts and spacing; `base_rate` is the mean pooled fraction over the
    draws, `p_value` = (1 + #{pooled shifted count >= observed}) / (1 + permutations), `lift` =
    fraction / base_rate. A run whose series share no steps or have fewer than 2 steps is left out
    and listed. `n` is the number of target events in all runs.
    """

    name = "events.precedes_pooled"
    levels = frozenset({"loss", "activation"})
    version = "1"
    Params = PooledParams
    statistics = (
        fraction("fraction", "Target events (all runs) with a signal onset `within` their window / target events.", rate=True),
        fraction("base_rate", "The mean pooled fraction over the joint circular shifts."),
        Stat("lift", "fraction / base_rate (null when base_rate is 0).", range=(0, math.inf)),
        p_value("(1 + #{pooled shifted count >= observed}) / (1 + permutations)."),
        count("target_events", "Target events in all runs, in the steps both series cover."),
        count("signal_events", "Signal events in all runs, in the steps both series cover."),
        count("runs", "Runs taking part (with a shared step range)."),
    )

    def evaluate_runs(
        self,
        params: PooledParams,
        groups: Mapping[str, Sequence[Run]],
        evaluators: EvaluatorRegistry,  # noqa: ARG002 - the protocol's; no other evaluator is called
    ) -> Measurement:
        import numpy as np

        runs = sorted({r.id: r for rs in groups.values() for r in rs}.values(), key=lambda r: r.id)
        rng = np.random.default_rng(params.seed)
        per_run: dict[str, tuple[ShiftCounts, np.ndarray, np.ndarray]] = {}
        left_out: dict[str, str] = {}
        for run in runs:
            onsets = _onsets(run, params)
            if isinstance(onsets, str):
                left_out[run.id] = onsets
                continue
            t_on, s_on, first, last = onsets
            # Drawn for every usable run in run-id order, so adding a run never reshuffles the others.
            shifts = rng.integers(1, last - first + 1, size=params.permutations)
            per_run[run.id] = (shift_counts(t_on, s_on, params.within, first, last, shifts), t_on, s_on)
        if not per_run:
            raise CannotMeasure("no run has target and signal series that share at least 2 steps")
        targets = sum(c.targets for c, _, _ in per_run.values())
        preceded = sum(int(c.observed.sum()) for c, _, _ in per_run.values())
        null = np.zeros(params.permutations, dtype=np.int64)
        for c, _, _ in per_run.values():
            if c.null is not None:  # every kept run spans >= 2 steps, so it always has one
                null += c.null
        frac, base_rate, lift, p = summarize(preceded, targets, null, params.permutations)
        evidence: dict[str, Any] = {
            "runs": {
                rid: {
                    "target_onsets": t_on[:EVIDENCE_EVENTS].tolist(),
                    "preceded_onsets": t_on[c.observed][:EVIDENCE_EVENTS].tolist(),
                    "leads": c.leads[:EVIDENCE_EVENTS],
                    "signal_events": int(s_on.size),
                }
                for rid, (c, t_on, s_on) in per_run.items()
            },
            "left_out": left_out,
        }
        return Measurement(
            statistics={
                "fraction": frac,
                "base_rate": base_rate,
                "lift": lift,
                "p_value": p,
                "target_events": targets,
                "signal_events": sum(int(s.size) for _, _, s in per_run.values()),
                "runs": len(per_run),
            },
            n=targets,
            evidence=evidence,
        )


def _onsets(run: Run, params: PooledParams) -> tuple[np.ndarray, np.ndarray, int, int] | str:
    """Target and signal onsets of one run inside the steps both series cover, or why the run is left out."""
    target_series = load_series(run, params.target)
    signal_series = load_series(run, params.signal)
    if target_series.steps.size == 0 or signal_series.steps.size == 0:
        return "a series has no rows"
    first = int(max(target_series.steps[0], signal_series.steps[0]))
    last = int(min(target_series.steps[-1], signal_series.steps[-1]))
    if last - first < 1:
        return "the series share fewer than 2 steps"
    t_on = event_onsets(target_series, params.target)
    s_on = event_onsets(signal_series, params.signal)
    t_on = t_on[(t_on >= first) & (t_on <= last)]
    s_on = s_on[(s_on >= first) & (s_on <= last)]
    return t_on, s_on, first, last
