"""text.top1_agreement — how often the emitted token was the model's own top-1 (from top_logprobs)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from registry import CannotMeasure, Evaluator, Measurement, Params, Stat

from .._lib.text import WindowScan, top1_agreement
from .._lib.windows import StepWindow, overlap, show_window, window_phrase

if TYPE_CHECKING:
    from registry import Run, Sample


class Top1Params(Params):
    artifact: str = Field("samples", description="Name of the run's text artifact.")
    steps: StepWindow = None
    b: StepWindow = Field(
        None, description="A second window to compare with `steps`: adds agreement_b and difference = steps - b."
    )
    tolerance: float = Field(1e-6, ge=0, description="A logprob within this of the best alternative counts as top-1.")

    @model_validator(mode="after")
    def _apart(self) -> Top1Params:
        if self.b is not None and overlap(self.steps, self.b):
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


def _window_stats(suffix: str, of: str = "") -> tuple[Stat, ...]:
    return (
        Stat(f"agreement{suffix}", f"Scored positions{of} whose emitted token was the top-1 / positions scored.", range=(0, 1)),
        Stat(
            f"mean_gap{suffix}",
            f"Mean top-1 logprob − emitted logprob over the positions{of} that disagree.",
            range=(0, math.inf),
        ),
        Stat(f"positions{suffix}", f"Positions scored{of}.", range=(0, math.inf), type=int),
        Stat(
            f"disagreements{suffix}",
            f"Positions scored{of} whose emitted token was not the top-1.",
            range=(0, math.inf),
            type=int,
        ),
    )


class Top1Agreement(Evaluator[Top1Params]):
    """Fraction of emitted tokens that were the model's own top-1 choice, and the mean logprob gap when not (from top_logprobs).

    Pooled over the token positions of the samples in `steps`: `agreement` = positions whose
    emitted token has the highest logprob among the recorded alternatives (ties, within
    `tolerance`, agree) / positions scored; `mean_gap` = mean of (top-1 logprob - emitted logprob)
    over the positions that disagree (null when none does). With a second window `b`:
    `agreement_b`, `mean_gap_b`, `difference` = agreement − agreement_b (a − b, as in every
    evaluator) and `gap_difference` = mean_gap − mean_gap_b. Version 2: version 1 reported b − a.
    Positions without alternatives are not scored. `n` is the number of samples with a scored
    position (the smaller of the two windows' with `b`): tokens of one sample are not independent.
    """

    name = "text.top1_agreement"
    levels = frozenset({"text"})
    version = "2"
    Params = Top1Params
    statistics = (
        *_window_stats(""),
        *_window_stats("_b", " of window b"),
        Stat("difference", "agreement − agreement_b (with `b`).", range=(-1, 1)),
        Stat("gap_difference", "mean_gap − mean_gap_b (with `b`; null when either is)."),
    )

    def statistics_for(self, params: Top1Params) -> tuple[Stat, ...]:
        if params.b is None:
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
                raise CannotMeasure(
                    f"none of the {scan.counts[k]} samples{window_phrase(windows[k], labels[k])} has top_logprobs"
                )
            if t.samples == 0:
                raise CannotMeasure(
                    f"no position{window_phrase(windows[k], labels[k])} could be scored "
                    "(top_logprobs empty, or neither token_logprobs nor tokens recorded)"
                )
        stats = totals[0].statistics()
        n = totals[0].samples
        if params.b is not None:
            stats.update(totals[1].statistics("_b"))
            a_ag, b_ag = stats["agreement"], stats["agreement_b"]
            stats["difference"] = a_ag - b_ag
            a_gap, b_gap = stats["mean_gap"], stats["mean_gap_b"]
            stats["gap_difference"] = a_gap - b_gap if a_gap is not None and b_gap is not None else None
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
