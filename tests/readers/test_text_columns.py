"""The columnar text reader (registry/readers/text/columns.py) reads every file exactly as the
line-by-line reader does: the same texts and steps, or the same located error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES

from registry.errors import ArtifactError
from registry.readers.text.columns import NO_STEP, read_columns
from registry.readers.text.read import iter_samples

BAD = FIXTURES / "text" / "bad"
NATIVE_BAD = [
    "bad-step",
    "bad-top-entry",
    "malformed-json",
    "mismatched-lengths",
    "mismatched-top",
    "missing-text",
    "not-an-object",
    "not-utf8",
    "positive-logprob",
    "text-not-string",
]


def outcome_of_reader(path: Path) -> Any:
    try:
        samples = list(iter_samples(path))
    except ArtifactError as exc:
        return "error", str(exc), exc.location
    return [s.text for s in samples], [s.step for s in samples]


def outcome_of_columns(path: Path) -> Any:
    try:
        cols = read_columns(path, None, None, iter_samples(path))
    except ArtifactError as exc:
        return "error", str(exc), exc.location
    steps = [int(s) if ok else None for s, ok in zip(cols.steps.tolist(), cols.stepped.tolist(), strict=True)]
    assert all((s == NO_STEP) != ok for s, ok in zip(cols.steps.tolist(), cols.stepped.tolist(), strict=True))
    return cols.texts, steps


@pytest.mark.parametrize("case", NATIVE_BAD)
def test_bad_fixtures_give_the_readers_error(case: str, tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    shutil.copyfile(BAD / f"{case}.jsonl", path)
    assert outcome_of_columns(path) == outcome_of_reader(path)


def line(**record: Any) -> bytes:
    return json.dumps(record).encode()


LINES: dict[str, bytes] = {
    "plain": line(text="a b", step=3, prompt="p", id=7) + b"\n" + line(text="c", step=4),
    "no step": line(text="a") + b"\n" + line(text="b", step=None),
    "metadata step": line(text="a", metadata={"step": 5}) + b"\n" + line(text="b", metadata={"seed": 1}),
    "metadata step null": line(text="a", metadata={"step": None}),
    "float step": line(text="a", step=100.0),
    "fractional step": line(text="a", step=1.5),
    "bool step": line(text="a", step=True),
    "string step": line(text="a", step="7"),
    "huge step": line(text="a", step=2**70) + b"\n" + line(text="b", step=1),
    "nan step": b'{"text": "a", "step": NaN}',
    "tokens": line(text="ab", step=1, tokens=["a", "b"], token_logprobs=[-0.1, -0.2]),
    "null tokens": line(text="ab", step=1, tokens=None),
    "tokens mismatched": line(text="ab", step=1, tokens=["a", "b"], token_logprobs=[-0.1]),
    "tokens not a list": line(text="ab", step=1, tokens="ab"),
    "bom": b"\xef\xbb\xbf" + line(text="a", step=1) + b"\n" + line(text="b", step=2),
    "bom on line 2": line(text="a", step=1) + b"\n\xef\xbb\xbf" + line(text="b", step=2),
    "crlf": line(text="a", step=1) + b"\r\n" + line(text="b", step=2) + b"\r\n",
    "blank lines": b"\n  \n" + line(text="a", step=1) + b"\n\t\n\x0c\n" + line(text="b", step=2) + b"\n\n",
    "no final newline": line(text="a", step=1) + b"\n" + line(text="b", step=2),
    "unicode": line(text="héllo wörld \u2028 😀", step=1) + b"\n" + '{"text": "日本語", "step": 2}'.encode(),
    "escapes": b'{"text": "a\\u00e9\\ud83d\\ude00\\n", "step": 1}',
    "lone surrogate": b'{"text": "a\\ud800", "step": 1}',
    "bad utf8 in a skipped field": line(text="a", step=1) + b'\n{"text": "b", "x": "\xff"}',
    "bad utf8 after a bad line": b'{"text": "a", "step": 1,}\n{"text": "\xe9"}',
    "huge integer in a skipped field": b'{"text": "a", "x": 1' + b"0" * 5000 + b"}",
    "deep nesting in a skipped field": b'{"text": "a", "x": ' + b"[" * 3000 + b"]" * 3000 + b"}",
    "nesting under the limits": b'{"text": "a", "step": 1, "x": ' + b"[" * 300 + b"]" * 300 + b"}",
    "long line": line(text="w " * 5000, step=1, x=list(range(500))),
    "trailing data": line(text="a", step=1) + b" x",
    "two objects on a line": line(text="a", step=1) + b" " + line(text="b", step=2),
    "not an object": b"[1, 2]",
    "prompt not a string": line(text="a", step=1, prompt=3),
    "text missing": line(step=1),
    "text not a string": line(text=5, step=1),
    "duplicate keys": b'{"text": "a", "step": 1, "text": 5}',
    "duplicate keys, last wins": b'{"text": 5, "step": 1, "text": "b"}',
    "empty file": b"",
}


@pytest.mark.parametrize("case", sorted(LINES))
def test_columns_read_what_the_reader_reads(case: str, tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    path.write_bytes(LINES[case])
    assert outcome_of_columns(path) == outcome_of_reader(path)


def test_folders_take_steps_from_paths(tmp_path: Path) -> None:
    folder = tmp_path / "samples"
    for step in (100, 200):
        (folder / f"step_{step}").mkdir(parents=True)
        (folder / f"step_{step}" / "gen.jsonl").write_bytes(line(text=f"t{step}") + b"\n" + line(text="own", step=7))
    assert outcome_of_columns(folder) == outcome_of_reader(folder) == (["t100", "own", "t200", "own"], [100, 7, 200, 7])


def test_chunks_split_on_whole_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("registry.readers.text.columns._CHUNK", 64)
    path = tmp_path / "samples.jsonl"
    path.write_bytes(b"\n".join(line(text="word " * (i % 7), step=i) for i in range(300)) + b"\n")
    assert outcome_of_columns(path) == outcome_of_reader(path)


def test_a_lower_integer_digit_limit_is_honoured(tmp_path: Path) -> None:
    """An integer past sys.get_int_max_str_digits is the reader's error, even in a field the columns skip."""
    import sys

    path = tmp_path / "samples.jsonl"
    path.write_bytes(b'{"text": "a", "step": 1, "x": 1' + b"0" * 700 + b"}\n")
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(640)
    try:
        expected = outcome_of_reader(path)
        assert expected[0] == "error"
        assert outcome_of_columns(path) == expected
    finally:
        sys.set_int_max_str_digits(limit)
