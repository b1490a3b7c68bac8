"""This project's own shape (`format:` absent, `samples` or `jsonl`): one sample per line."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from registry.errors import ArtifactError
from registry.readers.text.lines import Fields, _decoder, _locate_bad_utf8, check_lengths, check_step, parse_line
from registry.readers.text.sample import Sample

if TYPE_CHECKING:
    pass


def read_native(obj: dict[str, Any], f: Fields, file: Path, lineno: int) -> Iterable[Sample]:
    text = f.get(obj, f.text)
    if not isinstance(text, str):
        raise ArtifactError(
            file,
            f"sample has no string '{f.text}'" if text is None else f"'{f.text}' must be a string",
            line=lineno,
            hint='each line needs at least {"text": "..."}',
        )
    if f.step is None:
        step = obj.get("step")
        if type(step) is not int:  # absent, in metadata, or not an integer: the slow path says which
            step = f.step_of(obj, file, lineno)
    else:
        step = f.step_of(obj, file, lineno)
    prompt = f.get(obj, f.prompt)
    if prompt is not None and not isinstance(prompt, str):
        raise ArtifactError(file, f"'{f.prompt}' must be a string", line=lineno)
    ident = f.get(obj, f.id)
    tokens = f.get(obj, f.tokens)
    logprobs = f.get(obj, f.token_logprobs)
    top = f.get(obj, f.top_logprobs)
    if tokens is not None or logprobs is not None or top is not None:
        check_lengths(((f.tokens, tokens), (f.token_logprobs, logprobs), (f.top_logprobs, top)), file, lineno)
    return (
        Sample(
            text,
            step,
            prompt,
            obj,
            id=None if ident is None else str(ident),
            tokens=tokens,
            token_logprobs=logprobs,
            top_logprobs=top,
            metrics=f.get(obj, f.metrics),
            source=file,
            line=lineno,
        ),
    )


def native_step(obj: dict[str, Any], file: Path, lineno: int, path_step: int | None) -> int | None:
    """The record's `step`, else `metadata.step`, else the step in the file's path."""
    step = obj.get("step")
    if step is None:
        meta = obj.get("metadata")
        if type(meta) is dict and "step" in meta:
            return check_step(meta["step"], file, lineno, "metadata.step")
        return path_step
    if type(step) is not int:
        return check_step(step, file, lineno)
    return step


def stream_native(file: Path, fields: Fields, where: list[tuple[str, Any]], path_step: int | None) -> Iterator[Sample]:
    """The native shape without renames, inlined: the hot loop of every text evaluator.

    Same checks and messages as `numbered_lines` + `parse_line` + `read_native` (it falls back to them for any
    problem), without a generator layer and a function call per line.
    """
    decode = _decoder.raw_decode
    new = Sample.__new__
    try:
        fh: TextIO = file.open("r", encoding="utf-8-sig", newline="\n")
    except OSError as exc:
        raise ArtifactError(file, f"cannot read file: {exc.strerror or exc}") from None
    lineno = 0
    with fh:
        try:
            for lineno, line in enumerate(fh, start=1):
                try:
                    obj, end = decode(line)
                except (ValueError, RecursionError):  # JSONDecodeError, or a too-long integer or nesting
                    if line.isspace():
                        continue
                    obj = parse_line(line, file, lineno)
                else:
                    if end < len(line) - 1 or (end == len(line) - 1 and line[-1] != "\n"):
                        obj = parse_line(line, file, lineno)  # trailing data, or an error message to give
                if type(obj) is not dict:
                    raise ArtifactError(file, "each line must be a JSON object", line=lineno)
                if where and any(obj.get(k) != v for k, v in where):
                    continue
                get = obj.get
                text: Any = get("text")
                prompt: Any = get("prompt")
                if type(text) is not str or (prompt is not None and type(prompt) is not str):
                    read_native(obj, fields, file, lineno)  # raises, with the message
                step = native_step(obj, file, lineno, path_step)
                tokens = get("tokens")
                logprobs = get("token_logprobs")
                top = get("top_logprobs")
                if tokens is not None or logprobs is not None or top is not None:
                    check_lengths((("tokens", tokens), ("token_logprobs", logprobs), ("top_logprobs", top)), file, lineno)
                ident = get("id")
                sample = new(Sample)
                sample.text = text
                sample.step = step
                sample.prompt = prompt
                sample.id = ident if ident is None or type(ident) is str else str(ident)
                sample.record = obj
                sample.source = file
                sample.line = lineno
                sample._tokens = tokens
                sample._logprobs = logprobs
                sample._top = top
                sample._metrics = get("metrics")
                yield sample
        except UnicodeDecodeError:
            raise _locate_bad_utf8(file, lineno) from None
        except OSError as exc:
            raise ArtifactError(file, f"cannot read file: {exc.strerror or exc}", line=lineno + 1) from None
