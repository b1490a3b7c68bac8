"""runs.compare — a per-run statistic from any per-run evaluator, group a against group b."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationError

from registry import CannotMeasure, CrossRunEvaluator, EvaluatorRegistry, Measurement, Params, Stat

from .._lib.permutation import permutation_test
from .._lib.reduce import Center, reduce
from .._lib.stats import count, p_value

if TYPE_CHECKING:
    from registry import Run


class RunsCompareParams(Params):
    evaluator: str = Field(description="A per-run evaluator whose statistic is compared, e.g. loss.spikes.")
    params: dict[str, Any] = Field({}, description="That evaluator's params.")
    statistic: str = Field(description="The per-run statistic to aggregate, e.g. count.")
    a: str | None = Field(None, description="Group compared (a prediction group name); omit to aggregate all runs.")
    b: str | None = Field(None, description="Group it is compared with.")
    aggregate: Center = Field("mean", description="How a group's per-run values become one.")
    alternative: Literal["two-sided", "greater", "less"] = Field(
        "two-sided", description="p_value's alternative for a − b (greater: a is larger)."
    )
    permutations: int = Field(10_000, ge=1, description="Label shuffles when exact enumeration is larger than this.")
    seed: int = Field(0, description="Seed of the shuffles.")


class RunsCompare(CrossRunEvaluator[RunsCompareParams]):
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
        Stat("mean_a", "Mean of the statistic over group a's runs (all runs without groups)."),
        Stat("median_a", "Median of the statistic over group a's runs."),
        count("runs_a", "Runs of group a with a value."),
        Stat("mean_b", "Mean of the statistic over group b's runs."),
        Stat("median_b", "Median of the statistic over group b's runs."),
        count("runs_b", "Runs of group b with a value."),
        Stat("difference", "a − b of the `aggregate` (mean or median)."),
        Stat("ratio", "a / b of the `aggregate` (null when b is 0)."),
        p_value("Permutation p-value over run labels of the difference (with 2+ runs per group)."),
        count("permutations_used", "Relabellings behind p_value (all of them when exact)."),
    )

    def statistics_for(self, params: RunsCompareParams) -> tuple[Stat, ...]:
        """Without groups only group a's (every run's) statistics; p_value and permutations_used are
        left out when a group has fewer than 2 runs with a value."""
        return self.statistics if params.b is not None else self.statistics[:3]

    def group_names(self, params: RunsCompareParams) -> list[str]:
        return [g for g in (params.a, params.b) if g is not None]

    def check(self, params: RunsCompareParams, evaluators: EvaluatorRegistry) -> None:
        if (params.a is None) != (params.b is None):
            raise ValueError("give both groups a and b, or neither")
        inner = evaluators.per_run(params.evaluator)
        try:
            validated = inner.Params.model_validate(params.params)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors(include_url=False))
            raise ValueError(f"params of {params.evaluator}: {problems}") from None
        produced = [s.name for s in inner.statistics_for(validated)]
        if params.statistic not in produced:
            raise ValueError(f"{params.evaluator} does not produce {params.statistic!r} (it produces: {', '.join(produced)})")

    def evaluate_runs(
        self, params: RunsCompareParams, groups: Mapping[str, Sequence[Run]], evaluators: EvaluatorRegistry
    ) -> Measurement:
        import numpy as np

        inner = evaluators.per_run(params.evaluator)
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
        stats: dict[str, Any] = {"mean_a": reduce(a, "mean"), "median_a": reduce(a, "median"), "runs_a": len(a)}
        n = len(a)
        if params.b is not None:
            b = values[params.b]
            if not b:
                raise CannotMeasure(f"no run in group {params.b!r} has a value of {params.statistic}")
            n += len(b)
            agg_a, agg_b = reduce(a, params.aggregate), reduce(b, params.aggregate)
            stats.update(
                mean_b=reduce(b, "mean"),
                median_b=reduce(b, "median"),
                runs_b=len(b),
                difference=agg_a - agg_b,
                ratio=agg_a / agg_b if agg_b != 0 else None,
            )
            if len(a) >= 2 and len(b) >= 2:
                test = permutation_test(
                    np.asarray(a),
                    np.asarray(b),
                    params.aggregate,
                    alternative=params.alternative,
                    permutations=params.permutations,
                    seed=params.seed,
                )
                stats.update(p_value=test.p_value, permutations_used=test.used)
        return Measurement(statistics=stats, n=n, evidence={"per_run": per_run, "undefined": undefined})
