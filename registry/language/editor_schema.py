"""JSON Schemas for editors (yaml-language-server, VS Code's YAML extension): the claim file with one
`if/then` branch per installed evaluator — its `params` and the statistics `expect` lines may name —
and `run.yaml`."""

from __future__ import annotations

import json
from typing import Any

from registry.language.schema import claim_json_schema
from registry.plugins import AnyEvaluator, params_schema

# The file `registry new` points claims at (relative to the project root), and writes when missing.
SCHEMA_FILE = "claim.schema.json"


def _prefixed(schema: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The evaluator's params schema with its `$defs` references renamed into the root's namespace."""
    text = json.dumps(schema).replace('"#/$defs/', f'"#/$defs/{prefix}')
    return dict(json.loads(text))


def _branch(e: AnyEvaluator, defs: dict[str, Any]) -> dict[str, Any]:
    prefix = f"{e.name}."
    params = _prefixed(params_schema(e), prefix)
    for name, sub in params.pop("$defs", {}).items():
        defs[prefix + name] = sub
    defs[prefix + "Params"] = params
    stats = [{"const": s.name, "description": s.doc or s.name} for s in e.statistics]
    then: dict[str, Any] = {
        "properties": {
            "params": {"$ref": f"#/$defs/{prefix}Params"},
            "expect": {"items": {"properties": {"stat": {"anyOf": stats, "description": f"A statistic of {e.name}."}}}},
        }
    }
    return {"if": {"properties": {"evaluator": {"const": e.name}}, "required": ["evaluator"]}, "then": then}


def claim_editor_schema(evaluators: list[AnyEvaluator]) -> dict[str, Any]:
    """The claim schema, made specific to each installed evaluator (plugins included)."""
    schema = claim_json_schema()
    defs = schema.setdefault("$defs", {})
    prediction = defs["Prediction"]
    prediction["allOf"] = [_branch(e, defs) for e in sorted(evaluators, key=lambda e: e.name)]
    evaluator = prediction["properties"]["evaluator"]
    evaluator["examples"] = sorted(e.name for e in evaluators)
    evaluator["description"] = "An installed evaluator (`registry evaluators` lists them)."
    return schema


def run_editor_schema() -> dict[str, Any]:
    """The schema of `run.yaml`."""
    from registry.runs.manifest import RunManifest

    schema = RunManifest.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "claims-registry run.yaml"
    return schema


def modeline(schema_path: str) -> str:
    """The first line of a claim file that tells yaml-language-server which schema to use."""
    return f"# yaml-language-server: $schema={schema_path}\n"
