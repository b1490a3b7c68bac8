"""text.match_rate — how often generated samples match a pattern or contain a phrase."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pydantic import Field, field_validator, model_validator

from registry.errors import CannotMeasure
from registry.plugins import Evaluator, Measurement, Params

from ._common import StepWindow

if TYPE_CHECKING:
    from registry.artifacts import Run


class MatchRateParams(Params):
    artifact: str = Field("samples", description="Name of the run's text artifact.")
    pattern: str | None = Field(None, description="Regular expression searched in each sample's text.")
    phrases: list[str] | None = Field(None, description="Literal phrases; a sample matches if it has any.")
    ignore_case: bool = Field(False, description="Match without regard to case.")
    steps: StepWindow = None

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_of(self) -> MatchRateParams:
        if (self.pattern is None) == (self.phrases is None):
            raise ValueError("give exactly one of pattern or phrases")
        if self.phrases is not None and not self.phrases:
            raise ValueError("phrases must not be empty")
        return self


class MatchRate(Evaluator):
    """Fraction of samples (within `steps`, when given) whose text matches `pattern` or any of `phrases`.

    With a step window, samples without a `step` are left out and counted in `unstepped`.
    `n` is the number of samples considered.
    """

    name = "text.match_rate"
    levels = frozenset({"text"})
    version = "1"
    Params = MatchRateParams
    statistics = ("rate", "matches", "unstepped")

    def evaluate(self, params: MatchRateParams, run: Run) -> Measurement:
        flags = re.IGNORECASE if params.ignore_case else 0
        if params.pattern is not None:
            regex = re.compile(params.pattern, flags)
        else:
            regex = re.compile("|".join(re.escape(p) for p in params.phrases or []), flags)
        samples = run.samples(params.artifact)
        considered = matches = unstepped = 0
        for s in samples:
            if params.steps is not None:
                if s.step is None:
                    unstepped += 1
                    continue
                lo, hi = params.steps
                if (lo is not None and s.step < lo) or (hi is not None and s.step > hi):
                    continue
            considered += 1
            if regex.search(s.text):
                matches += 1
        if not samples:
            raise CannotMeasure("the text artifact has no samples")
        return Measurement(
            statistics={"rate": matches / considered if considered else None, "matches": matches, "unstepped": unstepped},
            n=considered,
        )
