"""What each CLI command does, as plain functions over the project's settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .artifacts import MANIFEST, Run
from .config import Settings, load_settings
from .engine import Evaluation, load_runs, select_claims, write_verdicts
from .engine import evaluate as run_evaluation
from .errors import Location, UserError, UserErrors, display_path
from .loading import CLAIM_SUFFIXES, LoadedClaim, load_claims
from .plugins import AnyEvaluator, EvaluatorRegistry, PluginFailure
from .store import Verdict, read_verdicts

if TYPE_CHECKING:
    from .history import EarlierVerdict, History, VerdictDiff
    from .lints import Lint
    from .status import ProjectStatus, Stats


def _split_paths(paths: list[Path], skip: Path | None = None) -> tuple[list[Path], list[Path]]:
    """Claim files and run manifests among the given files and folders.

    Walking a folder (`registry validate .`) leaves out the verdicts folder `skip` and hidden
    folders (.git, .github, .pre-commit-config.yaml): their YAML files are not claims."""
    claims: list[Path] = []
    runs: list[Path] = []
    skip = skip.resolve() if skip is not None else None

    def wanted(f: Path, root: Path) -> bool:
        if any(part.startswith(".") for part in f.relative_to(root).parts):
            return False
        return skip is None or not (f.resolve() == skip or skip in f.resolve().parents)

    for p in paths:
        if not p.exists():
            raise UserError("no such file or folder", location=Location(display_path(p)))
        if p.is_file():
            (runs if p.name == MANIFEST else claims).append(p)
            continue
        run_dirs: set[Path] = set()
        for manifest in sorted(p.rglob(MANIFEST)):
            if wanted(manifest, p):
                run_dirs.add(manifest.parent)
                runs.append(manifest)
        for f in sorted(p.rglob("*")):
            inside_a_run = any(d in f.parents for d in run_dirs)
            if f.suffix in CLAIM_SUFFIXES and f.name != MANIFEST and f.is_file() and not inside_a_run and wanted(f, p):
                claims.append(f)
    return claims, runs


@dataclass(frozen=True)
class Validation:
    summary: str
    # Warnings (registry/lints.py): printed to stderr; `validate --strict` fails on them.
    lints: list[Lint]

    def __str__(self) -> str:
        return self.summary


def validate(paths: list[Path]) -> Validation:
    """Validate claims and manifests; raises UserErrors with every problem, else returns a summary.

    Besides each file on its own: amendments (a non-draft claim changed after its verdicts were
    recorded must say so) and `supersedes:` (registry/amendments.py), then lints."""
    settings = load_settings()
    evaluators = EvaluatorRegistry()
    if paths:
        claim_paths, run_paths = _split_paths(paths, skip=settings.verdicts)
    else:
        claim_paths = [settings.claims] if settings.claims.exists() else []
        run_paths = [r for r in settings.runs if r.exists()]
    errors: list[UserError] = []
    n_runs = 0
    claims: list[LoadedClaim] = []
    try:
        claims = load_claims(claim_paths, evaluators) if claim_paths else []
    except UserErrors as exc:
        errors.extend(exc.errors)
    try:
        n_runs = len(load_runs(run_paths)) if run_paths else 0
    except UserErrors as exc:
        errors.extend(exc.errors)
    from .amendments import cached_git, check_claims
    from .lints import lint_claims

    errors.extend(check_claims(claims, settings.verdicts, cached_git(settings.root), complete=not paths))
    if errors:
        raise UserErrors(errors)
    return Validation(f"ok: {len(claims)} claim(s), {n_runs} run(s)", lint_claims(claims, evaluators))


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
    from .registration import Registrar

    result.verdicts = Registrar.for_project(settings.root).stamp(result.verdicts, claims, runs)
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


def show(claim_id: str) -> tuple[LoadedClaim, list[Verdict], str, list[EarlierVerdict]]:
    """The claim, its verdicts, its fingerprint, and (amended claims, from git) the last verdict of
    each run under each earlier version."""
    from .engine import claim_fingerprint
    from .history import earlier_verdicts

    settings = load_settings()
    claims = _load_project(settings, EvaluatorRegistry())
    (chosen,) = select_claims(claims, [claim_id])[:1] or (None,)
    if chosen is None or chosen.id != claim_id:
        raise UserError(f"no claim with id {claim_id!r}", hint="see `registry list`")
    verdicts = read_verdicts(settings.verdicts, claim_id)
    return chosen, verdicts, claim_fingerprint(chosen.claim), earlier_verdicts(settings, chosen.claim)


def evaluators() -> tuple[list[AnyEvaluator], list[PluginFailure]]:
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


# --- integrity of the record (README "Integrity of the record") ---------------------------------------


def status() -> ProjectStatus:
    """Every (claim, run) pair: ok, stale (and why), missing, orphaned or unreadable."""
    from .status import project_status

    return project_status(load_settings())


def stats() -> Stats:
    from .status import project_stats

    return project_stats(load_settings())


def history(claim_id: str, run: str | None) -> History:
    from .history import verdict_history

    return verdict_history(load_settings(), claim_id, run)


def diff(a: str | None, b: str | None) -> VerdictDiff:
    from .history import verdict_diff

    return verdict_diff(load_settings(), a, b)

