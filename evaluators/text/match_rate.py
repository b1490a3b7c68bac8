"""text.match_rate — fraction of samples matching a pattern, with a Wilson interval."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, Field, model_validator

from registry import Evaluator, Measurement, Params, Stat

from .._lib.text import wilson
from .._lib.text_options import PER_STEP_LIMIT, pattern_of, pattern_ok, regex
from .._lib.text_vector import matches_all
from .._lib.text_windows import ColumnWindows
from .._lib.windows import StepWindow

if TYPE_CHECKING:
    import numpy as np

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
        compiled = regex(params.pattern, params.phrases, params.ignore_case)
        scan = ColumnWindows(run, params.artifact, [params.steps])
        hits = matches_all(compiled, pattern_of(params.pattern, params.phrases), params.ignore_case, scan.texts(0))
        scan.require(0)
        considered, matches = scan.counts[0], int(hits.sum())
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
            evidence={"per_step": _per_step(scan, hits)},
        )


def _per_step(scan: ColumnWindows, hits: np.ndarray) -> list[dict[str, int]] | None:
    """Samples and matches at each step of the window (stepped samples only); None past PER_STEP_LIMIT steps."""
    import numpy as np

    stepped = scan.columns.stepped[scan.indices[0]]
    steps, inverse = np.unique(scan.steps(0)[stepped], return_inverse=True)
    if steps.size > PER_STEP_LIMIT:
        return None
    samples = np.bincount(inverse, minlength=steps.size)
    matches = np.bincount(inverse, weights=hits[stepped], minlength=steps.size)
    return [{"step": int(s), "samples": int(n), "matches": int(m)} for s, n, m in zip(steps, samples, matches, strict=True)]
