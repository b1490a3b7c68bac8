"""Claim files: YAML -> located nodes -> models, every error with file:line:col.

Each prediction's `params` is validated here by its evaluator's own Params model, so
`registry validate` catches a bad parameter long before anything runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ValidationError

from registry.errors import Location, UserError, UserErrors, display_path
from registry.language.schema import Claim
from registry.plugins import EvaluatorRegistry, EvaluatorUnavailable, UnknownEvaluator
from registry.yamlsource import KeyPath, YamlDocument, load_yaml, located

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


def load_claim(path: Path, evaluators: EvaluatorRegistry) -> LoadedClaim:
    """Read one claim file; raises UserErrors listing every problem found in it."""
    doc = load_yaml(path)
    try:
        claim = Claim.model_validate(doc.data)
    except ValidationError as exc:
        raise UserErrors(located(exc, doc, Claim)) from None
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
            errors.extend(located(exc, doc, evaluator.Params, base + ("params",), fallback))
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
        produced = evaluator.statistics_for(validated)
        for j, line in enumerate(pred.expect):
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


