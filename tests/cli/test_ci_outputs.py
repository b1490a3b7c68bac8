"""`evaluate --junit-xml FILE` and `evaluate --format github`: the verdicts as CI systems read them."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import FIXTURES, Project, invoke

XSD = FIXTURES / "junit" / "junit-10.xsd"


@pytest.fixture
def mixed(project: Project, fake_plugin_site: None) -> Project:
    """One claim of each outcome on the fixture run: pass, fail, inconclusive, error."""
    project.add_run("runs/basic")
    project.add_claim("claims/loss/final-loss-below-2.yaml")
    project.add_claim("claims/loss/loss-below-zero.yaml")
    source = (FIXTURES / "claims/loss/final-loss-below-2.yaml").read_text()
    (project.claims / "needs-more-rows.yaml").write_text(
        source.replace("id: final-loss-below-2", "id: needs-more-rows") + "    min_samples: 1000000\n", encoding="utf-8"
    )
    project.add_claim(FIXTURES / "plugin-claims" / "uses-fake-raising.yaml")
    return project


def _cases(path: Path) -> dict[str, ET.Element]:
    return {case.attrib["name"]: case for case in ET.parse(path).getroot().iter("testcase")}


def test_junit_xml_has_one_testcase_per_claim_and_run(mixed: Project) -> None:
    result = invoke("evaluate", "--junit-xml", "reports/claims.xml")
    assert result.exit_code == 3, result.output  # the raising evaluator
    cases = _cases(mixed.root / "reports" / "claims.xml")
    assert sorted(cases) == [
        "final-loss-below-2 on basic",
        "loss-below-zero on basic",
        "needs-more-rows on basic",
        "uses-fake-raising on basic",
    ]
    assert [c.tag for c in cases["final-loss-below-2 on basic"]] == ["system-out"]
    failure = cases["loss-below-zero on basic"].find("failure")
    assert failure is not None and failure.attrib["message"].startswith("final-loss: fail: value=")
    assert "claims/loss-below-zero.yaml:" in (failure.text or "")
    skipped = cases["needs-more-rows on basic"].find("skipped")
    assert skipped is not None
    assert skipped.attrib["message"] == "final-loss: n=30 is below min_samples=1000000"
    error = cases["uses-fake-raising on basic"].find("error")
    assert error is not None and "division by zero in the fake plugin" in error.attrib["message"]
    suite = ET.parse(mixed.root / "reports" / "claims.xml").getroot().find("testsuite")
    assert suite is not None
    assert {k: suite.attrib[k] for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "4",
        "failures": "1",
        "errors": "1",
        "skipped": "1",
    }


def test_junit_xml_validates_against_the_junit_schema(mixed: Project) -> None:
    xmlschema = pytest.importorskip("xmlschema", reason="xmlschema (the [test] extra) validates the JUnit XML")
    invoke("evaluate", "--junit-xml", "claims.xml")
    xmlschema.XMLSchema(str(XSD)).validate(str(mixed.root / "claims.xml"))


def test_junit_xml_is_byte_reproducible(mixed: Project) -> None:
    invoke("evaluate", "--junit-xml", "a.xml")
    invoke("evaluate", "--junit-xml", "b.xml")
    assert (mixed.root / "a.xml").read_bytes() == (mixed.root / "b.xml").read_bytes()


def test_github_annotations_point_at_the_claim_file_line(mixed: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = mixed.root / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = invoke("evaluate", "--format", "github")
    lines = result.output.splitlines()
    fail = next(line for line in lines if "loss-below-zero on basic" in line)
    assert fail.startswith(
        "::error file=claims/loss-below-zero.yaml,line=11,title=loss-below-zero on basic%3A fail::final-loss: fail: "
    )
    inconclusive = next(line for line in lines if "needs-more-rows" in line)
    assert inconclusive == (
        "::warning file=claims/needs-more-rows.yaml,line=10,title=needs-more-rows on basic%3A inconclusive::"
        "final-loss: inconclusive: n=30 is below min_samples=1000000"
    )
    assert not any("final-loss-below-2 on basic" in line for line in lines)  # a pass is no annotation
    assert lines[-1].startswith("4 verdict(s): 1 error, 1 fail, 1 inconclusive, 1 pass;")
    text = summary.read_text()
    assert text.startswith("### Claims registry\n\n4 verdict(s): 1 error, 1 fail, 1 inconclusive, 1 pass.\n")
    assert (
        "| `needs-more-rows` | `basic` | **inconclusive** | final-loss: inconclusive: n=30 is below min_samples=1000000 |" in text
    )


def test_github_without_a_step_summary_writes_none(mixed: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    invoke("evaluate", "--format", "github")
    assert not list(mixed.root.glob("*.md"))
