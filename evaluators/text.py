"""Text-level evaluators: what generated samples say, and what the model believed while writing them.

- `text.match_rate` — fraction of samples matching a pattern, with a Wilson interval.
- `text.stats` — length, distinct-n, repetition rate, vocabulary fraction, reduced over a window.
- `text.compare` — one per-sample statistic between two step windows: difference, ratio, and a
  seeded permutation p-value over samples.
- `text.top1_agreement` — how often the emitted token was the model's own top-1 (from top_logprobs).
- `text.perplexity` — per-sample and pooled perplexity from token_logprobs.

All of them read the artifact in one streaming pass (`Run.iter_samples`); definitions of the
per-sample statistics are in `evaluators/text_measures.py`.
"""

from __future__ import annotations

import math
import re
from array import array
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from registry import CannotMeasure, Evaluator, Measurement, Params

from ._common import StepWindow
from .text_measures import (
    TextStatistics,
    WindowScan,
    in_window,
    mean_logprob,
    permutation_p,
    read_vocab,
    safe_exp,
    show_window,
    top1_agreement,
    wilson,
)

if TYPE_CHECKING:
    import numpy as np

    from registry import Run, Sample


def _ordered(window: tuple[int | None, int | None]) -> tuple[int | None, int | None]:
    if window[0] is not None and window[1] is not None and window[0] > window[1]:
        raise ValueError(f"start {window[0]} is after end {window[1]}")
    return window


Window = Annotated[
    tuple[int | None, int | None],
    AfterValidator(_ordered),
    Field(description="Inclusive [start, end] steps; either may be null (open)."),
]


def _overlap(a: tuple[int | None, int | None] | None, b: tuple[int | None, int | None] | None) -> bool:
    if a is None or b is None:
        return True
    lo = max(-math.inf if a[0] is None else a[0], -math.inf if b[0] is None else b[0])
    hi = min(math.inf if a[1] is None else a[1], math.inf if b[1] is None else b[1])
    return lo <= hi


def _pattern_ok(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
    return value


def _regex(pattern: str | None, phrases: list[str] | None, ignore_case: bool) -> re.Pattern[str]:
    flags = re.IGNORECASE if ignore_case else 0
    if pattern is not None:
        return re.compile(pattern, flags)
    return re.compile("|".join(re.escape(p) for p in phrases or []), flags)


def _reduce(values: np.ndarray, how: str) -> float | None:
    import numpy as np

    values = values[~np.isnan(values)]
    if values.size == 0:
        return None
    return float(np.median(values) if how == "median" else np.mean(values))


def _as_array(values: array[float]) -> np.ndarray:
    import numpy as np

    return np.frombuffer(values, dtype=np.float64) if len(values) else np.zeros(0)


# --- text.match_rate ---------------------------------------------------------------------------------


class MatchRateParams(Params):
    artifact: str = Field("samples", description="Name of the run's text artifact.")
    pattern: Annotated[str | None, AfterValidator(_pattern_ok)] = Field(
        None, description="Regular expression searched in each sample's text."
    )
    phrases: list[str] | None = Field(None, description="Literal phrases; a sample matches if it has any.")
    ignore_case: bool = Field(False, description="Match without regard to case.")
    steps: StepWindow = None
    confidence: float = Field(0.95, gt=0, lt=1, description="Coverage of the Wilson interval ci_low..ci_high.")

    @model_validator(mode="after")
    def _one_of(self) -> MatchRateParams:
        if (self.pattern is None) == (self.phrases is None):
            raise ValueError("give exactly one of pattern or phrases")
        if self.phrases is not None and not self.phrases:
            raise ValueError("phrases must not be empty")
        return self


class MatchRate(Evaluator):
    """Fraction of samples (within `steps`, when given) whose text matches `pattern` or any of `phrases`, with a Wilson interval.

    `rate` = matches / samples considered; `ci_low`, `ci_high` bound it with the Wilson score
    interval at `confidence` (95% by default). With a step window, samples without a `step` are
    left out and counted in `unstepped`; a window without samples is inconclusive, with the reason.
    `n` is the number of samples considered. The evidence counts samples and matches per step
    (up to 100 distinct steps).
    """

    name = "text.match_rate"
    levels = frozenset({"text"})
    version = "2"
    Params = MatchRateParams
    statistics = ("rate", "ci_low", "ci_high", "matches", "unstepped")
    # Known bounds and rates, for `registry validate` lints.
    ranges = {
        "rate": (0.0, 1.0),
        "ci_low": (0.0, 1.0),
        "ci_high": (0.0, 1.0),
        "matches": (0.0, math.inf),
        "unstepped": (0.0, math.inf),
    }
    rates = frozenset({"rate"})

    def evaluate(self, params: MatchRateParams, run: Run) -> Measurement:
        search = _regex(params.pattern, params.phrases, params.ignore_case).search
        scan = WindowScan(run, params.artifact, [params.steps])
        considered = matches = 0
        per_step: dict[int, list[int]] | None = {}
        for _, s in scan:
            considered += 1
            hit = search(s.text) is not None
            matches += hit
            if s.step is not None and per_step is not None:
                counts = per_step.get(s.step)
                if counts is None:
                    if len(per_step) == PER_STEP_LIMIT:
                        per_step = None  # too many steps to list; the evidence says so
                        continue
                    counts = per_step[s.step] = [0, 0]
                counts[0] += 1
                counts[1] += hit
        scan.require(0)
        low, high = wilson(matches, considered, params.confidence)
        return Measurement(
            statistics={
                "rate": matches / considered,
                "ci_low": low,
                "ci_high": high,
                "matches": matches,
                "unstepped": scan.unstepped if params.steps is not None else 0,
            },
            n=considered,
            evidence={
                "per_step": None
                if per_step is None
                else [{"step": k, "samples": v[0], "matches": v[1]} for k, v in sorted(per_step.items())]
            },
        )


# --- text.stats ----------------------------------------------------------------------------------------


class TextOptions(Params):
    unit: Literal["word", "char"] = Field(
        "word", description="What length, distinct-n and repetition count: words or characters."
    )
    n: int = Field(2, ge=1, le=16, description="Order of distinct-n (distinct n-grams / all n-grams, per sample).")
    repetition_n: int = Field(
        4, ge=1, le=16, description="Order of the repetition rate (n-grams repeating an earlier one, per sample)."
    )
    vocab: list[str] | None = Field(None, description="Inline vocabulary: words (or characters, see vocab_unit).")
    vocab_artifact: str | None = Field(
        None, description="Name of a run artifact holding the vocabulary, UTF-8, one entry per line."
    )
    vocab_unit: Literal["word", "char"] = Field(
        "word", description="Count words, or non-whitespace characters, that are in the vocabulary."
    )
    vocab_ignore_case: bool = Field(True, description="Compare with the vocabulary case-insensitively.")

    @model_validator(mode="after")
    def _one_vocab(self) -> TextOptions:
        if self.vocab is not None and self.vocab_artifact is not None:
            raise ValueError("give vocab or vocab_artifact, not both")
        if self.vocab is not None and not any(v.strip() for v in self.vocab):
            raise ValueError("vocab must not be empty")
        return self

    @property
    def has_vocab(self) -> bool:
        return self.vocab is not None or self.vocab_artifact is not None

    def text_statistics(self, run: Run) -> TextStatistics:
        entries: frozenset[str] | None = None
        if self.vocab_artifact is not None:
            entries = read_vocab(run, self.vocab_artifact)
        elif self.vocab is not None:
            entries = frozenset(v.strip() for v in self.vocab if v.strip())
        if entries is not None and self.vocab_unit == "char":
            entries = frozenset(c for e in entries for c in e if not c.isspace())
        return TextStatistics(self.unit, self.n, self.repetition_n, entries, self.vocab_unit, self.vocab_ignore_case)


class StatsParams(TextOptions):
    artifact: str = Field("samples", description="Name of the run's text artifact.")
    steps: StepWindow = None
    reduce: Literal["mean", "median"] = Field("mean", description="How the per-sample values become one number.")


STAT_NAMES = ("length", "distinct_n", "repetition_rate", "vocab_fraction")
NO_STEP = -(1 << 63)  # int64 sentinel for a sample without a step
# Per-step evidence is listed up to this many distinct steps (a verdict keeps 100 items of a list).
PER_STEP_LIMIT = 100


class Stats(Evaluator):
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
    statistics = (*STAT_NAMES, "unstepped")

    def statistics_for(self, params: Any) -> tuple[str, ...]:
        if isinstance(params, StatsParams) and not params.has_vocab:
            return ("length", "distinct_n", "repetition_rate", "unstepped")
        return self.statistics

    def evaluate(self, params: StatsParams, run: Run) -> Measurement:
        import numpy as np

        measure = params.text_statistics(run).measure
        scan = WindowScan(run, params.artifact, [params.steps])
        columns: tuple[array[float], ...] = tuple(array("d") for _ in STAT_NAMES)
        lengths, distinct, repetition, vocab = columns
        steps = array("q")
        for _, s in scan:
            ln, d, r, v = measure(s.text)
            lengths.append(ln)
            distinct.append(d)
            repetition.append(r)
            vocab.append(v)
            steps.append(NO_STEP if s.step is None else s.step)
        scan.require(0)
        values = [_as_array(c) for c in columns]
        stats: dict[str, Any] = {name: _reduce(v, params.reduce) for name, v in zip(STAT_NAMES, values, strict=True)}
        if not params.has_vocab:
            del stats["vocab_fraction"]
        stats["unstepped"] = scan.unstepped if params.steps is not None else 0
        undefined = {name: int(np.isnan(v).sum()) for name, v in zip(STAT_NAMES, values, strict=True) if name in stats}
        return Measurement(
            statistics=stats,
            n=len(lengths),
            evidence={
                "undefined": {k: v for k, v in undefined.items() if v},
                "per_step": _per_step(np.frombuffer(steps, dtype=np.int64), values, [n for n in STAT_NAMES if n in stats]),
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


# --- text.compare --------------------------------------------------------------------------------------

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
    a: Window = Field(description="Window a, the reference: inclusive [start, end] steps; either may be null.")
    b: Window = Field(description="Window b, compared with a (difference = b - a): inclusive [start, end] steps.")
    reduce: Literal["mean", "median"] = Field("mean", description="Center of each window (and of the test).")
    permutations: int = Field(1000, ge=0, le=1_000_000, description="Random relabellings for p_value (0: none).")
    seed: int = Field(0, description="Seed of the permutations, so the p_value is reproducible.")
    alternative: Literal["two-sided", "greater", "less"] = Field(
        "two-sided", description="greater: b above a; less: b below a; two-sided: either."
    )
    pattern: Annotated[str | None, AfterValidator(_pattern_ok)] = Field(
        None, description="For statistic match: regular expression searched in each sample."
    )
    phrases: list[str] | None = Field(None, description="For statistic match: literal phrases, any of which matches.")
    ignore_case: bool = Field(False, description="For statistic match: match without regard to case.")
    metric: str | None = Field(None, description="For statistic metric: the per-sample score's name.")
    tolerance: float = Field(1e-6, ge=0, description="For top1_agreement: logprob ties within this count as top-1.")

    @model_validator(mode="after")
    def _consistent(self) -> CompareParams:
        if _overlap(self.a, self.b):
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


def _per_sample(params: CompareParams, run: Run) -> Any:
    """The function sample -> value (NaN where undefined) for `params.statistic`."""
    stat = params.statistic
    if stat in STAT_NAMES:
        of_text = params.text_statistics(run).sample_statistic(stat)
        return lambda s: of_text(s.text)
    if stat == "match":
        search = _regex(params.pattern, params.phrases, params.ignore_case).search
        return lambda s: 0.0 if search(s.text) is None else 1.0

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


class Compare(Evaluator):
    """One per-sample statistic between two step windows `a` and `b`: difference, ratio and a seeded permutation p-value.

    Each sample in window `a` or `b` gives one value of `statistic` (samples where it is undefined
    — too short, no logprobs, no such metric — are left out and counted in the evidence). `a` and
    `b` are the windows' means (or medians, by `reduce`); `difference` = b - a; `ratio` = b / a
    (null when a is 0). `p_value` is a Monte-Carlo permutation test over samples of the same
    difference: window labels are shuffled `permutations` times with `seed`, and p = (1 + #{as
    extreme}) / (1 + permutations); `alternative` greater tests b > a. `n` is the smaller window's
    number of samples with a value (`n_a`, `n_b` give both), so `min_samples` applies to each window.
    """

    name = "text.compare"
    levels = frozenset({"text"})
    version = "1"
    Params = CompareParams
    statistics = ("a", "b", "difference", "ratio", "p_value", "n_a", "n_b")
    ranges = {"p_value": (0.0, 1.0), "n_a": (0.0, math.inf), "n_b": (0.0, math.inf)}  # for validate lints

    def evaluate(self, params: CompareParams, run: Run) -> Measurement:
        value_of = _per_sample(params, run)
        scan = WindowScan(run, params.artifact, [params.a, params.b])
        values: tuple[array[float], array[float]] = (array("d"), array("d"))
        for k, s in scan:
            values[k].append(value_of(s))
        labels = ("window a", "window b")
        for k in (0, 1):
            scan.require(k, labels[k])
        arrays = []
        for k in (0, 1):
            v = _as_array(values[k])
            defined = v[~_isnan(v)]
            if defined.size == 0:
                window = show_window(params.a if k == 0 else params.b)
                raise CannotMeasure(f"none of the {v.size} samples in {labels[k]} {window} has {_NEEDS[params.statistic]}")
            arrays.append(defined)
        a_val = _reduce(arrays[0], params.reduce)
        b_val = _reduce(arrays[1], params.reduce)
        assert a_val is not None and b_val is not None
        p = permutation_p(arrays[0], arrays[1], params.reduce, params.permutations, params.seed, params.alternative)
        return Measurement(
            statistics={
                "a": a_val,
                "b": b_val,
                "difference": b_val - a_val,
                "ratio": b_val / a_val if a_val != 0 else None,
                "p_value": p,
                "n_a": int(arrays[0].size),
                "n_b": int(arrays[1].size),
            },
            n=int(min(arrays[0].size, arrays[1].size)),
            evidence={
                "undefined_a": len(values[0]) - int(arrays[0].size),
                "undefined_b": len(values[1]) - int(arrays[1].size),
                "unstepped": scan.unstepped,
            },
        )


def _isnan(v: np.ndarray) -> np.ndarray:
    import numpy as np

    return np.asarray(np.isnan(v))


# --- text.top1_agreement ---------------------------------------------------------------------------------


class Top1Params(Params):
    artifact: str = Field("samples", description="Name of the run's text artifact.")
    steps: StepWindow = None
    b: Annotated[
        tuple[int | None, int | None] | None,
        AfterValidator(lambda w: None if w is None else _ordered(w)),
        Field(description="A second window to compare with `steps`: adds agreement_b and difference = b - steps."),
    ] = None
    tolerance: float = Field(1e-6, ge=0, description="A logprob within this of the best alternative counts as top-1.")

    @model_validator(mode="after")
    def _apart(self) -> Top1Params:
        if self.b is not None and _overlap(self.steps, self.b):
            raise ValueError(f"windows steps {show_window(self.steps)} and b {show_window(self.b)} overlap")
        return self


class _AgreementTotals:
    def __init__(self) -> None:
        self.samples = 0
        self.positions = 0
        self.agree = 0
        self.gaps = 0.0
        self.gap_count = 0
        self.unscored = 0
        self.gap_unknown = 0
        self.with_top = 0

    def add(self, sample: Sample, tolerance: float) -> None:
        if not sample.has_top_logprobs:
            return
        self.with_top += 1
        ag = top1_agreement(sample, tolerance)
        self.unscored += ag.unscored
        self.gap_unknown += ag.gap_unknown
        if ag.positions:
            self.samples += 1
            self.positions += ag.positions
            self.agree += ag.agree
            self.gaps += math.fsum(ag.gaps)
            self.gap_count += len(ag.gaps)

    def statistics(self, suffix: str = "") -> dict[str, Any]:
        return {
            f"agreement{suffix}": self.agree / self.positions if self.positions else None,
            f"mean_gap{suffix}": self.gaps / self.gap_count if self.gap_count else None,
            f"positions{suffix}": self.positions,
            f"disagreements{suffix}": self.positions - self.agree,
        }


class Top1Agreement(Evaluator):
    """Fraction of emitted tokens that were the model's own top-1 choice, and the mean logprob gap when not (from top_logprobs).

    Pooled over the token positions of the samples in `steps`: `agreement` = positions whose
    emitted token has the highest logprob among the recorded alternatives (ties, within
    `tolerance`, agree) / positions scored; `mean_gap` = mean of (top-1 logprob - emitted logprob)
    over the positions that disagree (null when none does). With a second window `b`:
    `agreement_b`, `mean_gap_b`, `difference` = agreement_b - agreement and `gap_difference`.
    Positions without alternatives are not scored. `n` is the number of samples with a scored
    position (the smaller of the two windows' with `b`): tokens of one sample are not independent.
    """

    name = "text.top1_agreement"
    levels = frozenset({"text"})
    version = "1"
    Params = Top1Params
    statistics = (
        "agreement",
        "mean_gap",
        "positions",
        "disagreements",
        "agreement_b",
        "mean_gap_b",
        "positions_b",
        "disagreements_b",
        "difference",
        "gap_difference",
    )

    def statistics_for(self, params: Any) -> tuple[str, ...]:
        if isinstance(params, Top1Params) and params.b is None:
            return self.statistics[:4]
        return self.statistics

    def evaluate(self, params: Top1Params, run: Run) -> Measurement:
        windows = [params.steps] if params.b is None else [params.steps, params.b]
        scan = WindowScan(run, params.artifact, windows)
        totals = [_AgreementTotals() for _ in windows]
        for k, s in scan:
            totals[k].add(s, params.tolerance)
        labels = ("the window", "window b")
        for k, t in enumerate(totals):
            scan.require(k, labels[k])
            if t.with_top == 0:
                raise CannotMeasure(f"none of the {scan.counts[k]} samples{in_window(windows[k], labels[k])} has top_logprobs")
            if t.samples == 0:
                raise CannotMeasure(
                    f"no position{in_window(windows[k], labels[k])} could be scored "
                    "(top_logprobs empty, or neither token_logprobs nor tokens recorded)"
                )
        stats = totals[0].statistics()
        n = totals[0].samples
        if params.b is not None:
            stats.update(totals[1].statistics("_b"))
            a_ag, b_ag = stats["agreement"], stats["agreement_b"]
            stats["difference"] = b_ag - a_ag
            a_gap, b_gap = stats["mean_gap"], stats["mean_gap_b"]
            stats["gap_difference"] = b_gap - a_gap if a_gap is not None and b_gap is not None else None
            n = min(n, totals[1].samples)
        return Measurement(
            statistics=stats,
            n=n,
            evidence={
                "samples_scored": [t.samples for t in totals],
                "positions_unscored": [t.unscored for t in totals],
                "gaps_unknown": [t.gap_unknown for t in totals],
            },
        )


# --- text.perplexity -----------------------------------------------------------------------------------


class PerplexityParams(Params):
    artifact: str = Field("samples", description="Name of the run's text artifact.")
    steps: StepWindow = None


class Perplexity(Evaluator):
    """Per-sample and pooled perplexity of the generated tokens over a step window (from token_logprobs).

    `perplexity` = exp(-(sum of all token logprobs) / tokens), pooled over the window's tokens;
    `mean_logprob` = the pooled mean token logprob; `sample_perplexity_mean` and
    `sample_perplexity_median` reduce exp(-mean logprob) of each sample. Null logprobs (e.g. the
    first token of an echoed prompt) are skipped and counted in `missing_logprobs`. `n` is the
    number of samples with at least one logprob; `tokens` the number of tokens pooled.
    """

    name = "text.perplexity"
    levels = frozenset({"text"})
    version = "1"
    Params = PerplexityParams
    statistics = (
        "perplexity",
        "mean_logprob",
        "sample_perplexity_mean",
        "sample_perplexity_median",
        "tokens",
        "missing_logprobs",
    )

    def evaluate(self, params: PerplexityParams, run: Run) -> Measurement:
        import numpy as np

        scan = WindowScan(run, params.artifact, [params.steps])
        per_sample = array("d")
        total = 0.0
        tokens = missing = without = 0
        for _, s in scan:
            if not s.has_logprobs:
                without += 1
                continue
            lp_sum, have, miss = mean_logprob(s)
            missing += miss
            if have:
                total += lp_sum
                tokens += have
                per_sample.append(safe_exp(-lp_sum / have))
        scan.require(0)
        if not per_sample:
            what = "has token_logprobs" if without == scan.counts[0] else "has a non-null token logprob"
            raise CannotMeasure(f"none of the {scan.counts[0]} samples{in_window(params.steps)} {what}")
        ppl = np.frombuffer(per_sample, dtype=np.float64)
        return Measurement(
            statistics={
                "perplexity": safe_exp(-total / tokens),
                "mean_logprob": total / tokens,
                "sample_perplexity_mean": float(np.mean(ppl)),
                "sample_perplexity_median": float(np.median(ppl)),
                "tokens": tokens,
                "missing_logprobs": missing,
            },
            n=len(per_sample),
            evidence={"samples_without_logprobs": without},
        )
