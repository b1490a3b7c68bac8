"""Evaluators over a set of runs (predictions with `across: runs`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationError

from registry import CannotMeasure, CrossRunEvaluator, EvaluatorRegistry, Measurement, Params

from .events import EVIDENCE_EVENTS, EventParams, EventSpec, find_events
from .series import load_series
from .stats import permutation_p_value

if TYPE_CHECKING:
    import numpy as np

    from registry import Run


class RunsCompareParams(Params):
    evaluator: str = Field(description="A per-run evaluator whose statistic is compared, e.g. loss.spikes.")
    params: dict[str, Any] = Field({}, description="That evaluator's params.")
    statistic: str = Field(description="The per-run statistic to aggregate, e.g. count.")
    a: str | None = Field(None, description="Group compared (a prediction group name); omit to aggregate all runs.")
    b: str | None = Field(None, description="Group it is compared with.")
    aggregate: Literal["mean", "median"] = Field("mean", description="How a group's per-run values become one.")
    alternative: Literal["two-sided", "greater", "less"] = Field(
        "two-sided", description="p_value's alternative for a − b (greater: a is larger)."
    )
    permutations: int = Field(10_000, ge=1, description="Label shuffles when exact enumeration is larger than this.")
    seed: int = Field(0, description="Seed of the shuffles.")


def _aggregate(values: Sequence[float], how: str) -> float:
    import numpy as np

    return float(np.mean(values) if how == "mean" else np.median(values))


class RunsCompare(CrossRunEvaluator):
    """A per-run statistic from any per-run evaluator, aggregated per group (mean and median), and
    group a against group b: `difference` (a − b) and `ratio` (a / b) of the chosen aggregate, with a
    permutation `p_value` over run labels when each group has at least 2 runs (exact when the number
    of relabellings is at most `permutations`). Runs where the statistic is undefined are left out
    and listed. `n` is the number of runs with a value.
    """

    name = "runs.compare"
    levels = frozenset({"loss", "activation", "text"})
    version = "1"
    Params = RunsCompareParams
    statistics = (
        "mean_a",
        "median_a",
        "runs_a",
        "mean_b",
        "median_b",
        "runs_b",
        "difference",
        "ratio",
        "p_value",
        "permutations_used",
    )
    ranges = {"p_value": (0.0, 1.0), "runs_a": (0.0, math.inf), "runs_b": (0.0, math.inf)}  # for validate lints

    def group_names(self, params: RunsCompareParams) -> list[str]:
        return [g for g in (params.a, params.b) if g is not None]

    def check(self, params: RunsCompareParams, evaluators: EvaluatorRegistry) -> None:
        if (params.a is None) != (params.b is None):
            raise ValueError("give both groups a and b, or neither")
        inner = evaluators.get(params.evaluator)
        if inner.across != "run":
            raise ValueError(f"{params.evaluator} is not a per-run evaluator")
        try:
            validated = inner.Params.model_validate(params.params)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors(include_url=False)
            )
            raise ValueError(f"params of {params.evaluator}: {problems}") from None
        produced = inner.statistics_for(validated)
        if params.statistic not in produced:
            raise ValueError(f"{params.evaluator} does not produce {params.statistic!r} (it produces: {', '.join(produced)})")

    def evaluate_runs(
        self, params: RunsCompareParams, groups: Mapping[str, Sequence[Run]], evaluators: EvaluatorRegistry
    ) -> Measurement:
        inner = evaluators.get(params.evaluator)
        inner_params = inner.Params.model_validate(params.params)
        names = [params.a, params.b] if params.a is not None else [next(iter(groups))]
        for g in names:
            if g not in groups:
                raise CannotMeasure(f"the prediction declares no group {g!r} (it has: {', '.join(groups)})")
        values: dict[str, list[float]] = {}
        per_run: dict[str, float | None] = {}
        undefined: dict[str, str] = {}
        for g in names:
            assert g is not None
            values[g] = []
            for run in groups[g]:
                try:
                    stat = inner.evaluate(inner_params, run).statistics.get(params.statistic)
                except CannotMeasure as exc:
                    undefined[run.id] = exc.reason
                    per_run[run.id] = None
                    continue
                if stat is None or isinstance(stat, str) or (isinstance(stat, float) and math.isnan(stat)):
                    undefined[run.id] = f"{params.statistic} is undefined"
                    per_run[run.id] = None
                    continue
                values[g].append(float(stat))
                per_run[run.id] = float(stat)
        a = values[names[0]]  # type: ignore[index]
        if not a:
            raise CannotMeasure(f"no run in group {names[0]!r} has a value of {params.statistic}")
        stats: dict[str, Any] = {"mean_a": _aggregate(a, "mean"), "median_a": _aggregate(a, "median"), "runs_a": len(a)}
        n = len(a)
        if params.b is not None:
            b = values[params.b]
            if not b:
                raise CannotMeasure(f"no run in group {params.b!r} has a value of {params.statistic}")
            n += len(b)
            agg_a, agg_b = _aggregate(a, params.aggregate), _aggregate(b, params.aggregate)
            stats.update(
                mean_b=_aggregate(b, "mean"),
                median_b=_aggregate(b, "median"),
                runs_b=len(b),
                difference=agg_a - agg_b,
                ratio=agg_a / agg_b if agg_b != 0 else None,
            )
            if len(a) >= 2 and len(b) >= 2:
                p, used = permutation_p_value(
                    a,
                    b,
                    lambda x, y: _aggregate(x, params.aggregate) - _aggregate(y, params.aggregate),
                    alternative=params.alternative,
                    permutations=params.permutations,
                    seed=params.seed,
                )
                stats.update(p_value=p, permutations_used=used)
        return Measurement(statistics=stats, n=n, evidence={"per_run": per_run, "undefined": undefined})


def _matched(a: np.ndarray, width: np.ndarray, doubled: np.ndarray, length: int, shift: np.ndarray) -> np.ndarray:
    """Per shift d: the fraction of windows [a, a + width) holding an event of the other run shifted by d.

    `doubled` is the other run's sorted onsets followed by the same + length, so a circular window
    is one contiguous range in it."""
    import numpy as np

    start = (a[None, :] - shift[:, None]) % length
    end = start + width[None, :] - 1
    count = np.searchsorted(doubled, end, side="right") - np.searchsorted(doubled, start, side="left")
    fraction: np.ndarray = (count > 0).mean(axis=1)
    return fraction


class CoincideParams(EventParams):
    events: EventSpec = Field(
        description="The events compared across runs, e.g. {column: loss, detector: robust_z, window: 25, z: 4}."
    )
    tolerance: int = Field(0, ge=0, description="An event matches when another run has one within ±tolerance steps.")
    permutations: int = Field(1000, ge=1, le=100_000, description="Random circular shifts of each run's events.")
    seed: int = Field(0, ge=0, description="Seed of numpy.random.default_rng for the shifts.")


class Coincide(CrossRunEvaluator):
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
    version = "1"
    Params = CoincideParams
    statistics = ("fraction", "base_rate", "lift", "p_value", "runs", "pairs", "events_per_run")
    ranges = {"fraction": (0.0, 1.0), "base_rate": (0.0, 1.0), "p_value": (0.0, 1.0)}
    rates = frozenset({"fraction"})

    def evaluate_runs(
        self, params: CoincideParams, groups: Mapping[str, Sequence[Run]], evaluators: EvaluatorRegistry
    ) -> Measurement:
        import numpy as np

        runs = sorted({r.id: r for rs in groups.values() for r in rs}.values(), key=lambda r: r.id)
        if len(runs) < 2:
            raise CannotMeasure(f"events.coincide needs at least 2 runs, got {len(runs)}")
        series = [load_series(r, params.events) for r in runs]
        for run, s in zip(runs, series, strict=True):
            if s.steps.size == 0:
                raise CannotMeasure(f"run {run.id!r}: {params.events.label} has no rows")
        first = int(max(s.steps[0] for s in series))
        last = int(min(s.steps[-1] for s in series))
        if first >= last:
            raise CannotMeasure("the runs share no range of steps")
        length = last - first + 1
        onsets = []
        for s in series:
            on = find_events(s, params.events).select(params.events.kinds).onsets
            onsets.append(np.unique(on[(on >= first) & (on <= last)] - first))
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
            },
            n=int(sum(o.size for o in onsets)),
            evidence={
                "step_range": [first, last],
                "events": {r.id: (o + first)[:EVIDENCE_EVENTS].tolist() for r, o in zip(runs, onsets, strict=True)},
            },
        )
