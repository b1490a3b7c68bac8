"""The claim file's models: the rules a claim file obeys on its own (fields, types, ids, expect lines).

Rules that need another file — the file name, the evaluator a prediction names, the other claims —
are in language/checks.py; warnings about valid claims in language/lints.py; how measurements are
judged in language/judge.py; run manifests (run.yaml) in runs/manifest.py.

Models are frozen and forbid unknown keys, so a typo such as `threshhold:` is an error rather than
a silently different claim. `expect` is structured data compared by the judge; nothing in a claim
is ever evaluated as code.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

Level = Literal["loss", "activation", "text"]
Op = Literal["<", "<=", ">", ">=", "==", "!="]
Outcome = Literal["pass", "fail", "inconclusive", "error"]
# `value: alpha` in an expect line: the claim's significance level (after any multiple-comparison
# correction; see registry/language/judge.py `decision_rule`).
ALPHA = "alpha"
DEFAULT_ALPHA = 0.05
FINGERPRINT = r"^[0-9a-f]{12,64}$"

KEBAB = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
KebabId = Annotated[str, StringConstraints(pattern=KEBAB, max_length=120)]
NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Reference(Strict):
    title: NonEmpty
    url: str | None = None


class AppliesTo(Strict):
    """Which runs a claim is about: a run must carry every tag listed and, when `runs` is given,
    have an id matching at least one of its globs. Empty means every run."""

    tags: list[str] = []
    runs: list[str] = []


class ExpectLine(Strict):
    """One comparison the judge makes: `observed <op> value` for the statistic `stat`."""

    stat: NonEmpty
    op: Op
    value: float | int | str | bool

    @model_validator(mode="after")
    def _strings_only_for_equality(self) -> ExpectLine:
        if self.value == ALPHA:
            if self.op not in ("<", "<="):
                raise ValueError(f"`alpha` is a significance level: compare with < or <=, not {self.op}")
            return self
        if isinstance(self.value, str) and self.op not in ("==", "!="):
            raise ValueError(f"a string value can only be compared with == or !=, not {self.op}")
        return self


class Prediction(Strict):
    id: KebabId
    level: Level
    evaluator: NonEmpty
    params: dict[str, Any] = {}
    expect: Annotated[list[ExpectLine], Field(min_length=1)]
    min_samples: Annotated[int, Field(ge=0)] = 1
    description: str | None = None
    # `run`: measured on each run separately. `runs`: measured once over all the runs the claim
    # applies to, optionally split into named groups (each a selection like `applies_to`).
    across: Literal["run", "runs"] = "run"
    groups: dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+$")], AppliesTo] = {}

    @model_validator(mode="after")
    def _groups_need_across_runs(self) -> Prediction:
        if self.groups and self.across != "runs":
            raise ValueError("groups are only used with `across: runs`")
        return self


class Amendment(Strict):
    """A recorded change to a registered claim: when, why, and the fingerprint it replaces."""

    date: dt.date
    reason: NonEmpty
    replaces: Annotated[str, StringConstraints(pattern=FINGERPRINT)]


class Claim(Strict):
    id: KebabId
    title: NonEmpty
    statement: NonEmpty
    falsified_if: NonEmpty
    status: Literal["draft", "registered", "retired"] = "draft"
    authors: list[str] = []
    registered: dt.date | None = None
    tags: list[str] = []
    references: list[Reference] = []
    applies_to: AppliesTo = AppliesTo()
    combine: Literal["all", "any"] = "all"
    # Significance level of the claim's tests; `value: alpha` in an expect line refers to it.
    alpha: Annotated[float, Field(gt=0, lt=1)] = DEFAULT_ALPHA
    predictions: Annotated[list[Prediction], Field(min_length=1)]
    # Recorded changes to a registered claim, oldest first (README "Integrity of the record").
    amendments: list[Amendment] = []
    # The id of the (retired) claim this one replaces.
    supersedes: KebabId | None = None

    @model_validator(mode="after")
    def _not_self_superseding(self) -> Claim:
        if self.supersedes == self.id:
            raise ValueError("a claim cannot supersede itself")
        return self

    @field_validator("predictions")
    @classmethod
    def _unique_prediction_ids(cls, value: list[Prediction]) -> list[Prediction]:
        seen: set[str] = set()
        for p in value:
            if p.id in seen:
                raise ValueError(f"prediction id {p.id!r} is used twice")
            seen.add(p.id)
        if len({p.across for p in value}) > 1:
            # A per-run verdict and an across-runs verdict are different files; one claim, one kind.
            raise ValueError("predictions mix `across: run` and `across: runs`; split them into two claims")
        return value

    @property
    def across_runs(self) -> bool:
        return self.predictions[0].across == "runs"

    def scientific_content(self) -> dict[str, Any]:
        """What the claim asserts, without cosmetic fields: the input of its fingerprint.

        Values equal to their defaults are left out, so that writing a default explicitly, or a
        later version adding an optional field, does not change what the claim is taken to say.
        Ids and descriptions are names, not content; registry/language/fingerprint.py canonicalises the rest."""
        return self.model_dump(
            mode="json",
            include={"statement", "falsified_if", "applies_to", "combine", "alpha", "predictions"},
            exclude={"predictions": {"__all__": {"id", "description"}}},
            exclude_defaults=True,
        )


def claim_json_schema() -> dict[str, Any]:
    """JSON Schema of a claim file, for editors."""
    schema = Claim.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "claims-registry claim file"
    return schema
