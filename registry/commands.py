"""What each CLI command does, as plain functions over the project's settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .artifacts import MANIFEST, Run
from .config import Settings, load_settings
from .engine import Evaluation, load_runs, select_claims, write_verdicts
from .engine import evaluate as run_evaluation
from .errors import Location, UserError, UserErrors, display_path
from .loading import CLAIM_SUFFIXES, LoadedClaim, load_claims
from .plugins import Evaluator, EvaluatorRegistry, PluginFailure
from .store import Verdict, read_verdicts


def _split_paths(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """Claim files and run manifests among the given files and folders."""
    claims: list[Path] = []
    runs: list[Path] = []
    for p in paths:
        if not p.exists():
            raise UserError("no such file or folder", location=Location(display_path(p)))
        if p.is_file():
            (runs if p.name == MANIFEST else claims).append(p)
            continue
        run_dirs: set[Path] = set()
        for manifest in sorted(p.rglob(MANIFEST)):
            run_dirs.add(manifest.parent)
            runs.append(manifest)
        for f in sorted(p.rglob("*")):
            inside_a_run = any(d in f.parents for d in run_dirs)
            if f.suffix in CLAIM_SUFFIXES and f.name != MANIFEST and f.is_file() and not inside_a_run:
                claims.append(f)
    return claims, runs


def validate(paths: list[Path]) -> str:
    """Validate claims and manifests; raises UserErrors with every problem, else returns a summary."""
    settings = load_settings()
    evaluators = EvaluatorRegistry()
    if paths:
        claim_paths, run_paths = _split_paths(paths)
    else:
        claim_paths = [settings.claims] if settings.claims.exists() else []
        run_paths = [r for r in settings.runs if r.exists()]
    errors: list[UserError] = []
    n_claims = n_runs = 0
    try:
        n_claims = len(load_claims(claim_paths, evaluators)) if claim_paths else 0
    except UserErrors as exc:
        errors.extend(exc.errors)
    try:
        n_runs = len(load_runs(run_paths)) if run_paths else 0
    except UserErrors as exc:
        errors.extend(exc.errors)
    if errors:
        raise UserErrors(errors)
    return f"ok: {n_claims} claim(s), {n_runs} run(s)"


def _load_project(settings: Settings, evaluators: EvaluatorRegistry) -> list[LoadedClaim]:
    if not settings.claims.exists():
        raise UserError(
            "claims folder does not exist",
            location=Location(display_path(settings.claims)),
            hint="create it, or set `claims` under [tool.registry] in pyproject.toml",
        )
    return load_claims([settings.claims], evaluators)


def evaluate(claim_patterns: list[str], run_dirs: list[Path]) -> Evaluation:
    settings = load_settings()
    evaluators = EvaluatorRegistry()
    claims = select_claims(_load_project(settings, evaluators), claim_patterns)
    for d in run_dirs:
        if not d.exists():
            raise UserError("run folder does not exist", location=Location(display_path(d)))
    runs: list[Run] = load_runs(run_dirs or [r for r in settings.runs if r.exists()])
    result = run_evaluation(claims, runs, evaluators)
    write_verdicts(result, settings.verdicts)
    return result


@dataclass(frozen=True)
class ClaimRow:
    claim: LoadedClaim
    verdicts: list[Verdict]


def list_claims() -> list[ClaimRow]:
    settings = load_settings()
    claims = _load_project(settings, EvaluatorRegistry())
    return [ClaimRow(c, read_verdicts(settings.verdicts, c.id)) for c in claims]


def show(claim_id: str) -> tuple[LoadedClaim, list[Verdict], str]:
    from .engine import claim_fingerprint

    settings = load_settings()
    claims = _load_project(settings, EvaluatorRegistry())
    (chosen,) = select_claims(claims, [claim_id])[:1] or (None,)
    if chosen is None or chosen.id != claim_id:
        raise UserError(f"no claim with id {claim_id!r}", hint="see `registry list`")
    return chosen, read_verdicts(settings.verdicts, claim_id), claim_fingerprint(chosen.claim)


def evaluators() -> tuple[list[Evaluator], list[PluginFailure]]:
    return EvaluatorRegistry().load_all()


_TEMPLATE = """\
id: {id}
title: TODO one line
statement: >
  TODO the claim in prose.
falsified_if: >
  TODO the observation that would refute it.
status: draft
authors: []
tags: []
references: []
applies_to: {{tags: []}}
combine: all
predictions:
  - id: final-loss-below
    level: loss
    evaluator: metric.threshold
    params: {{column: loss, reduce: last}}
    expect:
      - {{stat: value, op: "<", value: 2.0}}
    min_samples: 1
"""


def new_claim(claim_id: str, area: str) -> str:
    import re

    from .schema import KEBAB

    if not re.match(KEBAB, claim_id):
        raise UserError(f"claim id {claim_id!r} is not kebab-case", hint="use lowercase words joined by '-'")
    if not re.match(KEBAB, area):
        raise UserError(f"area {area!r} is not kebab-case", hint="e.g. loss, activation, text")
    settings = load_settings()
    path = settings.claims / area / f"{claim_id}.yaml"
    if path.exists():
        raise UserError("file already exists", location=Location(display_path(path)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_TEMPLATE.format(id=claim_id), encoding="utf-8")
    return display_path(path)
