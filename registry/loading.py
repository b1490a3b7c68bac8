"""Claim files and run manifests: YAML -> located nodes -> models, every error with file:line:col.

Each prediction's `params` is validated here by its evaluator's own Params model, so
`registry validate` catches a bad parameter long before anything runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .errors import Location, UserError, UserErrors, display_path
from .plugins import EvaluatorRegistry, EvaluatorUnavailable, UnknownEvaluator
from .schema import Claim, RunManifest
from .yamlsource import KeyPath, YamlDocument, load_yaml

CLAIM_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class LoadedClaim:
    claim: Claim
    path: Path
    doc: YamlDocument
    # Validated params per prediction id; None where the evaluator could not be loaded.
    params: dict[str, BaseModel | None]
    # Evaluators that failed to load, by prediction id (those predictions become `error`).
    unavailable: dict[str, str]

    @property
    def id(self) -> str:
        return self.claim.id


def _message(err: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        return msg[len("Value error, ") :]
    value = err.get("input")
    if isinstance(value, str | int | float | bool) and kind not in ("assertion_error",):
        # Say what was written: "Input should be a valid integer, got 'many'".
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        msg += f", got {shown}"
    return msg


def validation_errors(exc: ValidationError, doc: YamlDocument, prefix: KeyPath = ()) -> list[UserError]:
    """pydantic errors -> located UserErrors (one per problem, the most specific place first)."""
    out: list[UserError] = []
    seen: set[tuple[KeyPath, str]] = set()
    for err in exc.errors(include_url=False):
        loc: KeyPath = prefix + tuple(p for p in err["loc"] if isinstance(p, str | int))
        # Union members add their type name to the path (e.g. 'float', 'int'); drop those.
        loc = tuple(p for p in loc if not (isinstance(p, str) and p in _UNION_TAGS))
        msg = _message(err)
        if (loc, msg) in seen:
            continue
        seen.add((loc, msg))
        at_key = err["type"] == "extra_forbidden"
        out.append(UserError(msg, location=doc.locate(loc, at_key=at_key)))
    return out


_UNION_TAGS = {"float", "int", "str", "bool", "date", "datetime", "function-after[_strings_only_for_equality()]"}


def _all_fields_of(model: type[BaseModel]) -> list[str]:
    names: set[str] = set()
    stack: list[type[BaseModel]] = [model]
    seen: set[type[BaseModel]] = set()
    while stack:
        m = stack.pop()
        if m in seen:
            continue
        seen.add(m)
        names.update(m.model_fields)
        for f in m.model_fields.values():
            for arg in _model_types(f.annotation):
                stack.append(arg)
    return sorted(names)


def _model_types(annotation: Any) -> list[type[BaseModel]]:
    import typing

    out: list[type[BaseModel]] = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        out.append(annotation)
    for arg in typing.get_args(annotation):
        out.extend(_model_types(arg))
    return out


def _typo_hint(key: str, model: type[BaseModel]) -> str | None:
    import difflib

    close = difflib.get_close_matches(key, _all_fields_of(model), n=1, cutoff=0.7)
    return f"did you mean {close[0]!r}?" if close else None


def _located(
    exc: ValidationError,
    doc: YamlDocument,
    model: type[BaseModel],
    prefix: KeyPath = (),
    fallback: str = "remove it, or check its spelling against `registry schema`",
) -> list[UserError]:
    errors = validation_errors(exc, doc, prefix)
    for e in errors:
        if e.message == "unknown key" and e.location and e.location.key:
            key = e.location.key.rsplit(".", 1)[-1]
            e.hint = _typo_hint(key, model) or fallback
    return errors


def load_claim(path: Path, evaluators: EvaluatorRegistry) -> LoadedClaim:
    """Read one claim file; raises UserErrors listing every problem found in it."""
    doc = load_yaml(path)
    try:
        claim = Claim.model_validate(doc.data)
    except ValidationError as exc:
        raise UserErrors(_located(exc, doc, Claim)) from None
    errors: list[UserError] = []
    if claim.id != path.stem:
        errors.append(
            UserError(
                f"id {claim.id!r} does not match the file name {path.name!r}",
                location=doc.locate(("id",)),
                hint=f"rename the file to {claim.id}.yaml or set id: {path.stem}",
            )
        )
    params: dict[str, BaseModel | None] = {}
    unavailable: dict[str, str] = {}
    for i, pred in enumerate(claim.predictions):
        base: KeyPath = ("predictions", i)
        try:
            evaluator = evaluators.get(pred.evaluator)
        except UnknownEvaluator as exc:
            hint = f"did you mean {exc.suggestions[0]!r}?" if exc.suggestions else "see `registry evaluators`"
            errors.append(
                UserError(f"unknown evaluator {pred.evaluator!r}", location=doc.locate(base + ("evaluator",)), hint=hint)
            )
            continue
        except EvaluatorUnavailable as exc:
            params[pred.id] = None
            unavailable[pred.id] = exc.failure.render()
            continue
        if pred.level not in evaluator.levels:
            errors.append(
                UserError(
                    f"evaluator {pred.evaluator!r} does not support level {pred.level!r}",
                    location=doc.locate(base + ("level",)),
                    hint=f"it supports: {', '.join(sorted(evaluator.levels))}",
                )
            )
        if pred.across != evaluator.across:
            errors.append(
                UserError(
                    f"evaluator {pred.evaluator!r} measures "
                    + ("several runs at once" if evaluator.across == "runs" else "one run at a time"),
                    location=doc.locate(base + ("evaluator",)),
                    hint="set `across: runs` on this prediction"
                    if evaluator.across == "runs"
                    else "remove `across: runs`, or use a cross-run evaluator such as runs.compare",
                )
            )
        try:
            validated = evaluator.Params.model_validate(pred.params)
        except ValidationError as exc:
            known = ", ".join(evaluator.Params.model_fields) or "none"
            fallback = f"{pred.evaluator} takes: {known} (see `registry evaluators`)"
            errors.extend(_located(exc, doc, evaluator.Params, base + ("params",), fallback))
            continue
        try:
            evaluator.check(validated, evaluators)
        except ValueError as exc:
            errors.append(UserError(str(exc), location=doc.locate(base + ("params",))))
            continue
        for group in evaluator.group_names(validated):
            if group not in pred.groups:
                errors.append(
                    UserError(
                        f"params name group {group!r}, which the prediction does not declare",
                        location=doc.locate(base + ("params",)),
                        hint=f"declared groups: {', '.join(pred.groups) or 'none'} (add them under `groups:`)",
                    )
                )
        params[pred.id] = validated
        declared = {s.name: s for s in evaluator.statistics_for(validated)}
        produced = list(declared)
        for j, line in enumerate(pred.expect):
            # Typed expect: a quoted number against a numeric statistic (or a number against a name).
            text = isinstance(line.value, str) and line.value != "alpha"
            typed = line.stat in declared and declared[line.stat].type is not object
            if typed and text != (declared[line.stat].type is str):
                kind = declared[line.stat].type.__name__
                errors.append(
                    UserError(
                        f"{pred.evaluator} reports {line.stat} as {kind}; {line.value!r} is a {'string' if text else 'number'}",
                        location=doc.locate(base + ("expect", j, "value")),
                        hint="write the number without quotes" if text else "compare a name with a quoted string",
                    )
                )
            if line.stat not in produced:
                import difflib

                close = difflib.get_close_matches(line.stat, produced, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                errors.append(
                    UserError(
                        f"{pred.evaluator} does not produce statistic {line.stat!r}",
                        location=doc.locate(base + ("expect", j, "stat")),
                        hint=f"{hint}it produces: {', '.join(produced)}",
                    )
                )
    if errors:
        raise UserErrors(errors)
    return LoadedClaim(claim=claim, path=path, doc=doc, params=params, unavailable=unavailable)


def claim_files(paths: Iterable[Path]) -> list[Path]:
    """Claim files named directly or found (recursively) below the given folders, sorted."""
    out: set[Path] = set()
    for p in paths:
        if p.is_dir():
            out.update(f for f in p.rglob("*") if f.suffix in CLAIM_SUFFIXES and f.is_file())
        elif p.exists():
            out.add(p)
        else:
            raise UserError("no such file or folder", location=Location(display_path(p)))
    return sorted(out)


def load_claims(paths: Iterable[Path], evaluators: EvaluatorRegistry) -> list[LoadedClaim]:
    """Load every claim; collect all errors (every bad file, not only the first), check ids unique."""
    loaded: list[LoadedClaim] = []
    errors: list[UserError] = []
    for path in claim_files(paths):
        try:
            loaded.append(load_claim(path, evaluators))
        except UserErrors as exc:
            errors.extend(exc.errors)
        except UserError as exc:
            errors.append(exc)
    first: dict[str, LoadedClaim] = {}
    for lc in loaded:
        if lc.id in first:
            errors.append(
                UserError(
                    f"duplicate claim id {lc.id!r} (also in {display_path(first[lc.id].path)})",
                    location=lc.doc.locate(("id",)),
                    hint="claim ids are unique across the registry",
                )
            )
        else:
            first[lc.id] = lc
    if errors:
        raise UserErrors(errors)
    return loaded


def load_run_manifest(path: Path) -> tuple[RunManifest, YamlDocument]:
    doc = load_yaml(path)
    try:
        return RunManifest.model_validate(doc.data), doc
    except ValidationError as exc:
        raise UserErrors(_located(exc, doc, RunManifest)) from None
