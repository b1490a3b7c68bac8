"""A claim as loaded: the model, its file and YAML document (for located messages), and each
prediction's params validated by its evaluator."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from pydantic import BaseModel

from registry.language.schema import Claim
from registry.yamlsource import YamlDocument


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

    @cached_property
    def fingerprint(self) -> str:
        """sha256 of the claim's scientific content (registry/language/fingerprint.py), computed once:
        every verdict of the claim and its incremental key record it (a sweep judges it on thousands of runs)."""
        from registry.language.fingerprint import fingerprint

        return fingerprint(self.claim)
