"""Reading a text artifact: picks the format's adapter and streams its samples."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from registry.errors import ArtifactError
from registry.files import Boundary
from registry.readers.formats import NATIVE_TEXT_FORMATS, TEXT_FORMATS
from registry.readers.text.lines import Adapter, Fields, numbered_lines, parse_line, step_from_path, text_files
from registry.readers.text.lm_eval import read_lm_eval
from registry.readers.text.openai import read_openai_chat, read_openai_completions
from registry.readers.text.sample import Sample
from registry.readers.text.samples import read_native, stream_native

if TYPE_CHECKING:
    from registry.readers.formats import ArtifactSpec






ADAPTERS: dict[str, Adapter] = {
    "samples": read_native,
    "openai_chat": read_openai_chat,
    "openai_completions": read_openai_completions,
    "lm_eval": read_lm_eval,
}


def iter_samples(path: Path, spec: ArtifactSpec | None = None, boundary: Boundary | None = None) -> Iterator[Sample]:
    """Stream the samples of a text artifact (a JSONL file, or a folder of them), one line at a time."""
    fmt = spec.format if spec is not None else None
    adapter = ADAPTERS.get("samples" if fmt in NATIVE_TEXT_FORMATS else str(fmt))
    if adapter is None:
        raise ArtifactError(path, f"unknown text format {fmt!r}", hint=f"text artifacts take format: {', '.join(TEXT_FORMATS)}")
    fields = Fields(spec.columns if spec is not None else {})
    where = list(spec.where.items()) if spec is not None else []
    root = path if path.is_dir() else path.parent
    for file in text_files(path, boundary):
        path_step = step_from_path(file, root) if path.is_dir() else None
        if adapter is read_native and fields.default:
            yield from stream_native(file, fields, where, path_step)
            continue
        for lineno, line in numbered_lines(file):
            obj = parse_line(line, file, lineno)
            if type(obj) is not dict:
                raise ArtifactError(file, "each line must be a JSON object", line=lineno)
            if where and any(obj.get(k) != v for k, v in where):
                continue
            for sample in adapter(obj, fields, file, lineno):
                if sample.step is None and path_step is not None:
                    sample.step = path_step
                yield sample


def read_samples(path: Path, spec: ArtifactSpec | None = None, boundary: Boundary | None = None) -> list[Sample]:
    """Every sample of a (small) text artifact, in order."""
    return list(iter_samples(path, spec, boundary))
