"""The measurements behind the text evaluators: per-sample statistics, one streaming pass over a
text artifact split into step windows, and the Wilson interval.

Definitions (per sample; "units" are words or characters, by the `unit` param):

- length: number of units.
- distinct-n (Li et al. 2016, "A Diversity-Promoting Objective Function for Neural Conversation
  Models"): distinct n-grams / all n-grams of the sample. Undefined with fewer than n units.
- repetition rate (Welleck et al. 2019, "Neural Text Generation with Unlikelihood Training",
  seq-rep-n): the fraction of the sample's n-grams that repeat an n-gram seen earlier in the same
  sample, i.e. 1 - distinct/all for that n. With the same n it is 1 - distinct-n; the defaults
  differ (distinct-2 for lexical diversity, rep-4 for looping phrases).
- vocabulary fraction: words (or non-whitespace characters) that are in the given vocabulary,
  over all words (characters) of the sample. Undefined for a sample without any.
- words are maximal runs of letters, digits and '_' joined by inner apostrophes ("thou'rt").
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, Literal

from registry import ArtifactError, CannotMeasure

from .windows import Bounds, show_window

if TYPE_CHECKING:
    from registry import Run, Sample

Window = Bounds | None

WORD_RE = re.compile(r"\w+(?:['\u2019]\w+)*")
NAN = math.nan


# --- per-sample statistics ------------------------------------------------------------------------


# ASCII text without apostrophes (most text) is split into words with bytes.translate + split, about
# three times faster than the regex and the same words: for ASCII, \w is [A-Za-z0-9_].
_NOT_WORD = bytes(c if chr(c).isalnum() or c == ord("_") else ord(" ") for c in range(128)) + b" " * 128
_NOT_WORD_LOWER = _NOT_WORD.lower()


def words(text: str, fold: bool = False) -> Sequence[str] | Sequence[bytes]:
    """The words of `text` (case-folded with `fold`), as str or, on the ASCII fast path, as bytes."""
    if text.isascii() and "'" not in text:
        return text.encode().translate(_NOT_WORD_LOWER if fold else _NOT_WORD).split()
    found = WORD_RE.findall(text)
    return [w.casefold() for w in found] if fold else found


def _ngram_ratio(units: Sequence[Any], n: int) -> tuple[int, int]:
    """(distinct n-grams, all n-grams) of a sequence of units (words, or the characters of a str)."""
    total = len(units) - n + 1
    if total <= 0:
        return 0, 0
    if n == 1:
        return len(set(units)), total
    if isinstance(units, str):
        return len({units[i : i + n] for i in range(total)}), total
    if n == 2:
        return len(set(zip(units, units[1:], strict=False))), total
    if n == 3:
        return len(set(zip(units, units[1:], units[2:], strict=False))), total
    if n == 4:
        return len(set(zip(units, units[1:], units[2:], units[3:], strict=False))), total
    return len(set(zip(*(units[i:] for i in range(n)), strict=False))), total


class TextStatistics:
    """Per-sample length, distinct-n, repetition rate and vocabulary fraction under fixed options."""

    def __init__(
        self,
        unit: Literal["word", "char"] = "word",
        n: int = 2,
        repetition_n: int = 4,
        vocab: frozenset[str] | None = None,
        vocab_unit: Literal["word", "char"] = "word",
        vocab_ignore_case: bool = True,
    ):
        self.unit = unit
        self.n = n
        self.repetition_n = repetition_n
        self.vocab_unit = vocab_unit
        self.fold = vocab_ignore_case
        if vocab is not None and vocab_ignore_case:
            vocab = frozenset(v.casefold() for v in vocab)
        self.vocab = vocab
        # The same vocabulary for words found on the bytes fast path.
        self.vocab_bytes = frozenset(v.encode() for v in vocab if v.isascii()) if vocab is not None else None

    def measure(self, text: str) -> tuple[float, float, float, float]:
        """(length, distinct-n, repetition rate, vocabulary fraction); NaN where undefined."""
        units: Sequence[Any] = words(text) if self.unit == "word" else text
        length = len(units)
        d, t = _ngram_ratio(units, self.n)
        distinct = d / t if t else NAN
        rn = self.repetition_n
        if rn == self.n:
            repetition = 1.0 - distinct if t else NAN
        elif rn > self.n and t and d == t:
            # No n-gram repeats, so no longer one can (its first n units would repeat too).
            repetition = 0.0 if length >= rn else NAN
        else:
            d, t = _ngram_ratio(units, rn)
            repetition = 1.0 - d / t if t else NAN
        return float(length), distinct, repetition, self.vocab_fraction(text, units)

    def vocab_fraction(self, text: str, units: Sequence[Any] | None = None) -> float:
        vocab = self.vocab
        if vocab is None:
            return NAN
        if self.vocab_unit == "word":
            found = units if units is not None and self.unit == "word" and not self.fold else words(text, self.fold)
            if not found:
                return NAN
            lookup = self.vocab_bytes if isinstance(found[0], bytes) else vocab
            assert lookup is not None
            return sum(map(lookup.__contains__, found)) / len(found)
        chars = "".join((text.casefold() if self.fold else text).split())
        return sum(map(vocab.__contains__, chars)) / len(chars) if chars else NAN


def mean_logprob(sample: Sample) -> tuple[float, int, int]:
    """(sum of the sample's token logprobs, tokens with a logprob, tokens whose logprob is null)."""
    lps = sample.token_logprobs()
    if lps is None:
        return 0.0, 0, 0
    total = 0.0
    have = missing = 0
    for lp in lps:
        if lp is None:
            missing += 1
        else:
            total += lp
            have += 1
    return total, have, missing


def safe_exp(x: float) -> float:
    return math.inf if x > 700 else math.exp(x)


class Agreement:
    """Per-position top-1 agreement of one sample: positions scored, agreements, gaps at the rest."""

    __slots__ = ("positions", "agree", "gaps", "unscored", "gap_unknown")

    def __init__(self) -> None:
        self.positions = 0
        self.agree = 0
        self.gaps: list[float] = []
        self.unscored = 0
        self.gap_unknown = 0


def top1_agreement(sample: Sample, tolerance: float) -> Agreement:
    """Whether each emitted token was the model's own top-1 among its recorded alternatives.

    A position agrees when the emitted token's logprob is at least the best alternative's (within
    `tolerance`, for rounding in the saved numbers; ties agree). Without the emitted logprob the
    token strings are compared. Positions without alternatives are not scored.
    """
    out = Agreement()
    top = sample.top_logprobs()
    if top is None:
        return out
    lps = sample.token_logprobs()
    tokens = sample.tokens()
    for i, alts in enumerate(top):
        if not alts:
            out.unscored += 1
            continue
        best_tok = max(alts, key=alts.__getitem__)
        best = alts[best_tok]
        emitted = lps[i] if lps is not None else None
        if emitted is not None:
            out.positions += 1
            if emitted >= best - tolerance:
                out.agree += 1
            else:
                out.gaps.append(best - emitted)
        elif tokens is not None:
            out.positions += 1
            tok = tokens[i]
            if tok == best_tok or alts.get(tok, -math.inf) >= best - tolerance:
                out.agree += 1
            elif tok in alts:
                out.gaps.append(best - alts[tok])
            else:
                out.gap_unknown += 1
        else:
            out.unscored += 1
    return out


def read_vocab(run: Run, name: str) -> frozenset[str]:
    """A vocabulary artifact: UTF-8 text, one entry per line; blank lines and '#' comments skipped."""
    path = run.path(name)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ArtifactError(path, f"cannot read file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ArtifactError(path, "not UTF-8", line=line, hint="a vocabulary file is UTF-8 text, one entry per line") from None
    entries = frozenset(s for s in (ln.strip() for ln in text.splitlines()) if s and not s.startswith("#"))
    if not entries:
        raise ArtifactError(path, "the vocabulary file is empty", hint="one word (or character) per line")
    return entries


# --- one pass over the samples, split into windows --------------------------------------------------


class WindowScan:
    """Streams a text artifact once and yields (window index, sample) for samples in any window.

    `None` as a window means every sample (stepped or not); a step window keeps samples whose step
    is inside it and counts the samples without a step in `unstepped`.
    """

    def __init__(self, run: Run, artifact: str, windows: Sequence[Window]):
        self.run = run
        self.artifact = artifact
        self.windows = list(windows)
        self.total = 0
        self.unstepped = 0
        self.counts = [0] * len(self.windows)
        self.min_step: int | None = None
        self.max_step: int | None = None

    def __iter__(self) -> Iterator[tuple[int, Sample]]:
        windows = self.windows
        bounds = [
            (None if w is None else (-math.inf if w[0] is None else w[0], math.inf if w[1] is None else w[1])) for w in windows
        ]
        counts = self.counts
        lo_seen: float = math.inf
        hi_seen: float = -math.inf
        total = unstepped = 0
        try:
            for sample in self.run.iter_samples(self.artifact):
                total += 1
                step = sample.step
                if step is not None:
                    if step < lo_seen:
                        lo_seen = step
                    if step > hi_seen:
                        hi_seen = step
                else:
                    unstepped += 1
                for k, b in enumerate(bounds):
                    if b is None or (step is not None and b[0] <= step <= b[1]):
                        counts[k] += 1
                        yield k, sample
                        break
        finally:
            self.total, self.unstepped = total, unstepped
            self.min_step = None if lo_seen == math.inf else int(lo_seen)
            self.max_step = None if hi_seen == -math.inf else int(hi_seen)

    def empty_reason(self, k: int, label: str = "the window") -> str:
        return empty_reason(self.total, self.min_step, self.max_step, self.windows[k], label)

    def require(self, k: int, label: str = "the window") -> None:
        if self.counts[k] == 0:
            raise CannotMeasure(self.empty_reason(k, label))


def empty_reason(total: int, min_step: int | None, max_step: int | None, window: Window, label: str) -> str:
    """Why a window holds no sample (the inconclusive reason)."""
    if total == 0:
        return "the text artifact has no samples"
    if min_step is None:
        return f"no sample has a step, so none is in {label} {show_window(window)}"
    return f"no samples with steps in {label} {show_window(window)} (the samples' steps run from {min_step} to {max_step})"


# --- inference ---------------------------------------------------------------------------------------


def wilson(successes: int, trials: int, confidence: float) -> tuple[float | None, float | None]:
    """Wilson score interval for a binomial proportion (Wilson 1927); (None, None) without trials."""
    if trials == 0:
        return None, None
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / trials
    z2n = z * z / trials
    centre = (p + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(p * (1 - p) / trials + z2n / (4 * trials)) / (1 + z2n)
    return max(0.0, centre - half), min(1.0, centre + half)
