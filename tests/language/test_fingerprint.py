"""The claim fingerprint: what changes it and what does not; verdict schema versions 1 and 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import FIXTURES, Project, invoke

from registry.language.fingerprint import claim_from_text, fingerprint, legacy_fingerprints
from registry.verdicts.file import read_verdict, render
from registry.verdicts.model import SCHEMA_VERSION, matches

BASE = """\
id: spikes-precede
title: Grad-norm surges precede loss spikes
statement: >
  Loss spikes are preceded by
  grad-norm surges.
falsified_if: Fewer than 80% of spikes follow a surge.
status: registered
authors: [Jane Doe]
tags: [loss-spikes]
references:
  - {title: "A paper", url: "https://example.org"}
applies_to: {tags: [transformer, fixture]}
combine: all
predictions:
  - id: surge-precedes-spike
    level: loss
    evaluator: events.precedes
    description: The main test.
    params:
      target: {column: loss, detector: robust_z, z: 8}
      signal: {column: grad_norm, detector: threshold, above: 2.0}
      within: [-10, 0]
    expect:
      - {stat: fraction, op: ">=", value: 0.8}
      - {stat: p_value, op: "<", value: alpha}
    min_samples: 3
  - id: final-loss
    level: loss
    evaluator: metric.threshold
    params: {column: loss, reduce: last}
    expect:
      - {stat: value, op: "<", value: 2.0}
"""


def fp(text: str) -> str:
    claim = claim_from_text(text)
    assert claim is not None, text
    return fingerprint(claim)


def edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


def _swap_predictions(t: str) -> str:
    first, second = t.index("  - id: surge"), t.index("  - id: final-loss")
    return t[:first] + t[second:] + t[first:second]


SAME = {
    "comments and blank lines": lambda t: "# a comment\n\n" + edit(t, "combine: all\n", "combine: all   # rolled up\n\n"),
    "key order": lambda t: edit(
        t,
        "id: spikes-precede\ntitle: Grad-norm surges precede loss spikes\n",
        "title: Grad-norm surges precede loss spikes\nid: spikes-precede\n",
    ),
    "flow vs block style": lambda t: edit(
        t, "applies_to: {tags: [transformer, fixture]}", "applies_to:\n  tags:\n    - transformer\n    - fixture"
    ),
    "prose reflowed": lambda t: edit(
        t,
        "statement: >\n  Loss spikes are preceded by\n  grad-norm surges.",
        'statement: "Loss spikes are preceded by grad-norm surges."',
    ),
    "cosmetic fields": lambda t: edit(
        edit(t, "authors: [Jane Doe]\ntags: [loss-spikes]", "authors: [Jane, John]\ntags: [renamed]\nregistered: 2026-01-01"),
        "title: Grad-norm surges precede loss spikes",
        "title: Another title",
    ),
    "status": lambda t: edit(t, "status: registered", "status: retired"),
    "ids and descriptions": lambda t: edit(edit(t, "id: surge-precedes-spike", "id: renamed"), "The main test.", "Reworded."),
    "prediction order": _swap_predictions,
    "expect line order": lambda t: edit(
        t,
        '      - {stat: fraction, op: ">=", value: 0.8}\n      - {stat: p_value, op: "<", value: alpha}',
        '      - {stat: p_value, op: "<", value: alpha}\n      - {stat: fraction, op: ">=", value: 0.8}',
    ),
    "tag order": lambda t: edit(t, "[transformer, fixture]", "[fixture, transformer]"),
    "2.0 written as 2": lambda t: edit(t, "value: 2.0}", "value: 2}"),
    "a default written out": lambda t: edit(
        t,
        "    params: {column: loss, reduce: last}\n",
        "    params: {column: loss, reduce: last}\n    min_samples: 1\n    across: run\n",
    )
    + "alpha: 0.05\n",
    "an amendment added": lambda t: t + "amendments:\n  - {date: 2026-02-01, reason: Typo., replaces: 0123456789ab}\n",
}

DIFFERENT = {
    "threshold": lambda t: edit(t, "value: 0.8}", "value: 0.7}"),
    "op": lambda t: edit(t, 'op: ">=", value: 0.8', 'op: ">", value: 0.8'),
    "statistic": lambda t: edit(t, "stat: fraction", "stat: lift"),
    "window": lambda t: edit(t, "within: [-10, 0]", "within: [-20, 0]"),
    "window order kept": lambda t: edit(t, "within: [-10, 0]", "within: [0, -10]"),
    "params": lambda t: edit(t, "z: 8}", "z: 6}"),
    "evaluator": lambda t: edit(t, "evaluator: metric.threshold", "evaluator: metric.trend"),
    "level": lambda t: edit(t, "level: loss\n    evaluator: metric", "level: activation\n    evaluator: metric"),
    "min_samples": lambda t: edit(t, "min_samples: 3", "min_samples: 5"),
    "alpha": lambda t: t + "alpha: 0.01\n",
    "combine": lambda t: edit(t, "combine: all", "combine: any"),
    "applies_to": lambda t: edit(t, "[transformer, fixture]", "[transformer]"),
    "statement": lambda t: edit(t, "grad-norm surges.", "gradient-norm surges."),
    "falsified_if": lambda t: edit(t, "80%", "70%"),
    "prediction removed": lambda t: t[: t.index("  - id: final-loss")],
}


@pytest.mark.parametrize("change", sorted(SAME))
def test_fingerprint_ignores(change: str) -> None:
    assert fp(SAME[change](BASE)) == fp(BASE)


@pytest.mark.parametrize("change", sorted(DIFFERENT))
def test_fingerprint_changes_with(change: str) -> None:
    assert fp(DIFFERENT[change](BASE)) != fp(BASE)


def test_fingerprint_changes_with_across_and_groups() -> None:
    text = """\
id: c
title: t
statement: s
falsified_if: f
predictions:
  - id: p
    level: loss
    evaluator: runs.compare
    across: runs
    groups: {a: {tags: [x]}, b: {tags: [y]}}
    params: {column: loss, a: a, b: b}
    expect:
      - {stat: difference, op: "<", value: 0}
"""
    assert fp(text) != fp(text.replace("tags: [y]", "tags: [z]"))
    assert fp(text) == fp(text.replace("{a: {tags: [x]}, b: {tags: [y]}}", "{b: {tags: [y]}, a: {tags: [x]}}"))


def test_alpha_only_with_less_than() -> None:
    bad = BASE.replace('{stat: p_value, op: "<", value: alpha}', '{stat: p_value, op: ">", value: alpha}')
    assert claim_from_text(bad) is None
    assert claim_from_text(BASE) is not None


def test_version_1_fingerprint_is_still_recognised() -> None:
    """The v1 golden verdict was recorded under the earlier definition: it still matches its claim."""
    claim = claim_from_text((FIXTURES / "golden" / "golden-all-levels.yaml").read_text())
    assert claim is not None
    v1 = read_verdict(FIXTURES / "golden" / "golden-all-levels.basic.v1.yaml")
    assert v1.claim.sha256 in legacy_fingerprints(claim)
    assert v1.claim.fingerprint is None
    assert matches(v1, claim)
    v2 = read_verdict(FIXTURES / "golden" / f"golden-all-levels.basic.v{SCHEMA_VERSION}.yaml")
    assert v2.claim.fingerprint == fingerprint(claim)
    assert matches(v2, claim)


def test_version_3_layout(project: Project) -> None:
    """Every v3 verdict records fingerprint, status and the decision rule; no fact about git (the
    registration level is computed when read)."""
    project.add_run("runs/basic")
    project.add_claim("golden/golden-all-levels.yaml")
    assert invoke("evaluate").exit_code == 0
    text = project.verdict("golden-all-levels", "basic").read_text()
    data = yaml.safe_load(text)
    assert data["schema_version"] == 3
    assert set(data["claim"]) == {"id", "fingerprint", "status"}
    assert data["decision"] == {"rule": "intersection-union", "alpha": 0.05, "tests": 0, "per_test_alpha": 0.05}
    assert "registration" not in data
    assert "sha256" not in data["claim"] and "resolved" not in text
    assert render(read_verdict(project.verdict("golden-all-levels", "basic"))) == text


def test_a_verdict_that_mixes_versions_is_refused(tmp_path: Path) -> None:
    from registry.errors import UserError

    v1 = (FIXTURES / "golden" / "golden-all-levels.basic.v1.yaml").read_text()
    path = tmp_path / "mixed.yaml"
    path.write_text(v1.replace("schema_version: 1", "schema_version: 2"))
    with pytest.raises(UserError, match="not a valid verdict file: claim.fingerprint is required from schema version 2"):
        read_verdict(path)
