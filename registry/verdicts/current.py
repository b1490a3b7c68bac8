"""Incremental evaluation: which (claim, run) pairs already have a current verdict.

A verdict is current when everything that went into it is unchanged: the claim (fingerprint, id,
status), the run manifests involved (tags, config, artifact specs), the content of every artifact
its predictions read (sha256, through the stat-keyed cache of registry/runs/hashing.py), the
versions of the evaluators, of the readers (registry/readers/formats.py `READER_VERSIONS`), of the
judge (`JUDGE_VERSION`), of the verdict schema and of the tool — and the verdict file itself is
byte for byte the one written. All of that is hashed into one key per pair.

The keys live in an index beside the hash cache, `<project>/.registry-cache/evaluated.json`
(git-ignored, never committed): verdict path -> the key, the sha256 of the file written, its outcome
and the artifacts read. `registry evaluate` skips a pair whose index entry matches, without
opening its artifacts or its verdict's YAML, so a skipped verdict keeps every byte; `--force`
re-measures. Verdicts with an `error` prediction are never skipped (an error may be transient).
Without the index (a fresh clone, another machine) every pair is measured, and an unchanged one
rewrites the same bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registry import __version__
from registry.files import write_cache_entry
from registry.language import judge
from registry.language.loaded import LoadedClaim
from registry.plugins import EvaluatorRegistry
from registry.readers.formats import READER_VERSIONS
from registry.runs.run import Run
from registry.verdicts.model import SCHEMA_VERSION, Verdict


def _evaluator_versions(lc: LoadedClaim, evaluators: EvaluatorRegistry) -> dict[str, str | None]:
    """Versions of the predictions' evaluators; across runs, of every installed evaluator (runs.compare
    and its kind run another evaluator named in their params)."""
    names = {p.evaluator for p in lc.claim.predictions}
    if lc.claim.across_runs:
        names |= set(evaluators.names())
    out: dict[str, str | None] = {}
    for name in sorted(names):
        try:
            out[name] = evaluators.get(name).version
        except LookupError:
            out[name] = None
    return out


Artifacts = Mapping[str, Mapping[str, Sequence[str]]]
"""Run id -> artifact name -> [path relative to the run folder, sha256]."""


@dataclass(frozen=True)
class KeyInputs:
    evaluators: EvaluatorRegistry
    # Per claim (fingerprint, evaluator versions) and per run (manifest), computed once per invocation.
    _claims: dict[str, tuple[str, dict[str, str | None]]] = field(default_factory=dict)
    _manifests: dict[str, str] = field(default_factory=dict)

    def claim(self, lc: LoadedClaim) -> tuple[str, dict[str, str | None]]:
        if lc.id not in self._claims:
            self._claims[lc.id] = (lc.fingerprint, _evaluator_versions(lc, self.evaluators))
        return self._claims[lc.id]

    def manifest(self, run: Run) -> str:
        if run.id not in self._manifests:
            self._manifests[run.id] = json.dumps(run.manifest.model_dump(mode="json"), sort_keys=True, default=str)
        return self._manifests[run.id]


def pair_key(lc: LoadedClaim, runs: Sequence[Run], artifacts: Artifacts, inputs: KeyInputs) -> str:
    """sha256 of everything a verdict of `lc` on `runs` depends on (see the module's docstring)."""
    fingerprint, versions = inputs.claim(lc)
    parts: dict[str, Any] = {
        "tool": __version__,
        "schema": SCHEMA_VERSION,
        "judge": judge.JUDGE_VERSION,
        "readers": READER_VERSIONS,
        "claim": [lc.id, fingerprint, lc.claim.status],
        "evaluators": versions,
        "runs": [[inputs.manifest(run), artifacts.get(run.id, {})] for run in runs],
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def key_now(lc: LoadedClaim, runs: Sequence[Run], inputs: KeyInputs) -> Any:
    """The pair's key as the files are now, as a function of the artifacts its last verdict read."""

    def key(used: Mapping[str, Sequence[str]]) -> str:
        by_id = {r.id: r for r in runs}
        artifacts: dict[str, dict[str, list[str]]] = {}
        for rid, names in used.items():
            run = by_id.get(rid)
            if run is None or any(name not in run.paths for name in names):
                return ""  # the verdict read an artifact that is gone: not current
            artifacts[rid] = {
                name: [run.paths[name].relative_to(run.folder).as_posix(), run.artifact_hash(name)] for name in names
            }
        return pair_key(lc, runs, artifacts, inputs)

    return key


def key_of(lc: LoadedClaim, runs: Sequence[Run], inputs: KeyInputs, verdict: Verdict) -> str:
    """The key a verdict is current under, from the artifacts (paths and hashes) it records."""
    refs = [verdict.run] if verdict.run is not None else list(verdict.runs or [])
    artifacts = {r.id: {name: [a.path, a.sha256] for name, a in r.artifacts.items()} for r in refs}
    return pair_key(lc, runs, artifacts, inputs)


def used_artifacts(verdict: Verdict) -> dict[str, list[str]]:
    """Run id -> names of the artifacts the verdict's predictions read."""
    refs = [verdict.run] if verdict.run is not None else list(verdict.runs or [])
    return {r.id: sorted(r.artifacts) for r in refs}


@dataclass
class Index:
    """The index of evaluated pairs (see the module's docstring); a missing or unreadable one is empty."""

    path: Path | None
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None) -> Index:
        if path is None:
            return cls(None)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls(path)
        return cls(path, data if isinstance(data, dict) else {})

    def current(self, key_of: Any, verdict_file: Path) -> str | None:
        """The recorded outcome when the pair's verdict is current, else None.

        `key_of(used)` computes the pair's key given the artifacts the recorded verdict read."""
        entry = self.entries.get(verdict_file.as_posix())
        if not isinstance(entry, dict) or not isinstance(entry.get("used"), dict):
            return None
        try:
            data = verdict_file.read_bytes()
        except OSError:
            return None
        if hashlib.sha256(data).hexdigest() != entry.get("file"):
            return None
        if key_of(entry["used"]) != entry.get("key"):
            return None
        outcome = entry.get("outcome")
        return outcome if isinstance(outcome, str) else None

    def record(self, verdict_file: Path, key: str, text: str, verdict: Verdict) -> None:
        if any(p.outcome == "error" for p in verdict.predictions):
            self.entries.pop(verdict_file.as_posix(), None)
            return
        self.entries[verdict_file.as_posix()] = {
            "key": key,
            "file": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            "outcome": verdict.outcome,
            "used": used_artifacts(verdict),
        }

    def save(self) -> None:
        """Written atomically; a cache that cannot be written is left alone."""
        if self.path is None:
            return
        with contextlib.suppress(OSError):  # like every cache file: never written through a link
            write_cache_entry(self.path.parent, self.path.name, json.dumps(self.entries, sort_keys=True).encode("utf-8"))
