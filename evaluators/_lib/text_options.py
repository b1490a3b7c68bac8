"""What the text evaluators share beyond per-sample measures: the text-statistic options, patterns,
and the limits of per-step evidence."""

from __future__ import annotations

import re
from array import array
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from registry import Params

from .text import TextStatistics, read_vocab

if TYPE_CHECKING:
    import numpy as np

    from registry import Run

# The per-sample text statistics of text.stats (and text.compare's `statistic`).
STAT_NAMES = ("length", "distinct_n", "repetition_rate", "vocab_fraction")
NO_STEP = -(1 << 63)  # int64 sentinel for a sample without a step
# Per-step evidence is listed up to this many distinct steps (a verdict keeps 100 items of a list).
PER_STEP_LIMIT = 100


def pattern_ok(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
    return value


def regex(pattern: str | None, phrases: list[str] | None, ignore_case: bool) -> re.Pattern[str]:
    flags = re.IGNORECASE if ignore_case else 0
    if pattern is not None:
        return re.compile(pattern, flags)
    return re.compile("|".join(re.escape(p) for p in phrases or []), flags)


def as_array(values: array[float]) -> np.ndarray:
    import numpy as np

    return np.frombuffer(values, dtype=np.float64) if len(values) else np.zeros(0)


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
