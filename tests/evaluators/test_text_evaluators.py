"""The text evaluators beyond their cases (tests/evaluators/cases/text.*.yaml),
plus the pieces with their own definitions: Wilson interval, permutation test, parameter rules."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from conftest import FIXTURES, write_run
from pydantic import ValidationError

from evaluators._lib.permutation import permutation_test
from evaluators._lib.text import TextStatistics, wilson
from evaluators.text.compare import CompareParams
from evaluators.text.match_rate import MatchRateParams
from evaluators.text.stats import StatsParams
from evaluators.text.top1_agreement import Top1Params
from registry import EvaluatorRegistry, Stat
from registry.runs.run import load_run

TEXT = FIXTURES / "text"
CASES: list[dict[str, Any]] = yaml.safe_load((Path(__file__).parent / "cases" / "text.stats.yaml").read_text(encoding="utf-8"))[
    "cases"
]
TEXT_EVALUATORS = ("text.match_rate", "text.stats", "text.compare", "text.top1_agreement", "text.perplexity")


@pytest.fixture(scope="module")
def evaluators() -> EvaluatorRegistry:
    return EvaluatorRegistry()


def case_run(case: dict[str, Any], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(TEXT / case["file"], folder / case["file"])
    return write_run(folder, "case-run", {"samples": {"kind": "text", "path": case["file"]}})


def test_every_text_evaluator_is_installed(evaluators: EvaluatorRegistry) -> None:
    for name in TEXT_EVALUATORS:
        ev = evaluators.get(name)
        assert ev.levels == frozenset({"text"})


def test_streamed_and_cached_reads_agree(evaluators: EvaluatorRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Above the cache threshold the artifact is streamed on each pass; the statistics do not change."""
    case = next(c for c in CASES if c["id"] == "stats-vocab-inline")
    run = load_run(case_run(case, tmp_path / "run"))
    ev = evaluators.get("text.stats")
    params = ev.Params.model_validate(case["params"])
    cached = ev.evaluate(params, run)
    assert "text:samples" in run._opened
    streamed_run = load_run(tmp_path / "run" / "run.yaml")
    monkeypatch.setattr(type(streamed_run), "SAMPLE_CACHE_BYTES", 0)
    streamed = ev.evaluate(params, streamed_run)
    assert "text:samples" not in streamed_run._opened
    assert streamed == cached


# --- definitions ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("k", "n", "confidence", "low", "high"),
    [
        (0, 10, 0.95, 0.0, 0.2775327998628892),  # Wilson's upper bound at 0 successes: z²/(n+z²)
        (10, 10, 0.95, 0.7224672001371108, 1.0),
        (5, 10, 0.95, 0.2366, 0.7634),  # the textbook value, to four places
        (9, 9, 0.95, 0.7008549515804562, 1.0),  # n / (n + z²)
    ],
)
def test_wilson(k: int, n: int, confidence: float, low: float, high: float) -> None:
    lo, hi = wilson(k, n, confidence)
    assert lo == pytest.approx(low, abs=5e-5) and hi == pytest.approx(high, abs=5e-5)


def test_wilson_without_trials() -> None:
    assert wilson(0, 0, 0.95) == (None, None)


def permutation_p(a: np.ndarray, b: np.ndarray, how: Any, permutations: int, seed: int, alternative: Any) -> float:
    """text.compare's Monte-Carlo test of center(b) - center(a) (as the shared test runs it: b first)."""
    test = permutation_test(b, a, how, alternative=alternative, permutations=permutations, seed=seed, exact=False)
    return test.p_value


def test_permutation_p_matches_the_exact_test() -> None:
    # 3 vs 3 fully separated: of the 20 splits only the observed one is as extreme (one-sided),
    # the observed and its mirror image (two-sided): exact p = 1/20 and 2/20.
    a, b = np.array([0.0, 1.0, 2.0]), np.array([10.0, 11.0, 12.0])
    assert permutation_p(a, b, "mean", 20000, 0, "greater") == pytest.approx(0.05, abs=0.006)
    assert permutation_p(a, b, "mean", 20000, 0, "two-sided") == pytest.approx(0.10, abs=0.008)
    assert permutation_p(a, b, "mean", 20000, 0, "less") == pytest.approx(1.0, abs=1e-9)
    # Medians: b = {2, 11, 12} against a = {0, 1, 10} is as extreme as the observed split (11 - 1),
    # so the exact one-sided p is 2/20.
    assert permutation_p(a, b, "median", 20000, 0, "greater") == pytest.approx(0.10, abs=0.008)


def test_permutation_p_is_seeded_and_never_zero() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 40), rng.normal(3, 1, 40)
    p1 = permutation_p(a, b, "mean", 999, 7, "greater")
    assert p1 == permutation_p(a, b, "mean", 999, 7, "greater")
    assert p1 == 1 / 1000  # nothing as extreme: the smallest p the test can give


def test_exact_enumeration_when_small() -> None:
    # 3 vs 3 fully separated: of the C(6, 3) = 20 splits only the observed one is as extreme.
    a, b = np.array([10.0, 11.0, 12.0]), np.array([0.0, 1.0, 2.0])
    test = permutation_test(a, b, "mean", alternative="greater", permutations=20)
    assert (test.p_value, test.used, test.exact) == (1 / 20, 20, True)
    assert permutation_test(a, b, "mean", permutations=20).p_value == 2 / 20
    assert not permutation_test(a, b, "mean", permutations=19).exact


def test_permutation_p_chunks_give_the_same_answer_as_one_batch() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(0, 1, 30), rng.normal(0.3, 1, 30)
    p = permutation_p(a, b, "mean", 5000, 3, "two-sided")
    assert 0.0 < p < 1.0
    assert p == permutation_p(a.copy(), b.copy(), "mean", 5000, 3, "two-sided")


def test_distinct_and_repetition_are_complements_at_the_same_order() -> None:
    ts = TextStatistics(unit="word", n=3, repetition_n=3)
    length, distinct, repetition, vocab = ts.measure("a b c a b c a b")
    assert length == 8 and distinct == pytest.approx(3 / 6) and repetition == pytest.approx(1 - 3 / 6)
    assert math.isnan(vocab)


# --- parameter rules (checked at `registry validate`) -------------------------------------------------


@pytest.mark.parametrize(
    ("model", "params", "message"),
    [
        (CompareParams, {"statistic": "length", "a": [0, 100], "b": [100, 200]}, "windows a [0, 100] and b [100, 200] overlap"),
        (CompareParams, {"statistic": "length", "a": [0, None], "b": [500, 600]}, "windows a [0, null] and b [500, 600] overlap"),
        (
            CompareParams,
            {"statistic": "match", "a": [0, 1], "b": [2, 3]},
            "statistic match needs exactly one of pattern or phrases",
        ),
        (
            CompareParams,
            {"statistic": "length", "pattern": "x", "a": [0, 1], "b": [2, 3]},
            "pattern and phrases are only used with statistic: match",
        ),
        (
            CompareParams,
            {"statistic": "vocab_fraction", "a": [0, 1], "b": [2, 3]},
            "statistic vocab_fraction needs vocab or vocab_artifact",
        ),
        (CompareParams, {"statistic": "metric", "a": [0, 1], "b": [2, 3]}, "statistic metric needs `metric`"),
        (CompareParams, {"statistic": "length", "a": [5, 1], "b": [7, 9]}, "start 5 is after end 1"),
        (StatsParams, {"vocab": ["a"], "vocab_artifact": "vocab"}, "give vocab or vocab_artifact, not both"),
        (StatsParams, {"vocab": [" "]}, "vocab must not be empty"),
        (MatchRateParams, {"pattern": "(", "steps": [0, 1]}, "invalid regular expression"),
        (MatchRateParams, {"pattern": "x", "confidence": 1.0}, "less than 1"),
        (Top1Params, {"steps": [0, 10], "b": [5, 20]}, "windows steps [0, 10] and b [5, 20] overlap"),
    ],
)
def test_params_rules(model: Any, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        model.model_validate(params)
    assert message in str(info.value)


def names(stats: tuple[Stat, ...]) -> list[str]:
    return [s.name for s in stats]


def test_statistics_depend_on_params(evaluators: EvaluatorRegistry) -> None:
    stats = evaluators.get("text.stats")
    assert "vocab_fraction" not in names(stats.statistics_for(StatsParams()))
    assert "vocab_fraction" in names(stats.statistics_for(StatsParams(vocab=["a"])))
    top1 = evaluators.get("text.top1_agreement")
    assert "difference" not in names(top1.statistics_for(Top1Params()))
    assert "difference" in names(top1.statistics_for(Top1Params(steps=(0, 1), b=(2, 3))))


def test_vocab_artifact(evaluators: EvaluatorRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "samples.jsonl").write_text('{"text": "The cat and the dog"}\n', encoding="utf-8")
    (folder / "vocab.txt").write_text("# animals\ncat\n\ndog\n", encoding="utf-8")
    run = load_run(write_run(folder, "r", {"samples": {"path": "samples.jsonl"}, "vocab": {"path": "vocab.txt"}}))
    ev = evaluators.get("text.stats")
    with run.tracking() as used:
        m = ev.evaluate(StatsParams(vocab_artifact="vocab"), run)
    assert m.statistics["vocab_fraction"] == pytest.approx(2 / 5)
    assert used == {"samples", "vocab"}  # the vocabulary is hashed into the verdict like any artifact


def test_fast_word_split_matches_the_regex() -> None:
    from evaluators._lib.text import WORD_RE, words

    rng = np.random.default_rng(0)
    alphabet = list('abcXYZ019_ ,.;:-!?\n\t"()[]{}#$%&*+/<=>@\\^`|~') + ["'"]
    for _ in range(2000):
        text = "".join(rng.choice(alphabet, size=int(rng.integers(0, 40))))
        expected = WORD_RE.findall(text)
        got = [w.decode() if isinstance(w, bytes) else w for w in words(text)]
        assert got == expected, text
        folded = [w.decode() if isinstance(w, bytes) else w for w in words(text, fold=True)]
        assert folded == [w.casefold() for w in expected], text


def test_repetition_shortcut_matches_brute_force() -> None:
    rng = np.random.default_rng(1)
    ts = TextStatistics(unit="word", n=2, repetition_n=4)
    for _ in range(500):
        tokens = [str(x) for x in rng.integers(0, 4, size=int(rng.integers(0, 12)))]
        _, _, repetition, _ = ts.measure(" ".join(tokens))
        grams = [tuple(tokens[i : i + 4]) for i in range(len(tokens) - 3)]
        if not grams:
            assert math.isnan(repetition)
        else:
            assert repetition == pytest.approx(1 - len(set(grams)) / len(grams))


def test_per_step_evidence_stops_at_100_steps(evaluators: EvaluatorRegistry, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    lines = "".join(f'{{"step": {s}, "text": "a b"}}\n' for s in range(-1, 100))  # 101 steps, one negative
    (folder / "samples.jsonl").write_text(lines, encoding="utf-8")
    run = load_run(write_run(folder, "r", {"samples": {"path": "samples.jsonl"}}))
    assert evaluators.get("text.stats").evaluate(StatsParams(), run).evidence["per_step"] is None
    assert evaluators.get("text.match_rate").evaluate(MatchRateParams(phrases=["a"]), run).evidence["per_step"] is None
    (folder / "samples.jsonl").write_text(lines.split("\n", 1)[1], encoding="utf-8")
    run = load_run(folder / "run.yaml")
    rows = evaluators.get("text.stats").evaluate(StatsParams(), run).evidence["per_step"]
    assert [r["step"] for r in rows] == list(range(100))
