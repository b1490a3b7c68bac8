"""Bad text artifacts through the real CLI: one malformed fixture per case, the exact message pinned.

Each case must exit 2 with one located line (`PATH:LINE[:COL]: message (hint: ...)`), no traceback,
and no verdict written. Things that are not bad input (an empty window, samples without logprobs)
are `inconclusive` verdicts with a stated reason.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from conftest import FIXTURES, Project, invoke, write_run

TEXT = FIXTURES / "text"
BAD = TEXT / "bad"

HINT_LENGTHS = "(hint: tokens, token_logprobs and top_logprobs need one entry per generated token)"
CASES: dict[str, tuple[str | None, str]] = {
    "malformed-json": (None, "runs/bad/samples.jsonl:2:36: invalid JSON: Expecting ',' delimiter"),
    "missing-text": (
        None,
        'runs/bad/samples.jsonl:3: sample has no string \'text\' (hint: each line needs at least {"text": "..."})',
    ),
    "text-not-string": (
        None,
        'runs/bad/samples.jsonl:1: \'text\' must be a string (hint: each line needs at least {"text": "..."})',
    ),
    "mismatched-lengths": (
        None,
        f"runs/bad/samples.jsonl:1: 'token_logprobs' has 3 entries but 'tokens' has 2 entries {HINT_LENGTHS}",
    ),
    "mismatched-top": (
        None,
        f"runs/bad/samples.jsonl:1: 'top_logprobs' has 1 entry but 'tokens' has 2 entries {HINT_LENGTHS}",
    ),
    "not-utf8": (
        None,
        "runs/bad/samples.jsonl:2: not UTF-8 (byte 25 of the line is 0xe9) "
        "(hint: text artifacts are UTF-8 JSONL; re-encode the file)",
    ),
    "not-an-object": (None, "runs/bad/samples.jsonl:1: each line must be a JSON object"),
    "bad-step": (None, "runs/bad/samples.jsonl:1: 'step' must be an integer, not 'early'"),
    # Logprob values are checked by the first evaluator that reads them (here text.perplexity).
    "positive-logprob": (
        None,
        "runs/bad/samples.jsonl:1: token_logprobs[1] is 0.7, not a log-probability (<= 0) "
        "(hint: store natural-log probabilities, not probabilities or logits)",
    ),
    "bad-top-entry": (
        None,
        "runs/bad/samples.jsonl:1: top_logprobs[1][0] must be {\"token\": ..., \"logprob\": ...}, not {'tok': 'b', 'p': 0.5}",
    ),
    "openai-tool-call": (
        "openai_chat",
        "runs/bad/samples.jsonl:1: 'choices[0].message.content' is null, not text "
        "(hint: a tool call or a refusal has no text; drop such records)",
    ),
    "openai-batch-error": (
        "openai_chat",
        "runs/bad/samples.jsonl:1: the request failed: Rate limit reached (hint: drop failed requests or re-run them)",
    ),
    "openai-no-choices": (
        "openai_chat",
        "runs/bad/samples.jsonl:1: no 'choices' (looked at the top level, under 'response' and under "
        "'response.body') (hint: is the manifest's `format` right?)",
    ),
    "completions-mismatch": (
        "openai_completions",
        "runs/bad/samples.jsonl:1: 'choices[0].logprobs.token_logprobs' has 1 entry but "
        f"'choices[0].logprobs.tokens' has 2 entries {HINT_LENGTHS}",
    ),
    "lm-eval-loglikelihood": (
        "lm_eval",
        "runs/bad/samples.jsonl:1: lm_eval record has no generated text in 'resps[0]' (hint: text evaluators "
        "read generate_until tasks; loglikelihood and multiple-choice rows hold scores)",
    ),
    "unknown-format": (
        "chat",
        # Checked with the manifest (at its `format:` key), from the one formats table.
        "artifacts.samples.format: unknown format 'chat'; did you mean 'openai_chat'? "
        "text artifacts take samples, openai_chat, openai_completions, lm_eval",
    ),
}


def test_every_bad_fixture_has_a_case() -> None:
    assert sorted(p.stem for p in BAD.iterdir()) == sorted(CASES)


@pytest.fixture
def evaluated(project: Project) -> Project:
    """A good text run with verdicts already written: bad input must leave them exactly as they are."""
    good = project.runs / "good"
    good.mkdir()
    shutil.copyfile(TEXT / "logprobs.jsonl", good / "samples.jsonl")
    write_run(good, "good", {"samples": {"path": "samples.jsonl"}}, tags=["text-test"])
    project.add_claim(TEXT / "claims" / "reads-text.yaml")
    result = invoke("evaluate")
    assert result.exit_code == 0, result.output
    assert len(project.verdict_snapshot()) == 1
    return project


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_text_artifact(evaluated: Project, case: str) -> None:
    fmt, expected = CASES[case]
    folder = evaluated.runs / "bad"
    folder.mkdir()
    shutil.copyfile(BAD / f"{case}.jsonl", folder / "samples.jsonl")
    spec = {"path": "samples.jsonl", "kind": "text"} | ({"format": fmt} if fmt else {})
    write_run(folder, "bad", {"samples": spec}, tags=["text-test"])
    before = evaluated.verdict_snapshot()
    result = invoke("evaluate", "--force")  # --force: the good run's verdict is current and would be skipped
    assert result.exit_code == 2, result.output
    # The good run is still judged (its verdict unchanged); the bad one is reported once, at the end.
    assert result.output.endswith(expected + "\n")
    assert "reads-text\tgood\tpass" in result.output
    assert "Traceback" not in result.output
    assert evaluated.verdict_snapshot() == before


def test_inconclusive_reasons_are_stated(project: Project) -> None:
    folder = project.runs / "good"
    folder.mkdir()
    (folder / "samples.jsonl").write_text(
        '{"step": 0, "text": "the cat the cat"}\n{"step": 10, "text": "a dog"}\n{"step": 20, "text": "a cat ran"}\n',
        encoding="utf-8",
    )
    write_run(folder, "good", {"samples": {"path": "samples.jsonl"}}, tags=["text-test"])
    project.add_claim(TEXT / "claims" / "reads-text.yaml")
    project.add_claim(TEXT / "claims" / "late-samples-differ.yaml")
    result = invoke("evaluate")
    assert result.exit_code == 0, result.output

    reads = yaml.safe_load(project.verdict("reads-text", "good").read_text(encoding="utf-8"))
    by_id = {p["id"]: p for p in reads["predictions"]}
    assert reads["outcome"] == "inconclusive"
    assert by_id["stats"]["outcome"] == "pass"
    assert (by_id["perplexity"]["outcome"], by_id["perplexity"]["reason"]) == (
        "inconclusive",
        "none of the 3 samples has token_logprobs",
    )
    assert by_id["top1"]["reason"] == "none of the 3 samples has top_logprobs"

    late = yaml.safe_load(project.verdict("late-samples-differ", "good").read_text(encoding="utf-8"))
    by_id = {p["id"]: p for p in late["predictions"]}
    assert by_id["longer"]["outcome"] == "fail"  # 4 words early, 2.5 late
    assert by_id["longer"]["statistics"]["difference"] == -1.5
    assert (by_id["nothing-late"]["outcome"], by_id["nothing-late"]["reason"]) == (
        "inconclusive",
        "no samples with steps in the window [1000, null] (the samples' steps run from 0 to 20)",
    )
    rate = by_id["rate-with-interval"]
    assert rate["outcome"] == "pass" and rate["n"] == 3
    assert rate["statistics"]["rate"] == pytest.approx(2 / 3)
    assert 0.05 < rate["statistics"]["ci_low"] < 2 / 3 < rate["statistics"]["ci_high"] < 1

    # Evaluating again changes nothing: the permutation p-value is seeded.
    before = project.verdict_snapshot()
    assert invoke("evaluate").exit_code == 0
    assert {k: v[0] for k, v in project.verdict_snapshot().items()} == {k: v[0] for k, v in before.items()}


def test_validate_rejects_bad_text_params(project: Project) -> None:
    claim = project.claims / "bad-windows.yaml"
    claim.write_text(
        (TEXT / "claims" / "late-samples-differ.yaml")
        .read_text(encoding="utf-8")
        .replace("late-samples-differ", "bad-windows")
        .replace("a: [10, 20], b: [0, 0]", "a: [10, 20], b: [0, 10]"),
        encoding="utf-8",
    )
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("claims/bad-windows.yaml:")
    assert "predictions[0].params: windows a [10, 20] and b [0, 10] overlap" in result.output


def test_the_mingpt_claims_and_runs_validate(project: Project) -> None:
    root = Path(__file__).resolve().parents[2]
    for run in ("mingpt-english", "mingpt-shakespeare"):
        shutil.copytree(root / "runs" / run, project.runs / run)
    for claim in sorted((root / "claims" / "text").glob("mingpt-*.yaml")):
        shutil.copyfile(claim, project.claims / claim.name)
    result = invoke("validate")
    assert result.exit_code == 0, result.output
