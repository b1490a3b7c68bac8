"""A text artifact as columns: every sample's text and step, read in one pass and kept, so that all
the predictions on a run share one parse (`Run.text_columns`).

The native shape without renames or filters (the common large file) is decoded with msgspec, which
reads only `text`, `step` and `prompt` into objects and checks the rest of each line without building
it. Anything that path cannot settle exactly as the line-by-line reader would — a step in `metadata`,
token arrays to check, a number JSON writes only for Python, bytes that are not UTF-8, a line of
thousands of brackets or digits — is handed to that reader (`samples.py`, `lines.py`): one line when
the line is valid, the whole file when anything is wrong, so every error is the reader's own, located
message.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.errors import ArtifactError
from registry.files import Boundary
from registry.readers.formats import NATIVE_TEXT_FORMATS
from registry.readers.text.lines import Fields, parse_line, step_from_path, text_files
from registry.readers.text.samples import native_step, read_native, stream_native

if TYPE_CHECKING:
    import numpy as np

    from registry.readers.formats import ArtifactSpec
    from registry.readers.text.sample import Sample

NO_STEP = -(1 << 63)
"""`TextColumns.steps` of a sample without a step (`stepped` is False there)."""

_CHUNK = 16 << 20  # bytes decoded at a time
_DEFAULT = Fields({})
# A line longer than this may hold what Python's json refuses and msgspec accepts (nesting past the
# recursion limit, an integer of more than sys.get_int_max_str_digits() digits): checked for both.
_CHECK_LONGER = 1500
_MAX_BRACKETS = 400


@dataclass(frozen=True)
class TextColumns:
    """The text and step of every sample of a text artifact, in file order."""

    texts: list[str]
    steps: np.ndarray
    """int64 (NO_STEP where a sample has none), or object when a step does not fit in 64 bits."""
    stepped: np.ndarray
    """bool: the sample has a step."""

    def __len__(self) -> int:
        return len(self.texts)


def _columns(texts: list[str], steps: list[int | None]) -> TextColumns:
    import numpy as np

    if None not in steps:  # the usual case: one C-level scan
        stepped, filled = np.ones(len(steps), dtype=bool), steps
    else:
        stepped = np.fromiter((s is not None for s in steps), dtype=bool, count=len(steps))
        filled = [NO_STEP if s is None else s for s in steps]
    try:
        array = np.array(filled, dtype=np.int64) if filled else np.zeros(0, dtype=np.int64)
    except OverflowError:
        array = np.array(filled, dtype=object)
    return TextColumns(texts, array, stepped)


def columns_of(samples: Iterable[Sample]) -> TextColumns:
    texts: list[str] = []
    steps: list[int | None] = []
    for s in samples:
        texts.append(s.text)
        steps.append(s.step)
    return _columns(texts, steps)


def read_columns(path: Path, spec: ArtifactSpec | None, boundary: Boundary | None, samples: Iterable[Sample]) -> TextColumns:
    """The columns of a text artifact, in one pass; `samples` (the reader's stream) serves the shapes
    the fast path does not read."""
    fast = spec is None or (spec.format in NATIVE_TEXT_FORMATS and not spec.columns and not spec.where)
    if not fast:
        return columns_of(samples)
    texts: list[str] = []
    steps: list[int | None] = []
    root = path if path.is_dir() else path.parent
    for file in text_files(path, boundary):
        path_step = step_from_path(file, root) if path.is_dir() else None
        mark = len(texts)
        try:
            _read_native(file, path_step, texts, steps)
        except _Unsettled:
            del texts[mark:], steps[mark:]
            for s in stream_native(file, _DEFAULT, [], path_step):  # raises the reader's own error
                texts.append(s.text)
                steps.append(s.step)
    return _columns(texts, steps)


class _Unsettled(Exception):
    """The fast path cannot read this file exactly as the line-by-line reader does."""


def _chunks(file: Path) -> Iterator[bytes]:
    """The file in pieces of whole lines (the last may lack its newline), without a leading BOM."""
    try:
        with file.open("rb") as fh:
            rest = fh.read(3)
            if rest == b"\xef\xbb\xbf":
                rest = b""
            while True:
                block = fh.read(_CHUNK)
                if not block:
                    if rest:
                        yield rest
                    return
                block = rest + block
                cut = block.rfind(b"\n") + 1
                if cut == 0:
                    rest = block
                    continue
                yield block[:cut]
                rest = block[cut:]
    except OSError:
        raise _Unsettled from None


def _read_native(file: Path, path_step: int | None, texts: list[str], steps: list[int | None]) -> None:
    import msgspec

    decode = _decoder().decode
    add_text, add_step = texts.append, steps.append
    digits = sys.get_int_max_str_digits()  # 0: no limit; else at least 640
    check_longer = min(_CHECK_LONGER, digits) if digits else _CHECK_LONGER
    for chunk in _chunks(file):
        if not chunk.isascii():
            try:
                chunk.decode("utf-8")
            except UnicodeDecodeError:
                raise _Unsettled from None
        for line in chunk.split(b"\n"):
            if not line:
                continue
            if len(line) > check_longer and _beyond_limits(line, digits):
                raise _Unsettled
            try:
                r = decode(line)
            except (msgspec.DecodeError, RecursionError):  # a ValidationError is a DecodeError
                r = None
            # Token arrays (even null ones) and a missing step with `metadata` are the reader's to check.
            if (
                r is not None
                and type(r.text) is str
                and not (r.tokens or r.token_logprobs or r.top_logprobs)
                and (r.prompt is None or type(r.prompt) is str)
            ):
                step = r.step
                if type(step) is int:
                    add_text(r.text)
                    add_step(step)
                    continue
                if step is None and not r.metadata:
                    add_text(r.text)
                    add_step(path_step)
                    continue
            settled = _line_by_reader(line, file, path_step)
            if settled is not None:
                add_text(settled[0])
                add_step(settled[1])


def _line_by_reader(line: bytes, file: Path, path_step: int | None) -> tuple[str, int | None] | None:
    """One valid line the fast path cannot settle, read as the line-by-line reader reads it; None
    for a blank line. Anything wrong, or a line too deep or too long for msgspec's and Python's
    limits to agree, leaves the whole file to that reader (for its error, or its exact reading)."""
    text = line.decode("utf-8") + "\n"
    if text.isspace():
        return None
    try:
        obj = parse_line(text, file, 0)
        if type(obj) is not dict:
            raise _Unsettled
        (sample,) = read_native(obj, _DEFAULT, file, 0)  # its checks: text, prompt, token arrays
        return sample.text, native_step(obj, file, 0, path_step)
    except ArtifactError:
        raise _Unsettled from None


def _beyond_limits(line: bytes, digits: int) -> bool:
    import re

    if line.count(b"[") + line.count(b"{") > _MAX_BRACKETS:
        return True
    return bool(digits) and re.search(rb"\d{%d}" % (digits + 1), line) is not None


@cache
def _decoder() -> Any:
    """A msgspec decoder of the fields the columns need, as objects; the rest of a line is checked
    (it must be valid JSON), not built."""
    import msgspec

    fields: list[tuple[str, Any, Any]] = [("text", object, None), ("step", object, None), ("prompt", object, None)]
    # Raw: the value's bytes, empty when the key is absent.
    fields += [(name, msgspec.Raw, msgspec.Raw()) for name in ("tokens", "token_logprobs", "top_logprobs", "metadata")]
    record = msgspec.defstruct("Record", fields, gc=False)  # untracked: str, int, None and raw bytes only
    return msgspec.json.Decoder(record)
