"""Reading text artifacts: the native sample shape, the adapters (OpenAI chat, legacy completions /
vLLM, lm-evaluation-harness), folders of files, field renames, and streaming through `Run`."""

from __future__ import annotations

import shutil
import types
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, write_run

from registry.errors import ArtifactError
from registry.readers.text.read import iter_samples, read_samples
from registry.readers.text.sample import Sample
from registry.runs.manifest import ArtifactSpec
from registry.runs.run import Run, load_run

TEXT = FIXTURES / "text"


def spec(**kw: Any) -> ArtifactSpec:
    return ArtifactSpec(path="samples.jsonl", kind="text", **kw)


def test_native_fields() -> None:
    a, b, c, d, e = read_samples(TEXT / "logprobs.jsonl")
    assert (a.step, a.id, a.text, a.prompt) == (0, "a", "the cat the cat", None)
    assert a.tokens() == ["the", " cat", " the", " cat"]
    assert a.token_logprobs() == [-0.5, -1.0, -0.5, -2.0]
    # Both shapes of alternatives: a dict token -> logprob, and a list of {token, logprob}.
    assert a.top_logprobs() == [
        {"the": -0.5, "a": -1.5},
        {" cat": -1.0, " dog": -0.8},
        {" the": -0.5, " a": -1.2},
        {" cat": -2.0, " dog": -0.5},
    ]
    assert c.token_logprobs() == [None] and c.top_logprobs() == [{}]
    assert d.tokens() is None and d.token_logprobs() is None and d.top_logprobs() is None and not d.has_logprobs
    assert e.step is None and e.record["metadata"] == {"note": "free metadata is kept"}
    assert (a.source, a.line, e.line) == (TEXT / "logprobs.jsonl", 1, 5)


def test_sample_keeps_its_old_constructor() -> None:
    s = Sample(text="x", step=3, prompt="p", record={"k": 1})
    assert (s.text, s.step, s.prompt, s.record) == ("x", 3, "p", {"k": 1})


def test_openai_chat() -> None:
    first, hey, hello = read_samples(TEXT / "formats" / "openai_chat.jsonl", spec(format="openai_chat"))
    assert (first.text, first.step, first.prompt, first.id) == ("Hi there", 100, "Say hi", "chatcmpl-1")
    assert first.tokens() == ["Hi", " there"]
    assert first.token_logprobs() == [-0.01, -0.7]
    assert first.top_logprobs() == [{"Hi": -0.01, "Hello": -4.6}, {"!": -0.6, " there": -0.7}]
    # Every choice is a sample; the step may sit in `metadata`.
    assert [(s.text, s.step, s.id) for s in (hey, hello)] == [("Hey", 200, "chatcmpl-2/0"), ("Hello", 200, "chatcmpl-2/1")]
    assert hey.token_logprobs() is None and hey.top_logprobs() is None


def test_openai_completions_and_vllm() -> None:
    one, two = read_samples(TEXT / "formats" / "openai_completions.jsonl", spec(format="openai_completions"))
    assert (one.text, one.step, one.prompt, one.id) == (" the cat", 300, "Once", "cmpl-1")
    assert one.tokens() == [" the", " cat"] and one.token_logprobs() == [-0.3, -0.9]
    assert one.top_logprobs() == [{" the": -0.3, " a": -1.4}, {" dog": -0.5, " cat": -0.9}]
    assert (two.text, two.step) == (" upon", 400)


def test_lm_eval() -> None:
    rows = read_samples(TEXT / "formats" / "lm_eval.jsonl", spec(format="lm_eval"))
    assert len(rows) == 3  # one row per (doc, filter): filter with `where`
    first, _, old_style = rows
    assert (first.text, first.prompt, first.id) == (" 4, and 4 again", "Q: 2+2?\nA:", "0")
    assert first.metrics() == {"exact_match": 1.0}
    assert first.record["filtered_resps"] == ["4"] and first.record["target"] == "4"
    # Older harness versions: `arguments` as a list, no `metrics` list (numeric fields are the metrics).
    assert (old_style.prompt, old_style.metrics()) == ("Q: 3+3?\nA:", {"exact_match": 0.0})
    kept = read_samples(TEXT / "formats" / "lm_eval.jsonl", spec(format="lm_eval", where={"filter": "strict-match"}))
    assert [s.id for s in kept] == ["0", "1"]


def test_folder_of_files_takes_the_step_from_the_path(tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    shutil.copytree(TEXT / "formats" / "batch", folder)
    samples = read_samples(folder, ArtifactSpec(path="batch", kind="text", format="openai_chat"))
    assert sorted((s.step, s.text) for s in samples) == [(500, "early answer"), (1000, "late answer")]
    assert {s.source.name for s in samples if s.source} == {"batch_output.jsonl"}


@pytest.mark.parametrize(
    ("relative", "step"),
    [
        ("step_1000/samples.jsonl", 1000),
        ("ckpt-200/x.jsonl", 200),
        ("run/iter400/gen.jsonl", 400),
        ("checkpoint-50/out/x.jsonl", 50),
        ("samples_step300.jsonl", 300),
        ("model/samples.jsonl", None),
        ("steps/x.jsonl", None),
    ],
)
def test_step_from_path(tmp_path: Path, relative: str, step: int | None) -> None:
    target = tmp_path / "art" / relative
    target.parent.mkdir(parents=True)
    target.write_text('{"text": "x"}\n', encoding="utf-8")
    (sample,) = read_samples(tmp_path / "art", ArtifactSpec(path="art", kind="text"))
    assert sample.step == step


def test_a_step_in_the_record_wins_over_the_path(tmp_path: Path) -> None:
    target = tmp_path / "art" / "step_5" / "x.jsonl"
    target.parent.mkdir(parents=True)
    target.write_text('{"text": "x", "step": 7}\n', encoding="utf-8")
    assert read_samples(tmp_path / "art", ArtifactSpec(path="art", kind="text"))[0].step == 7


def test_columns_rename_fields() -> None:
    path = TEXT / "formats" / "renamed.jsonl"
    (s,) = read_samples(path, spec(columns={"step": "iter", "text": "completion"}))
    assert (s.text, s.step) == ("renamed fields", 7)
    (s,) = read_samples(path, spec(columns={"step": "meta.ckpt", "text": "completion"}))
    assert s.step == 70


def test_line_endings_bom_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"text": "a", "step": 1}\r\n\r\n  \n{"text": "b\\u2028c"}\r\n')
    a, b = read_samples(path)
    assert (a.text, a.step, a.line, b.text, b.line) == ("a", 1, 1, "b\u2028c", 4)


def test_integral_float_steps_are_steps(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text('{"text": "a", "step": 100.0}\n', encoding="utf-8")
    assert read_samples(path)[0].step == 100


def test_reading_is_lazy(tmp_path: Path) -> None:
    """A stream yields the good samples before it reaches a bad line: nothing is parsed ahead."""
    path = tmp_path / "s.jsonl"
    path.write_text('{"text": "a"}\n{"text": "b"}\n{oops\n', encoding="utf-8")
    stream = iter_samples(path)
    assert next(stream).text == "a" and next(stream).text == "b"
    with pytest.raises(ArtifactError):
        next(stream)


def _run(tmp_path: Path, lines: int) -> Run:
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "samples.jsonl").write_text("".join(f'{{"text": "t{i}", "step": {i}}}\n' for i in range(lines)))
    return load_run(write_run(folder, "r", {"samples": {"path": "samples.jsonl"}}))


def test_small_artifacts_are_parsed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = _run(tmp_path, 10)
    calls = []
    import registry.readers.text.read as reader

    real = reader.read_samples
    monkeypatch.setattr(reader, "read_samples", lambda *a: calls.append(a) or real(*a))
    assert [s.step for s in run.iter_samples("samples")] == list(range(10))
    assert [s.step for s in run.iter_samples("samples")] == list(range(10))
    assert len(calls) == 1 and run.samples("samples")[3].text == "t3"


def test_large_artifacts_are_streamed_and_never_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = _run(tmp_path, 10)
    monkeypatch.setattr(Run, "SAMPLE_CACHE_BYTES", 50)
    stream = run.iter_samples("samples")
    assert isinstance(stream, types.GeneratorType)
    assert sum(1 for _ in stream) == 10
    assert sum(1 for _ in run.iter_samples("samples")) == 10  # a second pass reads the file again
    assert run._opened == {}


def test_iter_samples_records_the_artifact_as_used(tmp_path: Path) -> None:
    run = _run(tmp_path, 2)
    with run.tracking() as used:
        list(run.iter_samples("samples"))
    assert used == {"samples"}
