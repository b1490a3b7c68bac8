"""What the text evaluators share beyond per-sample measures: the text-statistic options, patterns,
and the limits of per-step evidence."""

from __future__ import annotations

import re
from array import array
from typing import TYPE_CHECKING, Any, Literal

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


# Claim patterns run on RE2 (google-re2), whose matching time is linear in the text: a claim cannot
# make an evaluation hang with catastrophic backtracking (`(a+)+$`). RE2 has no backreferences and no
# lookaround; such patterns are refused at `registry validate`, naming the construct.
_UNSUPPORTED = (
    (re.compile(r"\(\?<?[=!]"), "lookaround ((?=...), (?!...), (?<=...), (?<!...))"),
    (re.compile(r"\\[1-9]|\(\?P=|\\g<|\\k<"), "backreferences (\\1, (?P=name))"),
    (re.compile(r"\(\?>|[*+?}][+]"), "atomic groups and possessive quantifiers"),
    (re.compile(r"\(\?\("), "conditionals ((?(1)...))"),
)


def _compile(pattern: str, ignore_case: bool) -> Any:
    import re2

    options = re2.Options()
    options.case_sensitive = not ignore_case
    options.log_errors = False
    return re2.compile(pattern, options)


def pattern_ok(value: str | None) -> str | None:
    """A pattern RE2 compiles; otherwise ValueError naming what it cannot do."""
    if value is None:
        return value
    import re2

    try:
        _compile(value, False)
    except re2.error as exc:
        for construct, name in _UNSUPPORTED:
            if construct.search(value):
                raise ValueError(
                    f"regular expression uses {name}, which the linear-time engine (RE2) does not support; "
                    "rewrite the pattern without it"
                ) from None
        why = exc.args[0] if exc.args else exc
        raise ValueError(f"invalid regular expression: {why.decode() if isinstance(why, bytes) else why}") from None
    return value


def pattern_of(pattern: str | None, phrases: list[str] | None) -> str:
    """The claim's pattern, or its phrases escaped and joined."""
    return pattern if pattern is not None else "|".join(re.escape(p) for p in phrases or [])


def regex(pattern: str | None, phrases: list[str] | None, ignore_case: bool) -> Any:
    """The claim's pattern (or its phrases, escaped and joined), compiled with RE2."""
    return _compile(pattern_of(pattern, phrases), ignore_case)


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
