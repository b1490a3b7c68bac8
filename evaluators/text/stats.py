"""text.stats — length, distinct-n, repetition rate, vocabulary fraction, reduced over a window."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from registry import Evaluator, Measurement, Stat

from .._lib.reduce import reduce_defined
from .._lib.text_options import NO_STEP, PER_STEP_LIMIT, STAT_NAMES, TextOptions
from .._lib.text_vector import measure_all
from .._lib.text_windows import ColumnWindows
from .._lib.windows import StepWindow

if TYPE_CHECKING:
    import numpy as np

    from registry import Run


class StatsParams(TextOptions):
    artifact: str = Field("samples", description="Name of the run's text artifact.")
    steps: StepWindow = None
    reduce: Literal["mean", "median"] = Field("mean", description="How the per-sample values become one number.")


class Stats(Evaluator[StatsParams]):
    """Per-sample length, distinct-n, repetition rate and vocabulary fraction, reduced (mean or median) over a step window.

    Per sample: `length` in units (words by default, or characters); `distinct_n` = distinct
    n-grams / all n-grams (Li et al. 2016); `repetition_rate` = fraction of n-grams (order
    `repetition_n`) repeating an earlier n-gram of the same sample (Welleck et al. 2019, seq-rep-n);
    `vocab_fraction` = words (or non-whitespace characters) in the vocabulary / all of them, only
    with `vocab` or `vocab_artifact`. Samples too short for a statistic are left out of that
    statistic's reduction (counted in the evidence). `n` is the number of samples considered; with a
    step window, samples without a step are left out (`unstepped`).
    """

    name = "text.stats"
    levels = frozenset({"text"})
    version = "1"
    Params = StatsParams
    statistics = (
        Stat("length", "Length of a sample in units (words or characters), reduced over the samples.", range=(0, math.inf)),
        Stat("distinct_n", "Distinct n-grams / all n-grams of a sample, reduced over the samples.", range=(0, 1)),
        Stat("repetition_rate", "Fraction of a sample's n-grams repeating an earlier one, reduced.", range=(0, 1)),
        Stat("vocab_fraction", "Units of a sample in the vocabulary / all its units, reduced (with a vocabulary).", range=(0, 1)),
        Stat("unstepped", "Samples without a step, left out of a step window.", range=(0, math.inf), type=int),
    )

    def statistics_for(self, params: StatsParams) -> tuple[Stat, ...]:
        if not params.has_vocab:
            return tuple(s for s in self.statistics if s.name != "vocab_fraction")
        return self.statistics

    def evaluate(self, params: StatsParams, run: Run) -> Measurement:
        import numpy as np

        statistics = params.text_statistics(run)
        scan = ColumnWindows(run, params.artifact, [params.steps])
        values = list(measure_all(statistics, scan.texts(0)))
        scan.require(0)
        stats: dict[str, Any] = {name: reduce_defined(v, params.reduce) for name, v in zip(STAT_NAMES, values, strict=True)}
        if not params.has_vocab:
            del stats["vocab_fraction"]
        stats["unstepped"] = scan.unstepped if params.steps is not None else 0
        undefined = {name: int(np.isnan(v).sum()) for name, v in zip(STAT_NAMES, values, strict=True) if name in stats}
        return Measurement(
            statistics=stats,
            n=scan.counts[0],
            evidence={
                "undefined": {k: v for k, v in undefined.items() if v},
                "per_step": _per_step(scan.steps(0), values, [n for n in STAT_NAMES if n in stats]),
            },
        )


def _per_step(steps: np.ndarray, values: list[np.ndarray], names: list[str]) -> list[dict[str, Any]] | None:
    """Mean of each statistic at each step (stepped samples only), for a reader of the verdict;
    None when there are more than PER_STEP_LIMIT steps."""
    import numpy as np

    keep = steps != NO_STEP
    if not keep.any():
        return []
    uniq, inverse = np.unique(steps[keep], return_inverse=True)
    if uniq.size > PER_STEP_LIMIT:
        return None
    counts = np.bincount(inverse, minlength=uniq.size)
    rows: list[dict[str, Any]] = [{"step": int(s), "samples": int(c)} for s, c in zip(uniq, counts, strict=True)]
    for name, v in zip(STAT_NAMES, values, strict=False):
        if name not in names:
            continue
        x = v[keep]
        ok = ~np.isnan(x)
        sums = np.bincount(inverse[ok], weights=x[ok], minlength=uniq.size)
        have = np.bincount(inverse[ok], minlength=uniq.size)
        for row, total, k in zip(rows, sums, have, strict=True):
            row[name] = float(total / k) if k else None
    return rows
