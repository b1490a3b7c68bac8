"""What changed between two versions of a claim, classified (threshold loosened, statistic swapped,
window changed, ...), and which version of a claim a recorded fingerprint belongs to (current,
original, or as amended on a date). Used by the amendments check and by `show` and `history`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from registry.language.fingerprint import fingerprint, same_version
from registry.language.schema import ALPHA, Claim, ExpectLine, Prediction
from registry.yamlsource import KeyPath

# Params keys that set where or when something is measured: a change there is a "window changed".
WINDOW_KEYS = frozenset({"within", "window", "steps", "baseline", "lag", "lags", "horizon", "warmup", "step", "checkpoints"})


LOOSER = {">": -1, ">=": -1, "<": 1, "<=": 1}  # the direction in which a threshold gets easier to meet


@dataclass(frozen=True)
class Change:
    """One classified difference between two versions of a claim."""

    kind: str
    """e.g. "threshold loosened", "statistic swapped", "window changed", "prediction added"."""
    where: KeyPath
    """Key path in the newer version (in the older one for something removed)."""
    detail: str

    def render(self) -> str:
        return f"{self.kind} ({self.detail})" if self.detail else self.kind


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _threshold(line: ExpectLine, claim: Claim) -> Any:
    from registry.language.judge import decision_rule

    return decision_rule(claim).per_test_alpha if line.value == ALPHA else line.value


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _diff_values(old: Any, new: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any, Any]]:
    """(key path, old, new) of every differing leaf of two params mappings."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            out.extend(_diff_values(old.get(key), new.get(key), (*path, str(key))))
        return out
    same = old == new and type(old) is type(new) or (_number(old) and _number(new) and old == new)
    return [] if same else [(path, old, new)]


def _expect_changes(old: Prediction, new: Prediction, old_claim: Claim, new_claim: Claim, base: KeyPath) -> list[Change]:
    changes: list[Change] = []
    old_left = list(enumerate(old.expect))
    new_left = list(enumerate(new.expect))
    pairs: list[tuple[int, ExpectLine, int, ExpectLine]] = []
    for same_op in (True, False):
        for j, n in list(new_left):
            match = next((o for o in old_left if o[1].stat == n.stat and (o[1].op == n.op or not same_op)), None)
            if match is not None:
                pairs.append((match[0], match[1], j, n))
                old_left.remove(match)
                new_left.remove((j, n))
    for _, o, j, n in sorted(pairs, key=lambda p: p[2]):
        at = (*base, "expect", j)
        if o.op != n.op:
            changes.append(Change("op changed", (*at, "op"), f"{n.stat} {o.op} {_show(o.value)} → {n.op} {_show(n.value)}"))
            continue
        if o.value == n.value:
            continue  # the same number, or `alpha` in both (an alpha change is reported on its own)
        before, after = _threshold(o, old_claim), _threshold(n, new_claim)
        detail = f"{n.stat} {o.op} {_show(o.value)} → {n.op} {_show(n.value)}"
        if _number(before) and _number(after) and n.op in LOOSER and before != after:
            looser = (after - before) * LOOSER[n.op] > 0
            changes.append(Change("threshold loosened" if looser else "threshold tightened", (*at, "value"), detail))
        elif before != after:
            changes.append(Change("threshold changed", (*at, "value"), detail))
        else:
            changes.append(Change("threshold rewritten", (*at, "value"), f"{detail}, the same number"))
    while old_left and new_left:
        (_, o), (j, n) = old_left.pop(0), new_left.pop(0)
        detail = f"{o.stat} {o.op} {_show(o.value)} → {n.stat} {n.op} {_show(n.value)}"
        changes.append(Change("statistic swapped", (*base, "expect", j, "stat"), detail))
    for _, o in old_left:
        changes.append(Change("expect line removed", (*base, "expect"), f"{o.stat} {o.op} {_show(o.value)}"))
    for j, n in new_left:
        changes.append(Change("expect line added", (*base, "expect", j), f"{n.stat} {n.op} {_show(n.value)}"))
    return changes


def _prediction_changes(o: Prediction, n: Prediction, old: Claim, new: Claim, base: KeyPath) -> list[Change]:
    changes: list[Change] = []
    label = f"{n.id}: " if o.id == n.id else f"{o.id} → {n.id}: "
    if o.level != n.level:
        changes.append(Change("level changed", (*base, "level"), f"{label}{o.level} → {n.level}"))
    if o.evaluator != n.evaluator:
        changes.append(Change("evaluator changed", (*base, "evaluator"), f"{label}{o.evaluator} → {n.evaluator}"))
    if o.across != n.across or o.groups != n.groups:
        changes.append(Change("groups changed", (*base, "groups"), f"{label}across {o.across} → {n.across}"))
    for path, a, b in _diff_values(o.params, n.params):
        kind = "window changed" if any(k in WINDOW_KEYS for k in path) else "params changed"
        changes.append(Change(kind, (*base, "params", *path), f"{label}{'.'.join(path)}: {_show(a)} → {_show(b)}"))
    if o.min_samples != n.min_samples:
        changes.append(Change("min_samples changed", (*base, "min_samples"), f"{label}{o.min_samples} → {n.min_samples}"))
    changes.extend(_expect_changes(o, n, old, new, base))
    return changes


def classify(old: Claim, new: Claim) -> list[Change]:
    """What changed in the claim's scientific content from `old` to `new`, most telling first."""
    changes: list[Change] = []
    for key in ("statement", "falsified_if"):
        if " ".join(getattr(old, key).split()) != " ".join(getattr(new, key).split()):
            changes.append(Change(f"{key} changed", (key,), ""))
    if old.applies_to != new.applies_to:
        before, after = old.applies_to.model_dump(exclude_defaults=True), new.applies_to.model_dump(exclude_defaults=True)
        changes.append(Change("applies_to changed", ("applies_to",), f"{_show(before)} → {_show(after)}"))
    if old.combine != new.combine:
        changes.append(Change("combine changed", ("combine",), f"{old.combine} → {new.combine}"))
    if old.alpha != new.alpha:
        kind = "alpha loosened" if new.alpha > old.alpha else "alpha tightened"
        changes.append(Change(kind, ("alpha",), f"{old.alpha} → {new.alpha}"))
    old_preds = list(old.predictions)
    new_index = {p.id: j for j, p in enumerate(new.predictions)}
    paired: dict[int, Prediction] = {}
    for o in list(old_preds):
        if o.id in new_index:
            paired[new_index[o.id]] = o
            old_preds.remove(o)
    # Renamed predictions: pair the rest in order when they use the same evaluator.
    for j, n in enumerate(new.predictions):
        if j in paired:
            continue
        match = next((o for o in old_preds if o.evaluator == n.evaluator), None)
        if match is not None:
            paired[j] = match
            old_preds.remove(match)
    for j, n in enumerate(new.predictions):
        if j in paired:
            changes.extend(_prediction_changes(paired[j], n, old, new, ("predictions", j)))
        else:
            changes.append(Change("prediction added", ("predictions", j), n.id))
    for o in old_preds:
        changes.append(Change("prediction removed", ("predictions",), o.id))
    if not changes and fingerprint(old) != fingerprint(new):
        changes.append(Change("content changed", (), ""))
    return changes


# A fingerprint that no version the claim records (current, or replaced by an amendment) has.
UNRECORDED = "an unrecorded earlier version"


def recorded_under(claim: Claim, recorded: str, schema_version: int) -> str | None:
    """None when a verdict recorded under `recorded` is of the current claim; else which version it
    judged, as `show` says it: "the original claim", "the claim as amended <date>", or "an older
    version of the claim" (one no amendment records)."""
    if same_version(recorded, schema_version, claim):
        return None
    label = version_label(claim, recorded, schema_version)
    return "an older version of the claim" if label == UNRECORDED else f"the {label}"


def version_label(claim: Claim, recorded: str, schema_version: int) -> str:
    """Which version of `claim` a fingerprint belongs to: current, original, or as amended on a date."""
    if same_version(recorded, schema_version, claim):
        return f"claim as amended {claim.amendments[-1].date}" if claim.amendments else "current claim"
    for i, amendment in enumerate(claim.amendments):
        if recorded.startswith(amendment.replaces):
            return "original claim" if i == 0 else f"claim as amended {claim.amendments[i - 1].date}"
    return UNRECORDED


def amendment_for(claim: Claim, recorded: str) -> int | None:
    """Index of the amendment that replaced the version with this fingerprint, if any."""
    for i, amendment in enumerate(claim.amendments):
        if recorded.startswith(amendment.replaces):
            return i
    return None
