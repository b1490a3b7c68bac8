"""Bad input: one malformed fixture file per case, and the exact message the user sees, pinned.

Every case goes through the real CLI in a temporary project and must exit 2 with one located line
per problem (`PATH:LINE:COL: dotted.key: message (hint: ...)`), without a traceback, and without
creating or changing any verdict file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, Project, invoke, write_truncated_npy

BAD = FIXTURES / "bad"


@pytest.fixture
def evaluated(project: Project) -> Project:
    """A project with a good run and good claims, evaluated once: the verdicts any bad input must leave alone."""
    project.add_run("runs/basic")
    project.add_claim("claims/loss/final-loss-below-2.yaml")
    project.add_claim("claims/activation/resid-rms-bounded.yaml")
    project.add_claim("claims/text/refusals-are-rare.yaml")
    result = invoke("evaluate")
    assert result.exit_code == 0, result.output
    assert len(project.verdict_snapshot()) == 3
    # One verdict file is removed again: evaluating would create it, so its absence shows nothing ran.
    project.verdict("refusals-are-rare", "basic").unlink()
    return project


def assert_refused(project: Project, args: list[str], expected: str) -> None:
    before = project.verdict_snapshot()
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    # Bad input is reported once, after the verdicts of every (claim, run) pair it does not touch.
    assert result.output.endswith(expected + "\n") and result.output.count(expected) == 1
    assert "Traceback" not in result.output
    after = project.verdict_snapshot()
    # No verdict file changes; pairs the bad input does not touch may be written for the first time.
    assert {k: after.get(k) for k in before} == before
    assert not any(p.name.endswith(".tmp") for p in project.verdicts.rglob("*"))


NESTING_HINT = "claim files need a few levels of nesting; an alias inside its own anchor (&x [*x]) nests forever"

CLAIM_CASES = {
    "yaml-syntax": "claims/yaml-syntax.yaml:3:10: YAML syntax error: did not find expected ',' or ']' "
    "(while parsing a flow sequence that starts at line 2, column 8) "
    "(hint: check indentation and quoting around this place)",
    "duplicate-key": "claims/duplicate-key.yaml:5:1: title: duplicate key 'title' (first at line 2) "
    "(hint: remove one of them)",
    "unknown-key": "claims/unknown-key.yaml:9:47: predictions[0].params.threshhold: unknown key "
    "(hint: did you mean 'threshold'?)",
    "unknown-top-key": "claims/unknown-top-key.yaml:1:1: falsified_if: required key is missing\n"
    "claims/unknown-top-key.yaml:4:1: falsified_iff: unknown key (hint: did you mean 'falsified_if'?)",
    "wrong-type": "claims/wrong-type.yaml:12:18: predictions[0].min_samples: Input should be a valid integer, "
    "unable to parse string as an integer, got 'many'",
    "id-mismatch": "claims/id-mismatch.yaml:1:5: id: id 'some-other-claim' does not match the file name "
    "'id-mismatch.yaml' (hint: rename the file to some-other-claim.yaml or set id: id-mismatch)",
    "unknown-evaluator": "claims/unknown-evaluator.yaml:8:16: predictions[0].evaluator: unknown evaluator "
    "'loss.spike' (hint: did you mean 'loss.spikes'?)",
    "bad-params": "claims/bad-params.yaml:9:36: predictions[0].params.reduce: Input should be 'last', 'first', "
    "'min', 'max', 'mean' or 'median', got 'average'",
    "unknown-stat": "claims/unknown-stat.yaml:11:16: predictions[0].expect[0].stat: metric.threshold does not "
    "produce statistic 'values' (hint: did you mean 'value'? it produces: value, missing)",
    "wrong-level": "claims/wrong-level.yaml:7:12: predictions[0].level: evaluator 'metric.threshold' does not "
    "support level 'text' (hint: it supports: activation, loss)",
    "string-order": "claims/string-order.yaml:11:9: predictions[0].expect[0]: a string value can only be "
    "compared with == or !=, not <",
    "python-tag": "claims/python-tag.yaml:2:8: title: tag '!!python/object/apply:os.system' is not allowed "
    "(hint: only plain YAML values are read; remove the tag)",
    "alias-bomb": "claims/alias-bomb.yaml:7:1: lol5: aliases expand to more than 100000 values (alias bomb?) "
    "(hint: claim files do not need anchors and aliases; write values out)",
    "non-utf8": "claims/non-utf8.yaml:2:11: not UTF-8 text (byte 0xe9) (hint: save the file as UTF-8)",
    "recursive-alias": "claims/recursive-alias.yaml:4:12: statement: values are nested more than 100 levels deep "
    f"(hint: {NESTING_HINT})",
    "deep-nesting": f"claims/deep-nesting.yaml:3:107: values are nested more than 100 levels deep (hint: {NESTING_HINT})",
    "empty": "claims/empty.yaml:1:1: file is empty (hint: a YAML mapping is expected)",
}


def test_every_claim_fixture_has_a_case() -> None:
    assert sorted(p.stem for p in (BAD / "claims").iterdir()) == sorted(CLAIM_CASES)


@pytest.mark.parametrize("case", sorted(CLAIM_CASES))
@pytest.mark.parametrize("command", ["validate", "evaluate"])
def test_bad_claim(evaluated: Project, case: str, command: str) -> None:
    evaluated.add_claim(BAD / "claims" / f"{case}.yaml")
    assert_refused(evaluated, [command], CLAIM_CASES[case])


def test_bad_claim_named_directly(evaluated: Project) -> None:
    path = evaluated.add_claim(BAD / "claims" / "unknown-evaluator.yaml", "elsewhere/unknown-evaluator.yaml")
    shutil.move(path, evaluated.root / "unknown-evaluator.yaml")
    assert_refused(evaluated, ["validate", "unknown-evaluator.yaml"], CLAIM_CASES["unknown-evaluator"].removeprefix("claims/"))


def test_nesting_too_deep_for_libyaml(evaluated: Project) -> None:
    """50,000 levels crash libyaml's (recursive, C) composer: refused from the event stream first."""
    depth = 50_000
    (evaluated.claims / "very-deep.yaml").write_text("id: very-deep\ntitle: " + "[" * depth + "]" * depth + "\n")
    expected = f"claims/very-deep.yaml:2:107: values are nested more than 100 levels deep (hint: {NESTING_HINT})"
    assert_refused(evaluated, ["validate"], expected)


def test_python_tag_runs_nothing(project: Project) -> None:
    project.add_claim(BAD / "claims" / "python-tag.yaml")
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    assert "pwned" not in result.output


def test_duplicate_id_across_files(evaluated: Project) -> None:
    evaluated.add_claim(BAD / "duplicate-id" / "a" / "twin.yaml", "a/twin.yaml")
    evaluated.add_claim(BAD / "duplicate-id" / "b" / "twin.yaml", "b/twin.yaml")
    expected = (
        "claims/b/twin.yaml:1:5: id: duplicate claim id 'twin' (also in claims/a/twin.yaml) "
        "(hint: claim ids are unique across the registry)"
    )
    assert_refused(evaluated, ["validate"], expected)
    assert_refused(evaluated, ["evaluate"], expected)


def test_every_bad_file_in_a_folder_is_reported(evaluated: Project) -> None:
    cases = ["yaml-syntax", "unknown-key", "unknown-evaluator", "non-utf8", "alias-bomb"]
    for case in cases:
        evaluated.add_claim(BAD / "claims" / f"{case}.yaml")
    evaluated.add_run(BAD / "runs" / "path-dotdot")
    expected = "\n".join(
        [CLAIM_CASES[c] for c in sorted(cases)]
        + [
            "runs/path-dotdot/run.yaml:3:19: artifacts.metrics.path: artifact path '../x.csv' leaves the run folder "
            "(hint: artifact paths are relative to the folder holding run.yaml, without '..')"
        ]
    )
    assert_refused(evaluated, ["validate"], expected)
    # Named explicitly, the folder gives the same report.
    assert_refused(evaluated, ["validate", "claims", "runs"], expected)


# --- run manifests and artifacts --------------------------------------------------------------------

# Manifest problems are found by `validate` and `evaluate` alike.
MANIFEST_CASES = {
    "missing-artifact": "runs/missing-artifact/run.yaml:5:19: artifacts.samples.path: artifact file "
    "'samples/generations.jsonl' does not exist (hint: looked for runs/missing-artifact/samples/generations.jsonl)",
    "path-dotdot": "runs/path-dotdot/run.yaml:3:19: artifacts.metrics.path: artifact path '../x.csv' leaves the "
    "run folder (hint: artifact paths are relative to the folder holding run.yaml, without '..')",
    "path-absolute": "runs/path-absolute/run.yaml:3:19: artifacts.metrics.path: artifact path "
    "'/var/data/metrics.csv' leaves the run folder "
    "(hint: artifact paths are relative to the folder holding run.yaml, without '..')",
    "symlink-outside": "runs/symlink-outside/run.yaml:4:19: artifacts.metrics.path: artifact path 'metrics.csv' "
    "resolves outside the run folder (a symlink?) (hint: copy or move the file into the run folder, or list its "
    "storage root under `allow_outside` in [tool.registry])",
    "unknown-manifest-key": "runs/unknown-manifest-key/run.yaml:2:1: artefacts: unknown key "
    "(hint: did you mean 'artifacts'?)",
}

# Artifact contents are read only when a claim needs them: `evaluate` refuses, `validate` does not look.
CONTENT_CASES = {
    "csv-without-step": "runs/csv-without-step/metrics.csv: no 'step' column (hint: columns are iter, loss; "
    "rename the step column or alias it with `columns: {step: <name>}`)",
    "truncated-npy": "runs/truncated-npy/resid.npy: not a readable .npy file: tensor 'resid' [1000] float32 needs "
    "4000 bytes of data after its header, the file has 100 (hint: the file is truncated)",
    "duplicate-steps": "runs/duplicate-steps/metrics.csv: step 0 occurs more than once "
    "(hint: filter rows with `where:` (e.g. `where: {split: train}`), or for a log with one row per logging call "
    "(Lightning's CSVLogger) set `format: lightning`)",
    "bad-jsonl": "runs/bad-jsonl/samples.jsonl:2:36: invalid JSON: Expecting ',' delimiter",
}


def test_every_run_fixture_has_a_case() -> None:
    assert sorted(p.name for p in (BAD / "runs").iterdir()) == sorted(MANIFEST_CASES | CONTENT_CASES)


def add_bad_run(project: Project, case: str) -> Path:
    run = project.add_run(BAD / "runs" / case)
    if case == "symlink-outside":
        outside = project.root.parent / "outside.csv"
        outside.write_text("step,loss\n0,1.0\n")
        (run / "metrics.csv").symlink_to(outside)
    elif case == "truncated-npy":
        write_truncated_npy(run / "resid.npy")
    return run


@pytest.mark.parametrize("case", sorted(MANIFEST_CASES))
@pytest.mark.parametrize("command", ["validate", "evaluate"])
def test_bad_manifest(evaluated: Project, case: str, command: str) -> None:
    add_bad_run(evaluated, case)
    assert_refused(evaluated, [command], MANIFEST_CASES[case])


@pytest.mark.parametrize("case", sorted(CONTENT_CASES))
def test_bad_artifact_content(evaluated: Project, case: str) -> None:
    add_bad_run(evaluated, case)
    assert_refused(evaluated, ["evaluate"], CONTENT_CASES[case])


def test_bad_artifact_affects_only_the_pairs_that_read_it(evaluated: Project) -> None:
    """The bad run's pairs are not judged (no verdict file); the good run's are written; exit 2 at the end."""
    shutil.rmtree(evaluated.verdicts)
    evaluated.verdicts.mkdir()
    run = add_bad_run(evaluated, "truncated-npy")
    run.rename(run.with_name("zz-truncated-npy"))
    result = invoke("evaluate")
    assert result.exit_code == 2, result.output
    assert result.output.count("not a readable .npy file") == 1
    written = sorted(p.relative_to(evaluated.verdicts).as_posix() for p in evaluated.verdicts.rglob("*.yaml"))
    # The claims that read other artifacts of that run are judged on it; the one that reads the .npy is not.
    assert "final-loss-below-2/truncated-npy.yaml" in written and "resid-rms-bounded/basic.yaml" in written
    assert "resid-rms-bounded/truncated-npy.yaml" not in written


def test_run_folder_that_does_not_exist(project: Project) -> None:
    project.add_claim("claims/loss/final-loss-below-2.yaml")
    assert_refused(project, ["evaluate", "--run", "nowhere"], "nowhere: run folder does not exist")


def test_claim_pattern_that_matches_nothing(project: Project) -> None:
    project.add_claim("claims/loss/final-loss-below-2.yaml")
    project.add_run("runs/basic")
    expected = "no claim matches 'final-loss-below-3' (hint: did you mean 'final-loss-below-2'?)"
    assert_refused(project, ["evaluate", "final-loss-below-3"], expected)
