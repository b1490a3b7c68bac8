"""Text samples from JSONL: one generation per line, at least `text`, optionally `step` and `prompt`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ArtifactError


@dataclass(frozen=True)
class Sample:
    text: str
    step: int | None = None
    prompt: str | None = None
    # The whole record, for fields later evaluators use (tokens, logprobs, metadata).
    record: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def iter_samples(path: Path) -> Iterator[Sample]:
    """Stream samples; a malformed line is an ArtifactError naming its line."""
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise ArtifactError(path, f"cannot read file: {exc.strerror or exc}") from None
    with fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise ArtifactError(path, f"not UTF-8 (byte {exc.start} of the line)", line=lineno) from None
            except json.JSONDecodeError as exc:
                raise ArtifactError(path, f"invalid JSON: {exc.msg} at column {exc.colno}", line=lineno) from None
            if not isinstance(obj, dict):
                raise ArtifactError(path, "each line must be a JSON object", line=lineno)
            text = obj.get("text")
            if not isinstance(text, str):
                raise ArtifactError(
                    path,
                    "sample has no string 'text'" if text is None else "'text' must be a string",
                    line=lineno,
                    hint="each line needs at least {\"text\": \"...\"}",
                )
            step = obj.get("step")
            if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
                raise ArtifactError(path, f"'step' must be an integer, not {step!r}", line=lineno)
            prompt = obj.get("prompt")
            if prompt is not None and not isinstance(prompt, str):
                raise ArtifactError(path, "'prompt' must be a string", line=lineno)
            yield Sample(text=text, step=step, prompt=prompt, record=obj)


def read_samples(path: Path) -> list[Sample]:
    return list(iter_samples(path))
