"""The claim language: every rule about what a claim file and a run manifest may say lives here.

Models are frozen and forbid unknown keys, so a typo such as `threshhold:` is an error rather than
a silently different claim. `expect` is structured data compared by the judge; nothing in a claim
is ever evaluated as code.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

Level = Literal["loss", "activation", "text"]
LEVELS: tuple[str, ...] = ("loss", "activation", "text")
Op = Literal["<", "<=", ">", ">=", "==", "!="]
Outcome = Literal["pass", "fail", "inconclusive", "error"]

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
    predictions: Annotated[list[Prediction], Field(min_length=1)]

    @field_validator("predictions")
    @classmethod
    def _unique_prediction_ids(cls, value: list[Prediction]) -> list[Prediction]:
        seen: set[str] = set()
        for p in value:
            if p.id in seen:
                raise ValueError(f"prediction id {p.id!r} is used twice")
            seen.add(p.id)
        return value

    def scientific_content(self) -> dict[str, Any]:
        """What the claim asserts, without cosmetic fields: the input of its fingerprint."""
        return self.model_dump(
            mode="json",
            include={"id", "statement", "falsified_if", "applies_to", "combine", "predictions"},
        )


ArtifactKind = Literal["metrics", "activations", "text"]

# Suffix -> kind, for manifests that leave `kind` out.
SUFFIX_KINDS: dict[str, ArtifactKind] = {
    ".csv": "metrics",
    ".tsv": "metrics",
    ".parquet": "metrics",
    ".pq": "metrics",
    ".npy": "activations",
    ".npz": "activations",
    ".safetensors": "activations",
    ".jsonl": "text",
}

ScalarValue = str | int | float | bool


class ArtifactSpec(Strict):
    """One named artifact of a run: a file (or folder) relative to the run folder."""

    path: NonEmpty
    kind: ArtifactKind | None = None
    format: str | None = None
    # Keep only rows whose columns equal these values (e.g. `{split: train}`).
    where: dict[str, ScalarValue] = {}
    # Metric names as claims use them -> names in the file (e.g. `loss: train/loss`).
    columns: dict[str, str] = {}

    def resolved_kind(self) -> ArtifactKind | None:
        if self.kind is not None:
            return self.kind
        suffix = "." + self.path.rsplit(".", 1)[-1].lower() if "." in self.path else ""
        return SUFFIX_KINDS.get(suffix)


class RunManifest(Strict):
    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=200)]
    description: str | None = None
    tags: list[str] = []
    config: dict[str, Any] = {}
    created: dt.datetime | dt.date | None = None
    artifacts: dict[str, ArtifactSpec] = {}

    @field_validator("artifacts")
    @classmethod
    def _names(cls, value: dict[str, ArtifactSpec]) -> dict[str, ArtifactSpec]:
        for name in value:
            if not re.match(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$", name):
                raise ValueError(f"artifact name {name!r} must be letters, digits, '_', '-' or '.'")
        return value


def claim_json_schema() -> dict[str, Any]:
    """JSON Schema of a claim file, for editors."""
    schema = Claim.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "claims-registry claim file"
    return schema
