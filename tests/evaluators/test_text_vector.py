"""The text statistics and matches of many samples at once (evaluators/_lib/text_vector.py) equal
those of one sample at a time, value for value; and two text predictions on one run parse its
artifact once."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import write_run

from evaluators._lib.text import TextStatistics
from evaluators._lib.text_options import pattern_of, regex
from evaluators._lib.text_vector import matches_all, measure_all
from registry import EvaluatorRegistry
from registry.runs.run import load_run

WORDS = ["the", "The", "THE", "of", "a", "cat", "sat", "mat", "x1", "_", "don't", "naïve", "straße", "日本", "über"]
PUNCT = [" ", " ", " ", ", ", ". ", "\n", "\t", " - ", "'", "’", "!", "  "]


def texts(seed: int, count: int = 400, ascii_only: bool = False) -> list[str]:
    rng = np.random.default_rng(seed)
    words = [w for w in WORDS if w.isascii() and "'" not in w] if ascii_only else WORDS
    punct = [p for p in PUNCT if p.isascii() and p != "'"] if ascii_only else PUNCT
    out = ["", " ", "...", "a", "a a", "a b a b a b a b"]
    for _ in range(count):
        size = int(rng.choice([0, 1, 2, 3, 5, 8, 20, 40, 70, 150]))
        parts = []
        for w in rng.choice(words, size=size):
            parts += [str(w), str(rng.choice(punct))]
        out.append("".join(parts))
    return out


def same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


OPTIONS: list[dict[str, Any]] = [
    {},
    {"n": 1, "repetition_n": 1},
    {"n": 3, "repetition_n": 2},
    {"n": 2, "repetition_n": 5},
    {"n": 4, "repetition_n": 4},
    {"vocab": frozenset({"the", "cat", "straße"})},
    {"vocab": frozenset({"The", "cat"}), "vocab_ignore_case": False},
    {"vocab": frozenset({"t", "h", "e"}), "vocab_unit": "char"},
    {"unit": "char", "n": 3},
]


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("ascii_only", [True, False])
def test_measure_all_equals_measure(options: dict[str, Any], ascii_only: bool) -> None:
    stats = TextStatistics(**options)
    sample = texts(0, ascii_only=ascii_only)
    columns = measure_all(stats, sample)
    for i, text in enumerate(sample):
        expected = stats.measure(text)
        assert all(same(c[i], e) for c, e in zip(columns, expected, strict=True)), (text, [c[i] for c in columns], expected)


def test_measure_all_with_a_large_vocabulary() -> None:
    """Over 46,340 distinct words in a block: n-gram keys no longer fit in int32."""
    rng = np.random.default_rng(3)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    pool = ["".join(rng.choice(letters, size=7)) for _ in range(80_000)]
    sample = [" ".join(rng.choice(pool[:200] if i % 5 == 0 else pool, size=30)) for i in range(5000)]
    stats = TextStatistics(n=2, repetition_n=4, vocab=frozenset(pool[:10]))
    columns = measure_all(stats, sample)
    for i in range(0, len(sample), 7):
        assert all(same(c[i], e) for c, e in zip(columns, stats.measure(sample[i]), strict=True))


@pytest.mark.parametrize(
    ("pattern", "phrases", "ignore_case"),
    [
        (r"\bI refuse\b", None, False),
        (r"(?i)cat|MAT", None, False),
        (r"the", None, True),
        (r"^\s*$", None, False),
        (r"^a", None, False),
        (r"\pL{5,}", None, False),
        (r"STRASSE|straße|ÜBER", None, True),
        (r"a.b", None, False),
        (None, ["don't", "日本", "x1."], False),
    ],
)
def test_matches_all_equals_search(pattern: str | None, phrases: list[str] | None, ignore_case: bool) -> None:
    compiled = regex(pattern, phrases, ignore_case)
    sample = texts(1) + ["I refuse", "i refuse", "I refused", "a\nb", "a b", "ÜBER", "über"]
    found = matches_all(compiled, pattern_of(pattern, phrases), ignore_case, sample)
    assert found.tolist() == [compiled.search(t) is not None for t in sample]


def test_two_text_predictions_parse_the_artifact_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import registry.readers.text.columns as columns_module
    import registry.readers.text.read as read_module

    folder = tmp_path / "run"
    folder.mkdir()
    lines = [f'{{"text": "the cat {"sat " * (i % 4)}I refuse", "step": {i // 10}}}' for i in range(200)]
    (folder / "samples.jsonl").write_text("\n".join(lines) + "\n")
    run = load_run(write_run(folder, "r", {"samples": {"kind": "text", "path": "samples.jsonl"}}))
    monkeypatch.setattr(type(run), "SAMPLE_CACHE_BYTES", 0)  # the large-artifact path
    parses: list[Path] = []
    for module in (columns_module, read_module):
        original = module.text_files

        def counted(path: Path, boundary: Any = None, original: Any = original) -> list[Path]:
            parses.append(path)
            return original(path, boundary)  # type: ignore[no-any-return]

        monkeypatch.setattr(module, "text_files", counted)
    evaluators = EvaluatorRegistry()
    stats, match = evaluators.get("text.stats"), evaluators.get("text.match_rate")
    s = stats.evaluate(stats.Params.model_validate({"n": 2, "vocab": ["the"]}), run)
    m = match.evaluate(match.Params.model_validate({"pattern": r"\bI refuse\b", "steps": [3, 12]}), run)
    assert len(parses) == 1
    assert s.n == 200 and m.n == 100 and m.statistics["matches"] == 100
    run.release()
    stats.evaluate(stats.Params.model_validate({}), run)
    assert len(parses) == 2  # released with the run's other artifacts


@pytest.mark.parametrize("options", OPTIONS)
def test_measure_all_equals_measure_on_texts_of_similar_length(options: dict[str, Any]) -> None:
    """Texts of similar lengths share one padded matrix (the other test's texts are padded in groups)."""
    rng = np.random.default_rng(2)
    sample = [" ".join(rng.choice(["a", "b", "c", "the", "The", "x_1"], size=int(rng.integers(8, 13)))) for _ in range(500)]
    stats = TextStatistics(**options)
    columns = measure_all(stats, sample)
    for i, text in enumerate(sample):
        assert all(same(c[i], e) for c, e in zip(columns, stats.measure(text), strict=True)), text
