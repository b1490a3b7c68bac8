"""text.compare — one per-sample statistic between two step windows: difference (a − b), ratio, and
a seeded permutation p-value over samples."""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from registry import CannotMeasure, Evaluator, Measurement, Stat

from .._lib.permutation import Alternative, permutation_test
from .._lib.reduce import reduce_defined
from .._lib.text import WindowScan, mean_logprob, safe_exp, top1_agreement
from .._lib.text_options import STAT_NAMES, TextOptions, as_array, pattern_of, pattern_ok, regex
from .._lib.text_vector import matches_all, measure_all
from .._lib.text_windows import ColumnWindows
from .._lib.windows import Window, overlap, show_window

if TYPE_CHECKING:
    import numpy as np

    from registry import Run, Sample


CompareStatistic = Literal[
    "length",
    "distinct_n",
    "repetition_rate",
    "vocab_fraction",
    "match",
    "mean_logprob",
    "perplexity",
    "top1_agreement",
    "metric",
]


class CompareParams(TextOptions):
    artifact: str = Field("samples", description="Name of the run's text artifact.")
    statistic: CompareStatistic = Field(
        description="Per-sample value compared: a text.stats statistic, match (1 if the sample matches), "
        "mean_logprob or perplexity (from token_logprobs), top1_agreement (from top_logprobs), "
        "or metric (a per-sample score named by `metric`)."
    )
    a: Window = Field(description="Window a: inclusive [start, end] steps; either may be null (difference = a - b).")
    b: Window = Field(description="Window b, the reference a is compared with: inclusive [start, end] steps.")
    reduce: Literal["mean", "median"] = Field("mean", description="Center of each window (and of the test).")
    permutations: int = Field(1000, ge=0, le=1_000_000, description="Random relabellings for p_value (0: none).")
    seed: int = Field(0, description="Seed of the permutations, so the p_value is reproducible.")
    alternative: Literal["two-sided", "greater", "less"] = Field(
        "two-sided", description="greater: a above b; less: a below b; two-sided: either."
    )
    pattern: Annotated[str | None, AfterValidator(pattern_ok)] = Field(
        None, description="For statistic match: regular expression searched in each sample."
    )
    phrases: list[str] | None = Field(None, description="For statistic match: literal phrases, any of which matches.")
    ignore_case: bool = Field(False, description="For statistic match: match without regard to case.")
    metric: str | None = Field(None, description="For statistic metric: the per-sample score's name.")
    tolerance: float = Field(1e-6, ge=0, description="For top1_agreement: logprob ties within this count as top-1.")

    @model_validator(mode="after")
    def _consistent(self) -> CompareParams:
        if overlap(self.a, self.b):
            raise ValueError(f"windows a {show_window(self.a)} and b {show_window(self.b)} overlap")
        matching = self.pattern is not None or self.phrases is not None
        if self.statistic == "match":
            if (self.pattern is None) == (self.phrases is None):
                raise ValueError("statistic match needs exactly one of pattern or phrases")
            if self.phrases is not None and not self.phrases:
                raise ValueError("phrases must not be empty")
        elif matching:
            raise ValueError("pattern and phrases are only used with statistic: match")
        if (self.statistic == "metric") != (self.metric is not None):
            raise ValueError("statistic metric needs `metric` (the score's name), and `metric` needs statistic metric")
        if self.statistic == "vocab_fraction" and not self.has_vocab:
            raise ValueError("statistic vocab_fraction needs vocab or vocab_artifact")
        return self


# What a sample lacks when a statistic is undefined for it (for the inconclusive reason).
_NEEDS = {
    "length": "text",
    "distinct_n": "enough units for distinct-n",
    "repetition_rate": "enough units for the repetition rate",
    "vocab_fraction": "any word or character to check against the vocabulary",
    "match": "text",
    "mean_logprob": "token_logprobs",
    "perplexity": "token_logprobs",
    "top1_agreement": "top_logprobs",
    "metric": "the metric",
}


def _per_sample(params: CompareParams) -> Any:
    """The function sample -> value (NaN where undefined) for a statistic of logprobs or metrics."""
    stat = params.statistic
    if stat in ("mean_logprob", "perplexity"):

        def logprob(s: Sample) -> float:
            total, have, _ = mean_logprob(s)
            if not have:
                return math.nan
            return total / have if stat == "mean_logprob" else safe_exp(-total / have)

        return logprob
    if stat == "top1_agreement":

        def agreement(s: Sample) -> float:
            ag = top1_agreement(s, params.tolerance)
            return ag.agree / ag.positions if ag.positions else math.nan

        return agreement
    name = params.metric or ""
    return lambda s: s.metrics().get(name, math.nan)


class Compare(Evaluator[CompareParams]):
    """One per-sample statistic between two step windows `a` and `b`: difference, ratio and a seeded permutation p-value.

    Each sample in window `a` or `b` gives one value of `statistic` (samples where it is undefined
    — too short, no logprobs, no such metric — are left out and counted in the evidence). `a` and
    `b` are the windows' means (or medians, by `reduce`); `difference` = a − b, as in every
    evaluator; `ratio` = a / b (null when b is 0). `p_value` is a Monte-Carlo permutation test over
    samples of the same difference: window labels are shuffled `permutations` times with `seed`, and
    p = (1 + #{as extreme}) / (1 + permutations); `alternative` greater tests a > b. `n` is the
    smaller window's number of samples with a value (`n_a`, `n_b` give both), so `min_samples`
    applies to each window. Version 2: version 1 reported b − a and b / a. Version 3: `pattern` runs on
    RE2, as in text.match_rate.
    """

    name = "text.compare"
    levels = frozenset({"text"})
    version = "3"
    Params = CompareParams
    statistics = (
        Stat("a", "Mean (or median) of the statistic over window a's samples."),
        Stat("b", "Mean (or median) of the statistic over window b's samples."),
        Stat("difference", "a − b."),
        Stat("ratio", "a / b (null when b is 0)."),
        Stat("p_value", "Permutation p-value of the difference under `alternative`.", range=(0, 1)),
        Stat("n_a", "Samples in window a with a value.", range=(0, math.inf), type=int),
        Stat("n_b", "Samples in window b with a value.", range=(0, math.inf), type=int),
    )

    def evaluate(self, params: CompareParams, run: Run) -> Measurement:
        values, unstepped = _of_text(params, run) if params.statistic in _OF_TEXT else _of_samples(params, run)
        labels = ("window a", "window b")
        arrays = []
        for k in (0, 1):
            v = values[k]
            defined = v[~_isnan(v)]
            if defined.size == 0:
                window = show_window(params.a if k == 0 else params.b)
                raise CannotMeasure(f"none of the {v.size} samples in {labels[k]} {window} has {_NEEDS[params.statistic]}")
            arrays.append(defined)
        a_val = reduce_defined(arrays[0], params.reduce)
        b_val = reduce_defined(arrays[1], params.reduce)
        assert a_val is not None and b_val is not None
        return Measurement(
            statistics={
                "a": a_val,
                "b": b_val,
                "difference": a_val - b_val,
                "ratio": a_val / b_val if b_val != 0 else None,
                "p_value": _p_value(params, arrays[0], arrays[1]),
                "n_a": int(arrays[0].size),
                "n_b": int(arrays[1].size),
            },
            n=int(min(arrays[0].size, arrays[1].size)),
            evidence={
                "undefined_a": len(values[0]) - int(arrays[0].size),
                "undefined_b": len(values[1]) - int(arrays[1].size),
                "unstepped": unstepped,
            },
        )


# Statistics of the text alone: measured on the run's text columns, for all samples at once.
_OF_TEXT = (*STAT_NAMES, "match")


def _of_text(params: CompareParams, run: Run) -> tuple[list[np.ndarray], int]:
    """Each window's values of a statistic of the text, and the samples without a step."""
    measure: Callable[[list[str]], np.ndarray]
    if params.statistic == "match":
        compiled = regex(params.pattern, params.phrases, params.ignore_case)
        pattern = pattern_of(params.pattern, params.phrases)

        def measure(texts: list[str]) -> np.ndarray:
            return matches_all(compiled, pattern, params.ignore_case, texts).astype(float)
    else:
        statistics, index = params.text_statistics(run), STAT_NAMES.index(params.statistic)

        def measure(texts: list[str]) -> np.ndarray:
            return measure_all(statistics, texts)[index]

    scan = ColumnWindows(run, params.artifact, [params.a, params.b])
    values = [measure(scan.texts(k)) for k in (0, 1)]
    for k, label in enumerate(("window a", "window b")):
        scan.require(k, label)
    return values, scan.unstepped


def _of_samples(params: CompareParams, run: Run) -> tuple[list[np.ndarray], int]:
    """Each window's values of a statistic of the samples' logprobs or metrics, and the samples without a step."""
    value_of = _per_sample(params)
    scan = WindowScan(run, params.artifact, [params.a, params.b])
    values: tuple[array[float], array[float]] = (array("d"), array("d"))
    for k, s in scan:
        values[k].append(value_of(s))
    for k, label in enumerate(("window a", "window b")):
        scan.require(k, label)
    return [as_array(v) for v in values], scan.unstepped


# The test runs on center(b) - center(a) over the pooled samples [b, a], so `alternative` flips: this
# keeps the random draws of version 1 (which pooled its reference window first), and so its p-values.
_FLIPPED: dict[str, Alternative] = {"greater": "less", "less": "greater", "two-sided": "two-sided"}


def _p_value(params: CompareParams, a: np.ndarray, b: np.ndarray) -> float | None:
    if params.permutations == 0:
        return None
    test = permutation_test(
        b,
        a,
        params.reduce,
        alternative=_FLIPPED[params.alternative],
        permutations=params.permutations,
        seed=params.seed,
        exact=False,  # documented as Monte Carlo; small windows keep their seeded p-values
    )
    return test.p_value


def _isnan(v: np.ndarray) -> np.ndarray:
    import numpy as np

    return np.asarray(np.isnan(v))
