"""text.match_rate — fraction of samples matching a pattern, with a Wilson interval."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, Field, model_validator

from registry import Evaluator, Measurement, Params, Stat

from .._lib.text import WindowScan, wilson
from .._lib.text_options import PER_STEP_LIMIT, pattern_ok, regex
from .._lib.windows import StepWindow

if TYPE_CHECKING:
    from registry import Run


class MatchRateParams(Params):
    artifact: str = Field("samples", description="Name of the run's text artifact.")
    pattern: Annotated[str | None, AfterValidator(pattern_ok)] = Field(
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


class MatchRate(Evaluator[MatchRateParams]):
    """Fraction of samples (within `steps`, when given) whose text matches `pattern` or any of `phrases`, with a Wilson interval.

    `rate` = matches / samples considered; `ci_low`, `ci_high` bound it with the Wilson score
    interval at `confidence` (95% by default). With a step window, samples without a `step` are
    left out and counted in `unstepped`; a window without samples is inconclusive, with the reason.
    `n` is the number of samples considered. The evidence counts samples and matches per step
    (up to 100 distinct steps). Version 3: the pattern runs on RE2 (linear time; `\\w`, `\\b`, `\\d` are
    ASCII, as in RE2, and a pattern with backreferences or lookaround is refused).
    """

    name = "text.match_rate"
    levels = frozenset({"text"})
    version = "3"
    Params = MatchRateParams
    statistics = (
        Stat("rate", "Fraction of the samples considered that match.", range=(0, 1), rate=True),
        Stat("ci_low", "Lower end of the Wilson score interval of rate at `confidence`.", range=(0, 1)),
        Stat("ci_high", "Upper end of the Wilson score interval of rate at `confidence`.", range=(0, 1)),
        Stat("matches", "Samples that match.", range=(0, math.inf), type=int),
        Stat("unstepped", "Samples without a step, left out of a step window.", range=(0, math.inf), type=int),
    )

    def evaluate(self, params: MatchRateParams, run: Run) -> Measurement:
        search = regex(params.pattern, params.phrases, params.ignore_case).search
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
