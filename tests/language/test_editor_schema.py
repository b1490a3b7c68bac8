"""The editor schemas: a claim's `params` and `expect.stat` checked per evaluator (plugins included),
and run.yaml; `registry new` points the claim at the schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Project, invoke

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (the [test] extra) checks the schemas")

REPO = Path(__file__).resolve().parents[2]


def _schema(*args: str) -> dict[str, Any]:
    result = invoke("schema", *args)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output))


def _errors(schema: dict[str, Any], doc: Any) -> list[str]:
    doc = json.loads(json.dumps(doc, default=str))  # dates as an editor sees them: strings
    validator = jsonschema.Draft202012Validator(schema)
    return sorted(e.message for e in validator.iter_errors(doc))


def test_every_shipped_claim_and_run_validates_against_the_schemas(project: Project) -> None:
    claim_schema, run_schema = _schema(), _schema("--run")
    jsonschema.Draft202012Validator.check_schema(claim_schema)
    for path in sorted((REPO / "claims").rglob("*.yaml")):
        assert _errors(claim_schema, yaml.safe_load(path.read_text())) == [], path
    for path in sorted((REPO / "runs").rglob("run.yaml")):
        assert _errors(run_schema, yaml.safe_load(path.read_text())) == [], path


def _claim(evaluator: str, params: dict[str, Any], stat: str) -> dict[str, Any]:
    return {
        "id": "x", "title": "t", "statement": "s", "falsified_if": "f",
        "predictions": [{"id": "p", "level": "loss", "evaluator": evaluator, "params": params,
                         "expect": [{"stat": stat, "op": "==", "value": 0}]}],
    }  # fmt: skip


def test_params_are_checked_against_the_chosen_evaluator(project: Project) -> None:
    schema = _schema()
    assert _errors(schema, _claim("loss.spikes", {"window": 5}, "count")) == []
    assert _errors(schema, _claim("loss.spikes", {"windw": 5}, "count")) == [
        "Additional properties are not allowed ('windw' was unexpected)"
    ]
    assert any(
        "'sideways' is not one of" in m
        for m in _errors(schema, _claim("metric.threshold", {"column": "loss", "reduce": "sideways"}, "value"))
    )


def test_expect_stat_is_one_the_evaluator_produces(project: Project) -> None:
    schema = _schema()
    errors = _errors(schema, _claim("loss.spikes", {}, "value"))
    assert len(errors) == 1 and "'value' is not valid under any of the given schemas" in errors[0]
    stat = schema["$defs"]["Prediction"]["allOf"]
    spikes = next(b for b in stat if b["if"]["properties"]["evaluator"]["const"] == "loss.spikes")
    options = spikes["then"]["properties"]["expect"]["items"]["properties"]["stat"]["anyOf"]
    assert {"const": "count", "description": options[[o["const"] for o in options].index("count")]["description"]} in options


@pytest.mark.usefixtures("fake_plugin_site")
def test_plugins_get_their_own_branch(project: Project) -> None:
    schema = _schema()
    names = [b["if"]["properties"]["evaluator"]["const"] for b in schema["$defs"]["Prediction"]["allOf"]]
    assert "fake.constant" in names
    assert "fake.constant.Params" in schema["$defs"]


def test_the_run_schema_forbids_unknown_keys(project: Project) -> None:
    schema = _schema("--run")
    assert _errors(schema, {"id": "r", "artifacts": {"m": {"path": "m.csv", "colums": {}}}}) == [
        "Additional properties are not allowed ('colums' was unexpected)"
    ]


def test_new_writes_the_schema_line_and_the_schema(project: Project) -> None:
    result = invoke("new", "loss-keeps-falling", "--area", "loss")
    assert result.exit_code == 0, result.output
    assert result.output == "wrote claims/loss/loss-keeps-falling.yaml\nwrote claim.schema.json\n"
    text = (project.claims / "loss" / "loss-keeps-falling.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=../../claim.schema.json\n")
    schema = json.loads((project.root / "claim.schema.json").read_text())
    assert _errors(schema, yaml.safe_load(text)) == []
    result = invoke("new", "loss-keeps-rising", "--area", "loss")
    assert result.output == "wrote claims/loss/loss-keeps-rising.yaml\n"  # the schema file is left as it is
