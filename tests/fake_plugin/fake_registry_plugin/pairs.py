"""fake.pairs — a cross-run evaluator: how many runs it was given."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from registry import CrossRunEvaluator, EvaluatorRegistry, Measurement, Params, Run, Stat


class PairsParams(Params):
    pass


class Pairs(CrossRunEvaluator[PairsParams]):
    """Count the runs of every group."""

    name = "fake.pairs"
    levels = frozenset({"loss"})
    version = "1"
    Params = PairsParams
    statistics = (Stat("runs", "Runs in all groups.", range=(0, float("inf")), type=int),)

    def evaluate_runs(
        self,
        params: PairsParams,  # noqa: ARG002
        groups: Mapping[str, Sequence[Run]],
        evaluators: EvaluatorRegistry,  # noqa: ARG002
    ) -> Measurement:
        runs = sum(len(rs) for rs in groups.values())
        return Measurement(statistics={"runs": runs}, n=runs)
