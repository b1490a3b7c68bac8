"""events.coincide — how often an event of one run recurs in another run, against chance."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from pydantic import Field

from registry import CannotMeasure, CrossRunEvaluator, EvaluatorRegistry, Measurement, Stat

from .._lib.events import EVIDENCE_EVENTS, EventParams, EventSpec, event_onsets
from .._lib.series import load_series
from .._lib.shift import circular_hits
from .._lib.stats import count, fraction, p_value
from .._lib.transform import transform_evidence, with_nonpositive

if TYPE_CHECKING:
    import numpy as np

    from registry import Run


def _matched(a: np.ndarray, width: np.ndarray, doubled: np.ndarray, length: int, shift: np.ndarray) -> np.ndarray:
    """Per shift d: the fraction of windows [a, a + width) holding an event of the other run shifted by d."""
    matched: np.ndarray = circular_hits(a, width, doubled, length, shift).mean(axis=1)
    return matched


class CoincideParams(EventParams):
    events: EventSpec = Field(
        description="The events compared across runs, e.g. {column: loss, detector: robust_z, window: 25, z: 4}."
    )
    tolerance: int = Field(0, ge=0, description="An event matches when another run has one within ±tolerance steps.")
    permutations: int = Field(1000, ge=1, le=100_000, description="Random circular shifts of each run's events.")
    seed: int = Field(0, ge=0, description="Seed of numpy.random.default_rng for the shifts.")


class Coincide(CrossRunEvaluator[CoincideParams]):
    """How often an event of one run recurs in another run within ±`tolerance` steps, against chance.

    For every ordered pair of runs (i, j) with events, the fraction of i's events that have an event
    of j within ±tolerance steps; `fraction` is the mean over pairs. Only the steps every run covers
    are used. The null shifts each run's event train circularly by its own random offset (uniform
    on 1..L-1 over that step range, numpy default_rng(seed)), which keeps each run's event count and
    spacing but breaks any alignment between runs: `base_rate` is the mean shifted fraction,
    `p_value` = (1 + #{shifted fraction >= observed}) / (1 + permutations), `lift` = fraction /
    base_rate. All runs of all groups take part. `n` is the number of events in all runs.
    """

    name = "events.coincide"
    levels = frozenset({"loss", "activation"})
    version = "2"
    Params = CoincideParams
    statistics = (
        fraction("fraction", "Mean over ordered pairs of runs of the fraction of one's events matched in the other.", rate=True),
        fraction("base_rate", "The mean fraction over the random circular shifts."),
        Stat("lift", "fraction / base_rate (null when base_rate is 0).", range=(0, math.inf)),
        p_value("(1 + #{shifted fraction >= observed}) / (1 + permutations)."),
        count("runs", "Runs taking part."),
        count("pairs", "Ordered pairs of runs whose first run has events."),
        Stat("events_per_run", "Mean number of events per run in the shared steps.", range=(0, math.inf)),
    )

    def statistics_for(self, params: CoincideParams) -> tuple[Stat, ...]:
        return with_nonpositive(self.statistics, params.events.transform)

    def evaluate_runs(
        self,
        params: CoincideParams,
        groups: Mapping[str, Sequence[Run]],
        evaluators: EvaluatorRegistry,  # noqa: ARG002 - the protocol's; coincide calls no other evaluator
    ) -> Measurement:
        import numpy as np

        runs = sorted({r.id: r for rs in groups.values() for r in rs}.values(), key=lambda r: r.id)
        if len(runs) < 2:
            raise CannotMeasure(f"events.coincide needs at least 2 runs, got {len(runs)}")
        first, last, onsets, nonpositive = _shared_onsets(runs, params)
        length = last - first + 1
        rng = np.random.default_rng(params.seed)
        shifts = rng.integers(1, length, size=(params.permutations, len(runs)))
        tol = params.tolerance
        observed: list[float] = []
        null = np.zeros(params.permutations)
        pairs = 0
        for i, t in enumerate(onsets):
            if t.size == 0:
                continue
            for j, u in enumerate(onsets):
                if i == j:
                    continue
                pairs += 1
                doubled = np.concatenate((u, u + length))
                a = np.maximum(t - tol, 0)
                width = np.minimum(t + tol, length - 1) - a + 1
                observed.append(float(_matched(a, width, doubled, length, np.zeros(1, dtype=np.int64))[0]))
                null += _matched(a, width, doubled, length, (shifts[:, j] - shifts[:, i]) % length)
        if not pairs:
            raise CannotMeasure(f"no run has {params.events.label} events in the shared steps {first}..{last}")
        fraction = float(np.mean(observed))
        null /= pairs
        base_rate = float(null.mean())
        return Measurement(
            statistics={
                "fraction": fraction,
                "base_rate": base_rate,
                "lift": fraction / base_rate if base_rate > 0 else None,
                "p_value": (1 + int((null >= fraction - 1e-12).sum())) / (1 + params.permutations),
                "runs": len(runs),
                "pairs": pairs,
                "events_per_run": float(np.mean([o.size for o in onsets])),
                **({"nonpositive": nonpositive} if params.events.transform != "none" else {}),
            },
            n=int(sum(o.size for o in onsets)),
            evidence={
                "step_range": [first, last],
                "events": {r.id: (o + first)[:EVIDENCE_EVENTS].tolist() for r, o in zip(runs, onsets, strict=True)},
                **transform_evidence(params.events.transform, nonpositive),
            },
        )


def _shared_onsets(runs: Sequence[Run], params: CoincideParams) -> tuple[int, int, list[np.ndarray], int]:
    """The step range every run covers, and each run's event onsets in it (as offsets from its start)."""
    import numpy as np

    series = [load_series(r, params.events) for r in runs]
    for run, s in zip(runs, series, strict=True):
        if s.steps.size == 0:
            raise CannotMeasure(f"run {run.id!r}: {params.events.label} has no rows")
    first = int(max(s.steps[0] for s in series))
    last = int(min(s.steps[-1] for s in series))
    if first >= last:
        raise CannotMeasure("the runs share no range of steps")
    onsets = []
    for s in series:
        on = event_onsets(s, params.events)
        onsets.append(np.unique(on[(on >= first) & (on <= last)] - first))
    return first, last, onsets, sum(s.nonpositive for s in series)
