"""Claim files that used to crash the loader or hang an evaluation (issue 12): malformed scalars and
explicit tags, an inner evaluator typo in runs.compare, oversized files, the alias bomb, control
characters, and regular expressions that backtrack. Each is one located line, exit 2, nothing written."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import Project, invoke

from registry.errors import UserError
from registry.yamlsource import MAX_BYTES, load_yaml

CLAIM = """\
id: {id}
title: A claim
statement: Something measurable.
falsified_if: It is not so.
status: draft
predictions:
  - id: p
    level: loss
    evaluator: metric.threshold
    params: {{column: loss, reduce: last}}
    expect:
      - {{stat: value, op: "<", value: 2.0}}
"""


def refused(project: Project, expected: str, command: str = "validate") -> None:
    before = project.verdict_snapshot()
    result = invoke(command)
    assert result.exit_code == 2, result.output
    assert result.output == expected + "\n"
    assert project.verdict_snapshot() == before


def write_claim(project: Project, name: str, text: str) -> Path:
    path = project.claims / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


SCALAR_CASES = {
    "registered: 2026-02-30": "claims/c.yaml:14:13: registered: '2026-02-30' is not a valid !!timestamp value "
    "(day is out of range for month) (hint: quote the value to make it a string, or correct it)",
    "registered: !!timestamp soon": "claims/c.yaml:14:13: registered: 'soon' is not a valid !!timestamp value "
    "(hint: quote the value to make it a string, or correct it)",
    "extra: !!int twelve": "claims/c.yaml:14:8: extra: 'twelve' is not a valid !!int value (invalid literal for int() "
    "with base 10: 'twelve') (hint: quote the value to make it a string, or correct it)",
    "extra: !!float high": "claims/c.yaml:14:8: extra: 'high' is not a valid !!float value (could not convert string "
    "to float: 'high') (hint: quote the value to make it a string, or correct it)",
    "extra: !!bool maybe": "claims/c.yaml:14:8: extra: 'maybe' is not a valid !!bool value "
    "(hint: quote the value to make it a string, or correct it)",
    "extra: !!map abc": "claims/c.yaml:14:8: extra: 'abc' is not a valid !!map value (expected a mapping node, but "
    "found scalar) (hint: quote the value to make it a string, or correct it)",
    "extra: !!seq abc": "claims/c.yaml:14:8: extra: 'abc' is not a valid !!seq value (expected a sequence node, but "
    "found scalar) (hint: quote the value to make it a string, or correct it)",
    "extra: !!seq {a: 1}": "claims/c.yaml:14:8: extra: tag '!!seq' does not fit a mapping "
    "(hint: only plain YAML values are read; remove the tag)",
    "extra: !!map [1]": "claims/c.yaml:14:8: extra: tag '!!map' does not fit a list "
    "(hint: only plain YAML values are read; remove the tag)",
}


@pytest.mark.parametrize("line", sorted(SCALAR_CASES))
def test_malformed_scalar_is_located(project: Project, line: str) -> None:
    write_claim(project, "c", CLAIM.format(id="c") + "tags: [x]\n" + line + "\n")
    refused(project, SCALAR_CASES[line])


def test_integer_of_5000_digits(project: Project) -> None:
    write_claim(project, "c", CLAIM.format(id="c") + "extra: " + "9" * 5000 + "\n")
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("claims/c.yaml:13:8: extra: '999999999999999999999999999999999999999…' is not a valid "
                                    "!!int value (Exceeds the limit (4300 digits) for integer string conversion")
    assert len(result.output.splitlines()) == 1


def test_bad_created_date_in_run_yaml(project: Project) -> None:
    run = project.runs / "r"
    run.mkdir()
    (run / "run.yaml").write_text("id: r\ncreated: 2026-02-30\n")
    refused(project, "runs/r/run.yaml:2:10: created: '2026-02-30' is not a valid !!timestamp value "
            "(day is out of range for month) (hint: quote the value to make it a string, or correct it)")


def test_control_character_is_one_located_line(project: Project) -> None:
    write_claim(project, "c", CLAIM.format(id="c").replace("Something", "Some\x07thing"))
    refused(project, "claims/c.yaml:3:16: YAML syntax error: character '\\x07' is not allowed "
            '(hint: remove it, or write it as an escape inside double quotes ("\\x07"))')


def test_claim_file_size_is_capped(project: Project) -> None:
    path = write_claim(project, "big", CLAIM.format(id="big") + "# " + "x" * MAX_BYTES + "\n")
    refused(project, f"claims/big.yaml: file is {path.stat().st_size:,} bytes, more than the 1,048,576 a YAML file may "
            "have (hint: claim files and manifests are small; split it)")


def test_alias_bomb_refused_before_expansion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Twelve levels of ten aliases: 10**12 values once expanded; refused from the event stream,
    before the document is composed into nodes (let alone expanded)."""
    import registry.yamlsource

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("composed")

    lines = ['l0: &l0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, 12)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(registry.yamlsource.yaml, "compose", never)
    with pytest.raises(UserError) as info:
        load_yaml(path)
    assert "bomb.yaml:5:1: l4: aliases expand to more than 100000 values (alias bomb?)" in info.value.render()


def test_fifo_claim_does_not_hang(project: Project) -> None:
    import os

    os.mkfifo(project.claims / "pipe.yaml")
    refused(project, "claims/pipe.yaml: not a regular file (hint: claim files and manifests are plain files)")


RUNS_COMPARE = CLAIM.replace("status: draft\n", "status: draft\ncombine: all\n").replace(
    """    level: loss
    evaluator: metric.threshold
    params: {{column: loss, reduce: last}}
    expect:
      - {{stat: value, op: "<", value: 2.0}}""",
    """    level: loss
    across: runs
    evaluator: runs.compare
    params: {{evaluator: loss.spike, params: {{column: loss}}, statistic: count}}
    expect:
      - {{stat: mean_a, op: "<", value: 2.0}}""",
)


def test_runs_compare_inner_evaluator_typo(project: Project) -> None:
    write_claim(project, "c", RUNS_COMPARE.format(id="c"))
    refused(project, "claims/c.yaml:12:13: predictions[0].params: unknown evaluator 'loss.spike'; "
            "did you mean 'loss.spikes'?")


MATCH_RATE = CLAIM.replace(
    """    level: loss
    evaluator: metric.threshold
    params: {{column: loss, reduce: last}}
    expect:
      - {{stat: value, op: "<", value: 2.0}}""",
    """    level: text
    evaluator: text.match_rate
    params: {{artifact: samples, pattern: '{pattern}'}}
    expect:
      - {{stat: rate, op: "<", value: 0.5}}""",
)

REGEX_CASES = {
    "(a)\\1": "backreferences (\\1, (?P=name))",
    "(?P<x>a)(?P=x)": "backreferences (\\1, (?P=name))",
    "foo(?=bar)": "lookaround ((?=...), (?!...), (?<=...), (?<!...))",
    "(?<!no )refuse": "lookaround ((?=...), (?!...), (?<=...), (?<!...))",
}


@pytest.mark.parametrize("pattern", sorted(REGEX_CASES))
def test_pattern_re2_cannot_run_is_located(project: Project, pattern: str) -> None:
    write_claim(project, "c", MATCH_RATE.format(id="c", pattern=pattern))
    refused(project, f"claims/c.yaml:10:42: predictions[0].params.pattern: regular expression uses "
            f"{REGEX_CASES[pattern]}, which the linear-time engine (RE2) does not support; rewrite the pattern without it")


def test_backtracking_pattern_runs_in_linear_time(project: Project) -> None:
    """`(a+)+$` on "a"*34 + "!" takes hours with backtracking; RE2 answers at once."""
    import json

    from conftest import write_run

    write_run(project.runs / "r", "r", {"samples": {"path": "samples.jsonl", "kind": "text"}})
    (project.runs / "r" / "samples.jsonl").write_text(
        "".join(json.dumps({"text": "a" * 34 + "!"}) + "\n" for _ in range(5)) + json.dumps({"text": "aaa"}) + "\n"
    )
    write_claim(project, "c", MATCH_RATE.format(id="c", pattern="(a+)+$"))
    start = time.perf_counter()
    result = invoke("evaluate")
    assert result.exit_code == 0, result.output
    assert time.perf_counter() - start < 30
    assert "rate: 0.166666666667" in project.verdict("c", "r").read_text()


def test_step_pattern_runs_on_re2(project: Project) -> None:
    run = project.runs / "r"
    (run / "ckpts").mkdir(parents=True)
    (run / "run.yaml").write_text(
        "id: r\nartifacts:\n  a: {path: ckpts, kind: activations, step_pattern: '(?P<step>\\d+)(?=x)'}\n"
    )
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert result.output == (
        "runs/r/run.yaml:3:53: artifacts.a.step_pattern: step_pattern is not a regular expression RE2 runs (no backreferences or "
        "lookaround): invalid perl operator: (?=\n"
    )
