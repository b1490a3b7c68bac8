"""The claim language's rules that a claim's model alone cannot check: each needs another file —
the claim's file name, the evaluator a prediction names (its levels, its Params model, the
statistics it produces), or the other claims. One function per rule; each returns the located
errors it finds (an empty list when the rule holds), so that every problem is reported at once.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from registry.errors import UserError, display_path
from registry.language.schema import Claim, Prediction
from registry.plugins import EvaluatorBase, EvaluatorRegistry
from registry.yamlsource import KeyPath, YamlDocument, located

if TYPE_CHECKING:
    from registry.language.loaded import LoadedClaim


def id_matches_file_name(claim: Claim, path: Path, doc: YamlDocument) -> list[UserError]:
    """A claim's `id` equals its file's stem."""
    if claim.id == path.stem:
        return []
    return [
        UserError(
            f"id {claim.id!r} does not match the file name {path.name!r}",
            location=doc.locate(("id",)),
            hint=f"rename the file to {claim.id}.yaml or set id: {path.stem}",
        )
    ]


SKELETON_MARK = "TODO"


def skeleton_filled(claim: Claim, doc: YamlDocument) -> list[UserError]:
    """The prose `registry new` leaves to fill in (title, statement, falsified_if) no longer says TODO."""
    return [
        UserError(
            f"still holds the skeleton's {SKELETON_MARK} text",
            location=doc.locate((key,)),
            hint=f"say what the claim is: `registry new` wrote {SKELETON_MARK} placeholders",
        )
        for key in ("title", "statement", "falsified_if")
        if SKELETON_MARK in getattr(claim, key)
    ]


def level_supported(pred: Prediction, evaluator: EvaluatorBase[Any], doc: YamlDocument, base: KeyPath) -> list[UserError]:
    """The prediction's `level` is one its evaluator supports."""
    if pred.level in evaluator.levels:
        return []
    return [
        UserError(
            f"evaluator {pred.evaluator!r} does not support level {pred.level!r}",
            location=doc.locate(base + ("level",)),
            hint=f"it supports: {', '.join(sorted(evaluator.levels))}",
        )
    ]


def across_matches(pred: Prediction, evaluator: EvaluatorBase[Any], doc: YamlDocument, base: KeyPath) -> list[UserError]:
    """`across: runs` is set exactly on predictions whose evaluator measures several runs at once."""
    if pred.across == evaluator.across:
        return []
    return [
        UserError(
            f"evaluator {pred.evaluator!r} measures "
            + ("several runs at once" if evaluator.across == "runs" else "one run at a time"),
            location=doc.locate(base + ("evaluator",)),
            hint="set `across: runs` on this prediction"
            if evaluator.across == "runs"
            else "remove `across: runs`, or use a cross-run evaluator such as runs.compare",
        )
    ]


def params_valid(
    pred: Prediction, evaluator: EvaluatorBase[Any], evaluators: EvaluatorRegistry, doc: YamlDocument, base: KeyPath
) -> tuple[BaseModel | None, list[UserError]]:
    """`params` validate against the evaluator's Params model, then pass the evaluator's own `check`."""
    try:
        validated = evaluator.Params.model_validate(pred.params)
    except ValidationError as exc:
        known = ", ".join(evaluator.Params.model_fields) or "none"
        fallback = f"{pred.evaluator} takes: {known} (see `registry evaluators`)"
        return None, located(exc, doc, evaluator.Params, base + ("params",), fallback)
    try:
        evaluator.check(validated, evaluators)
    except ValueError as exc:
        return None, [UserError(str(exc), location=doc.locate(base + ("params",)))]
    return validated, []


def groups_declared(
    pred: Prediction, evaluator: EvaluatorBase[Any], validated: BaseModel, doc: YamlDocument, base: KeyPath
) -> list[UserError]:
    """Every run group the params name is declared under the prediction's `groups:`."""
    return [
        UserError(
            f"params name group {group!r}, which the prediction does not declare",
            location=doc.locate(base + ("params",)),
            hint=f"declared groups: {', '.join(pred.groups) or 'none'} (add them under `groups:`)",
        )
        for group in evaluator.group_names(validated)
        if group not in pred.groups
    ]


def statistics_produced(
    pred: Prediction, evaluator: EvaluatorBase[Any], validated: BaseModel, doc: YamlDocument, base: KeyPath
) -> list[UserError]:
    """Every `expect` line compares a statistic the evaluator produces with these params."""
    produced = [s.name for s in evaluator.statistics_for(validated)]
    errors: list[UserError] = []
    for j, line in enumerate(pred.expect):
        if line.stat not in produced:
            close = difflib.get_close_matches(line.stat, produced, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            errors.append(
                UserError(
                    f"{pred.evaluator} does not produce statistic {line.stat!r}",
                    location=doc.locate(base + ("expect", j, "stat")),
                    hint=f"{hint}it produces: {', '.join(produced)}",
                )
            )
    return errors


def expect_values_typed(
    pred: Prediction, evaluator: EvaluatorBase[Any], validated: BaseModel, doc: YamlDocument, base: KeyPath
) -> list[UserError]:
    """An `expect` value has the declared type of its statistic: no quoted number against a number."""
    declared = {s.name: s for s in evaluator.statistics_for(validated)}
    errors: list[UserError] = []
    for j, line in enumerate(pred.expect):
        stat = declared.get(line.stat)
        if stat is None or stat.type is object:
            continue
        text = isinstance(line.value, str) and line.value != "alpha"
        if text != (stat.type is str):
            errors.append(
                UserError(
                    f"{pred.evaluator} reports {line.stat} as {stat.type.__name__}; "
                    f"{line.value!r} is a {'string' if text else 'number'}",
                    location=doc.locate(base + ("expect", j, "value")),
                    hint="write the number without quotes" if text else "compare a name with a quoted string",
                )
            )
    return errors


def ids_unique(claims: Sequence[LoadedClaim]) -> list[UserError]:
    """Claim ids are unique across the registry."""
    first: dict[str, LoadedClaim] = {}
    errors: list[UserError] = []
    for lc in claims:
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
    return errors


def supersedes_retired(claims: Sequence[LoadedClaim], complete: bool) -> list[UserError]:
    """`supersedes:` must name a claim that exists (when all claims are loaded) and is retired."""
    by_id = {lc.id: lc for lc in claims}
    errors: list[UserError] = []
    for lc in claims:
        old_id = lc.claim.supersedes
        if old_id is None:
            continue
        old = by_id.get(old_id)
        if old is None:
            if complete:
                errors.append(
                    UserError(
                        f"supersedes {old_id!r}, which is not a claim",
                        location=lc.doc.locate(("supersedes",)),
                        hint="keep the old claim file, with `status: retired`",
                    )
                )
            continue
        if old.claim.status != "retired":
            errors.append(
                UserError(
                    f"supersedes {old_id!r}, which is still {old.claim.status}",
                    location=lc.doc.locate(("supersedes",)),
                    hint=f"set `status: retired` in {display_path(old.path)}",
                )
            )
    return errors
