"""The claim fingerprint: sha256 over what a claim asserts, in a canonical form.

The input is `Claim.scientific_content()` (statement, falsified_if, applies_to, combine, alpha, and
each prediction's level, evaluator, params, expect, min_samples, across, groups; values equal to
their defaults left out). On top of that:

- prose (statement, falsified_if) has its whitespace collapsed, so re-flowing a paragraph or
  switching between `>`, `|` and a quoted string changes nothing;
- a float that is a whole number is written as an integer (`0.0` and `0` say the same);
- predictions, the expect lines of a prediction, and `tags`/`runs` selections are sorted: order
  carries no meaning there (`all` and `any` are symmetric, every expect line must hold);
- mapping keys are sorted; lists inside `params` keep their order (`within: [-50, 0]`).

So reformatting, comments, key order, ids, descriptions and the cosmetic fields (title, tags,
authors, references, status, registered, amendments, supersedes) do not change it.

Verdict schema version 1 stored a plain `sha256` under an earlier definition (ids included, no
sorting); `legacy_fingerprints` recomputes that so version-1 verdicts can still be checked.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from registry.errors import UserError
from registry.language.schema import Claim
from registry.yamlsource import load_yaml

# Keys of a selection (applies_to, a group) whose lists are sets.
_SET_KEYS = ("tags", "runs")


def _number(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _plain(value: Any) -> Any:
    """Numbers normalised, recursively; order of lists kept."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    return _number(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _selection(sel: dict[str, Any]) -> dict[str, Any]:
    return {k: sorted(set(v)) if k in _SET_KEYS and isinstance(v, list) else v for k, v in sel.items()}


def canonical_content(claim: Claim) -> dict[str, Any]:
    """The fingerprint's input as plain, order-free data."""
    data = _plain(claim.scientific_content())
    for key in ("statement", "falsified_if"):
        if isinstance(data.get(key), str):
            data[key] = " ".join(data[key].split())
    if "applies_to" in data:
        data["applies_to"] = _selection(data["applies_to"])
    predictions = []
    for pred in data.get("predictions", []):
        pred = dict(pred)
        pred["expect"] = sorted(pred.get("expect", []), key=_dumps)
        if "groups" in pred:
            pred["groups"] = {name: _selection(sel) for name, sel in pred["groups"].items()}
        predictions.append(pred)
    data["predictions"] = sorted(predictions, key=_dumps)
    return dict(data)


def fingerprint(claim: Claim) -> str:
    """sha256 (hex) of the claim's canonical scientific content."""
    return hashlib.sha256(_dumps(canonical_content(claim)).encode("utf-8")).hexdigest()


def legacy_fingerprints(claim: Claim) -> set[str]:
    """What verdict schema version 1 recorded as `claim.sha256` for this claim (both variants the
    version-1 tool wrote: with and without values equal to their defaults)."""
    include = {"id", "statement", "falsified_if", "applies_to", "combine", "predictions"}
    out = set()
    for exclude_defaults in (True, False):
        data = claim.model_dump(mode="json", include=include, exclude_defaults=exclude_defaults)
        if not exclude_defaults:
            # Fields added after version 1 were not there to be dumped.
            for pred in data.get("predictions", []):
                for key in ("across", "groups"):
                    pred.pop(key, None)
        out.add(hashlib.sha256(_dumps(data).encode("utf-8")).hexdigest())
    return out


def same_version(recorded: str, schema_version: int, claim: Claim) -> bool:
    """Whether a fingerprint recorded by a verdict of `schema_version` is that of `claim`."""
    if schema_version >= 2:
        return recorded == fingerprint(claim)
    return recorded in legacy_fingerprints(claim)


def claim_from_text(text: str | bytes) -> Claim | None:
    """The claim in a YAML text (e.g. a file's version in git), read by the one YAML loader, or None
    when it is not a valid claim under the current schema."""
    from pydantic import ValidationError

    try:
        doc = load_yaml(Path("<claim in git>"), text=text.decode("utf-8") if isinstance(text, bytes) else text)
        return Claim.model_validate(doc.data)
    except (UserError, ValidationError, UnicodeDecodeError):
        return None
