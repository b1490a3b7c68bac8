"""One text sample, whatever the file's shape: text, step, prompt, id, tokens and logprobs (checked
when first asked for), metrics, and the whole record."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.errors import ArtifactError

if TYPE_CHECKING:
    pass


# A logprob above this is not a log-probability (someone saved probabilities or logits).
_LOGPROB_TOLERANCE = 1e-4


class Sample:
    """One generated text and what was recorded with it.

    `tokens()`, `token_logprobs()`, `top_logprobs()` and `metrics()` check their values on first
    use and raise a located ArtifactError when they are malformed.
    """

    __slots__ = ("text", "step", "prompt", "id", "record", "source", "line", "_tokens", "_logprobs", "_top", "_metrics")

    def __init__(
        self,
        text: str,
        step: int | None = None,
        prompt: str | None = None,
        record: dict[str, Any] | None = None,
        *,
        id: str | None = None,
        tokens: Any = None,
        token_logprobs: Any = None,
        top_logprobs: Any = None,
        metrics: Any = None,
        source: Path | None = None,
        line: int | None = None,
    ) -> None:
        self.text = text
        self.step = step
        self.prompt = prompt
        self.id = id
        self.record: dict[str, Any] = record if record is not None else {}
        self.source = source
        self.line = line
        self._tokens = tokens
        self._logprobs = token_logprobs
        self._top = top_logprobs
        self._metrics = metrics

    def __repr__(self) -> str:
        return f"Sample(step={self.step!r}, id={self.id!r}, text={self.text[:40]!r})"

    def _error(self, message: str, hint: str | None = None) -> ArtifactError:
        return ArtifactError(self.source or Path("<sample>"), message, line=self.line, hint=hint)

    @property
    def has_logprobs(self) -> bool:
        return self._logprobs is not None

    @property
    def has_top_logprobs(self) -> bool:
        return self._top is not None

    def tokens(self) -> list[str] | None:
        """The generated tokens, or None when not recorded."""
        if self._tokens is None:
            return None
        for i, tok in enumerate(self._tokens):
            if not isinstance(tok, str):
                raise self._error(f"tokens[{i}] must be a string, not {tok!r}")
        return list(self._tokens)

    def token_logprobs(self) -> list[float | None] | None:
        """Log-probability of each generated token (None where a tool wrote null), or None."""
        if self._logprobs is None:
            return None
        out: list[float | None] = []
        for i, lp in enumerate(self._logprobs):
            if lp is None:
                out.append(None)
                continue
            out.append(self._logprob(lp, f"token_logprobs[{i}]"))
        return out

    def top_logprobs(self) -> list[dict[str, float]] | None:
        """Per position, the alternatives token -> logprob (empty where none were recorded), or None."""
        if self._top is None:
            return None
        out: list[dict[str, float]] = []
        for i, entry in enumerate(self._top):
            alts: dict[str, float] = {}
            if entry is None:
                pass
            elif isinstance(entry, dict):
                for tok, lp in entry.items():
                    alts[tok] = self._logprob(lp, f"top_logprobs[{i}][{tok!r}]")
            elif isinstance(entry, list):
                for j, alt in enumerate(entry):
                    if not isinstance(alt, dict) or not isinstance(alt.get("token"), str) or "logprob" not in alt:
                        raise self._error(f'top_logprobs[{i}][{j}] must be {{"token": ..., "logprob": ...}}, not {alt!r}'[:200])
                    lp = self._logprob(alt["logprob"], f"top_logprobs[{i}][{j}].logprob")
                    tok = alt["token"]
                    alts[tok] = max(lp, alts.get(tok, -math.inf))
            else:
                raise self._error(
                    f"top_logprobs[{i}] must be an object token -> logprob or a list of {{token, logprob}}, "
                    f"not {type(entry).__name__}"
                )
            out.append(alts)
        return out

    def metrics(self) -> dict[str, float]:
        """Numeric per-sample scores: a native record's `metrics` object, or lm_eval's metric fields."""
        raw = self._metrics
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise self._error(f"'metrics' must be an object name -> number, not {type(raw).__name__}")
        out: dict[str, float] = {}
        for key, value in raw.items():
            if isinstance(value, int | float):  # bool too: a pass/fail score counts as 1.0/0.0
                out[key] = float(value)
        return out

    def _logprob(self, value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._error(f"{where} must be a number, not {value!r}"[:200])
        x = float(value)
        if math.isnan(x) or x > _LOGPROB_TOLERANCE:
            raise self._error(
                f"{where} is {value!r}, not a log-probability (<= 0)",
                hint="store natural-log probabilities, not probabilities or logits",
            )
        return min(x, 0.0)
