"""What every text format shares: the JSONL files of an artifact, numbered lines (bad UTF-8 located),
parsing, the step from a record or from the path, field renames (`columns:`)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from registry.errors import ArtifactError
from registry.files import Boundary, contained, walk
from registry.readers.text.sample import Sample

if TYPE_CHECKING:
    pass


_STEP_IN_PATH = re.compile(r"(?:^|[^a-z])(?:step|iter|iteration|ckpt|checkpoint)[-_=]?(\d+)(?:$|[^0-9])", re.I)


def text_files(path: Path, boundary: Boundary | None = None) -> list[Path]:
    """The JSONL files of a text artifact, each checked by `registry.files.contained`."""
    boundary = boundary or Boundary.around(path)
    if contained(path, boundary, folder=True).is_dir():
        files = sorted(p for p in walk(path) if p.suffix == ".jsonl")
        if not files:
            raise ArtifactError(path, "the folder holds no .jsonl files", hint="a text artifact folder holds *.jsonl files")
        for f in files:
            contained(f, boundary)
        return files
    return [path]


def artifact_size(path: Path, boundary: Boundary | None = None) -> int:
    """Bytes of a text artifact (a file, or every .jsonl file of a folder)."""
    try:
        return sum(p.stat().st_size for p in text_files(path, boundary))
    except OSError:
        return 0


def step_from_path(file: Path, root: Path) -> int | None:
    try:
        parts = file.relative_to(root).with_suffix("").parts
    except ValueError:
        return None
    for part in reversed(parts):
        m = _STEP_IN_PATH.search(part)
        if m:
            return int(m.group(1))
    return None


def numbered_lines(file: Path) -> Iterator[tuple[int, str]]:
    """(line number, line) for each non-blank line; bytes that are not UTF-8 are a located error.

    The file is decoded in large chunks by the io layer (much faster than line by line); when that
    fails, the file is scanned again in binary to name the offending line.
    """
    try:
        fh: TextIO = file.open("r", encoding="utf-8-sig", newline="\n")
    except OSError as exc:
        raise ArtifactError(file, f"cannot read file: {exc.strerror or exc}") from None
    lineno = 0
    with fh:
        try:
            for lineno, text in enumerate(fh, start=1):
                if text.isspace():
                    continue
                yield lineno, text
        except UnicodeDecodeError:
            raise _locate_bad_utf8(file, lineno) from None
        except OSError as exc:
            raise ArtifactError(file, f"cannot read file: {exc.strerror or exc}", line=lineno + 1) from None


def _locate_bad_utf8(file: Path, after: int) -> ArtifactError:
    with file.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if lineno <= after:
                continue
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return ArtifactError(
                    file,
                    f"not UTF-8 (byte {exc.start + 1} of the line is 0x{raw[exc.start]:02x})",
                    line=lineno,
                    hint="text artifacts are UTF-8 JSONL; re-encode the file",
                )
    return ArtifactError(file, "not UTF-8", line=after + 1, hint="text artifacts are UTF-8 JSONL; re-encode the file")


_decoder = json.JSONDecoder()


def parse_line(line: str, file: Path, lineno: int) -> Any:
    # raw_decode skips json.loads' two whitespace regex passes (about 2x faster on short records);
    # anything unusual falls back to json.loads for its exact error message.
    try:
        obj, end = _decoder.raw_decode(line)
        if end == len(line) or line[end:].isspace():
            return obj
    except (ValueError, RecursionError):
        pass
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        # An error at the end of the line is past its newline: report the line's own last column.
        col = exc.colno if exc.lineno == 1 else len(line.rstrip("\r\n")) + 1
        raise ArtifactError(file, f"invalid JSON: {exc.msg}", line=lineno, column=col) from None
    except ValueError:  # an integer of more digits than Python converts (sys.get_int_max_str_digits)
        raise ArtifactError(file, "invalid JSON: an integer has too many digits", line=lineno) from None
    except RecursionError:
        raise ArtifactError(file, "invalid JSON: nested too deeply", line=lineno) from None


def dig(obj: Mapping[str, Any], dotted: str) -> Any:
    value: Any = obj
    for key in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def check_step(step: Any, file: Path, lineno: int, field: str = "step") -> int | None:
    if step is None or (isinstance(step, int) and not isinstance(step, bool)):
        return step
    if isinstance(step, float) and step.is_integer():
        return int(step)
    raise ArtifactError(file, f"'{field}' must be an integer, not {step!r}", line=lineno)


def entries(n: int) -> str:
    return f"{n} entry" if n == 1 else f"{n} entries"


def check_lengths(arrays: Iterable[tuple[str, Any]], file: Path, lineno: int) -> None:
    first: tuple[str, int] | None = None
    for name, value in arrays:
        if value is None:
            continue
        if not isinstance(value, list):
            raise ArtifactError(file, f"'{name}' must be a list, not {type(value).__name__}", line=lineno)
        if first is None:
            first = (name, len(value))
        elif len(value) != first[1]:
            raise ArtifactError(
                file,
                f"'{name}' has {entries(len(value))} but '{first[0]}' has {entries(first[1])}",
                line=lineno,
                hint="tokens, token_logprobs and top_logprobs need one entry per generated token",
            )


class Fields:
    """Where the fields of a record are, after the manifest's `columns` renames."""

    def __init__(self, columns: Mapping[str, str]):
        self.text = columns.get("text", "text")
        self.step = columns.get("step")
        self.prompt = columns.get("prompt", "prompt")
        self.id = columns.get("id", "id")
        self.tokens = columns.get("tokens", "tokens")
        self.token_logprobs = columns.get("token_logprobs", "token_logprobs")
        self.top_logprobs = columns.get("top_logprobs", "top_logprobs")
        self.metrics = columns.get("metrics", "metrics")
        self.simple = all("." not in v for v in columns.values())
        self.default = not columns

    def get(self, obj: dict[str, Any], key: str) -> Any:
        return obj.get(key) if self.simple or "." not in key else dig(obj, key)

    def step_of(self, obj: dict[str, Any], file: Path, lineno: int) -> int | None:
        if self.step is not None:
            return check_step(self.get(obj, self.step), file, lineno, self.step)
        step = obj.get("step")
        if step is None:
            meta = obj.get("metadata")
            if isinstance(meta, dict) and "step" in meta:
                return check_step(meta["step"], file, lineno, "metadata.step")
        return check_step(step, file, lineno)


Adapter = Callable[[dict[str, Any], Fields, Path, int], Iterable[Sample]]
