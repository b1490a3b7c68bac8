"""Claim files: YAML (registry/yamlsource.py) -> the claim model (language/schema.py) -> the
cross-file rules (language/checks.py), every error with file:line:col.

Each prediction's `params` is validated by its evaluator's own Params model, so `registry validate`
catches a bad parameter long before anything runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ValidationError

from registry.errors import Location, UserError, UserErrors, display_path
from registry.files import walk
from registry.language import checks
from registry.language.loaded import LoadedClaim
from registry.language.schema import Claim
from registry.plugins import EvaluatorRegistry, EvaluatorUnavailable, UnknownEvaluator
from registry.yamlsource import KeyPath, load_yaml, located

CLAIM_SUFFIXES = (".yaml", ".yml")


def load_claim(path: Path, evaluators: EvaluatorRegistry) -> LoadedClaim:
    """Read one claim file; raises UserErrors listing every problem found in it (the model's, then
    each rule of registry/language/checks.py)."""
    doc = load_yaml(path)
    try:
        claim = Claim.model_validate(doc.data)
    except ValidationError as exc:
        raise UserErrors(located(exc, doc, Claim)) from None
    errors = checks.id_matches_file_name(claim, path, doc) + checks.skeleton_filled(claim, doc)
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
        errors += checks.level_supported(pred, evaluator, doc, base) + checks.across_matches(pred, evaluator, doc, base)
        validated, problems = checks.params_valid(pred, evaluator, evaluators, doc, base)
        errors += problems
        if validated is None:
            continue
        errors += checks.groups_declared(pred, evaluator, validated, doc, base)
        params[pred.id] = validated
        errors += checks.statistics_produced(pred, evaluator, validated, doc, base)
        errors += checks.expect_values_typed(pred, evaluator, validated, doc, base)
    if errors:
        raise UserErrors(errors)
    return LoadedClaim(claim=claim, path=path, doc=doc, params=params, unavailable=unavailable)


def claim_files(paths: Iterable[Path]) -> list[Path]:
    """Claim files named directly or found (recursively, hidden folders left out) below the given folders, sorted."""
    out: set[Path] = set()
    for p in paths:
        if p.is_dir():
            out.update(f for f in walk(p) if f.suffix in CLAIM_SUFFIXES)
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
    errors.extend(checks.ids_unique(loaded))
    if errors:
        raise UserErrors(errors)
    return loaded


