"""`registry evaluators [NAME]`: the installed evaluators, or one of them in full."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from registry.cli.render import _console, _json

if TYPE_CHECKING:
    from rich.console import Console

    from registry.plugins import AnyEvaluator, PluginFailure, Stat


def _stat_data(s: Stat) -> dict[str, Any]:
    return {
        "name": s.name,
        "doc": s.doc,
        # JSON has no infinity: an open end is null.
        "range": None if s.range is None else [v if math.isfinite(v) else None for v in s.range],
        "rate": s.rate,
        "type": s.type.__name__,
    }


def _data(e: AnyEvaluator) -> dict[str, Any]:
    from registry.plugins import params_schema

    return {
        "name": e.name,
        "levels": sorted(e.levels),
        "version": e.version,
        "statistics": [_stat_data(s) for s in e.statistics],
        "across": e.across,
        "params": params_schema(e),
        "summary": e.describe(),
    }


def evaluator_list(listed: list[AnyEvaluator], failures: list[PluginFailure], fmt: str) -> None:
    if fmt == "json":
        _json({"evaluators": [_data(e) for e in listed], "failed": [f.render() for f in failures]})
        return
    from rich.markup import escape

    from registry.plugins import params_schema

    console = _console()
    for e in listed:
        console.print(f"[bold]{e.name}[/] {e.version}  levels: {', '.join(sorted(e.levels))}")
        console.print(f"  {escape(e.describe())}")
        schema = params_schema(e)
        required = set(schema.get("required", []))
        for pname, prop in schema.get("properties", {}).items():
            default = "" if pname in required else f" = {json.dumps(prop.get('default'))}"
            console.print(f"  params.{pname}{escape(default)}  {escape(prop.get('description', ''))}")
        console.print(f"  statistics: {', '.join(s.name for s in e.statistics)}")
    for f in failures:
        console.print(f"[red]{escape(f.render())}[/]")


def evaluator_detail(e: AnyEvaluator, fmt: str) -> None:
    """One evaluator: each parameter with its type, default and allowed values; each statistic with its meaning."""
    if fmt == "json":
        _json(_data(e))
        return
    from registry.plugins import params_schema

    console = _console()
    across = "  (across runs)" if e.across == "runs" else ""
    console.print(f"[bold]{e.name}[/] {e.version}  levels: {', '.join(sorted(e.levels))}{across}")
    console.print(f"  {_esc(e.describe())}")
    schema = params_schema(e)
    console.print("params:")
    required = set(schema.get("required", []))
    for pname, prop in schema.get("properties", {}).items():
        _param(console, pname, prop, schema.get("$defs", {}), pname in required)
    console.print("statistics:")
    for s in e.statistics:
        facts = [s.type.__name__] + ([f"in [{s.range[0]:g}, {s.range[1]:g}]"] if s.range is not None else [])
        facts += ["a rate over n"] if s.rate else []
        console.print(f"  {s.name} ({', '.join(facts)})")
        console.print(f"      {_esc(s.doc or '(no description)')}")


def _esc(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _param(console: Console, name: str, prop: dict[str, Any], defs: dict[str, Any], required: bool) -> None:
    kind, choices = _type_of(prop, defs)
    default = "required" if required else f"default {json.dumps(prop.get('default'))}"
    console.print(f"  {name}: {_esc(kind)}, {_esc(default)}")
    if choices:
        console.print(f"      one of: {_esc(', '.join(json.dumps(c) for c in choices))}")
    if prop.get("description"):
        console.print(f"      {_esc(prop['description'])}")


def _type_of(prop: dict[str, Any], defs: dict[str, Any]) -> tuple[str, list[Any]]:
    """A JSON Schema property as a short type (`integer | null`) and its allowed values (enums, consts)."""
    if "$ref" in prop:
        target = defs.get(prop["$ref"].rsplit("/", 1)[-1], {})
        kind, choices = _type_of(target, defs)
        return (prop["$ref"].rsplit("/", 1)[-1] if kind == "any" else kind), choices
    if "enum" in prop:
        return prop.get("type", "enum"), list(prop["enum"])
    if "const" in prop:
        return prop.get("type", "const"), [prop["const"]]
    for key in ("anyOf", "oneOf"):
        if key in prop:
            parts = [_type_of(p, defs) for p in prop[key]]
            kinds = list(dict.fromkeys(k for k, _ in parts))
            return " | ".join(kinds), [c for _, cs in parts for c in cs]
    kind = prop.get("type", "any")
    if kind == "array" and "items" in prop:
        inner, choices = _type_of(prop["items"], defs)
        return f"array of {inner}", choices
    if kind == "array" and "prefixItems" in prop:
        inner = ", ".join(_type_of(p, defs)[0] for p in prop["prefixItems"])
        return f"[{inner}]", []
    return (" | ".join(kind) if isinstance(kind, list) else str(kind)), []
