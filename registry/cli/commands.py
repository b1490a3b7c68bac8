"""What each CLI command does, as plain functions over the project's settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.config import Settings, load_settings, settings_warnings
from registry.errors import Location, UserError, UserErrors, display_path
from registry.files import walk
from registry.language.load import CLAIM_SUFFIXES, load_claims
from registry.language.loaded import LoadedClaim
from registry.plugins import AnyEvaluator, EvaluatorRegistry, PluginFailure
from registry.runs.manifest import MANIFEST, find_run_manifests
from registry.runs.run import Run, load_runs, load_runs_isolated, run_roots
from registry.verdicts.engine import EvaluateOptions, Evaluation, resolve_options, select_claims, write_verdicts
from registry.verdicts.engine import evaluate as run_evaluation
from registry.verdicts.file import read_verdicts
from registry.verdicts.model import Registration, Verdict

if TYPE_CHECKING:
    from registry.integrity.diff import VerdictDiff
    from registry.integrity.history import EarlierVerdict, History
    from registry.integrity.status import ProjectStatus, Stats
    from registry.integrity.summary import Label
    from registry.language.judge import Decision
    from registry.language.lints import Lint
    from registry.report.build import Site
    from registry.runs.inspect import ArtifactSummary
    from registry.runs.listing import RunRow


def _split_paths(paths: list[Path], skip: Path | None = None) -> tuple[list[Path], list[Path]]:
    """Claim files and run manifests among the given files and folders.

    A folder (`registry validate .`) is walked by the one walker (hidden folders left out: their YAML
    files are not claims); the verdicts folder `skip` and the files of run folders are not claims."""
    claims: list[Path] = []
    runs: list[Path] = []
    skip = skip.resolve() if skip is not None else None
    for p in paths:
        if not p.exists():
            raise UserError("no such file or folder", location=Location(display_path(p)))
        if p.is_file():
            (runs if p.name == MANIFEST else claims).append(p)
            continue
        manifests = find_run_manifests([p])
        runs.extend(manifests)
        claims.extend(_claim_files_below(p, {m.parent for m in manifests}, skip))
    return claims, runs


def _claim_files_below(folder: Path, run_dirs: set[Path], skip: Path | None) -> list[Path]:
    def descend(d: Path) -> bool:
        return d not in run_dirs and d.resolve() != skip

    return [f for f in walk(folder, descend) if f.suffix in CLAIM_SUFFIXES and f.parent not in run_dirs | {skip}]


@dataclass(frozen=True)
class Validation:
    summary: str
    # Warnings (registry/language/lints.py): printed to stderr; `validate --strict` fails on them.
    lints: list[Lint]

    def __str__(self) -> str:
        return self.summary


def validate(paths: list[Path], artifacts: bool = True) -> Validation:
    """Validate claims and manifests; raises UserErrors with every problem, else returns a summary.

    Besides each file on its own: amendments (a non-draft claim changed after its verdicts were
    recorded must say so) and `supersedes:` (registry/integrity/amendments.py and registry/language/checks.py),
    the columns claims name against the runs' artifacts (registry/language/artifacts.py; not with
    `artifacts=False`), then lints."""
    settings = load_settings()
    evaluators = EvaluatorRegistry()
    if paths:
        claim_paths, run_paths = _split_paths(paths, skip=settings.verdicts)
    else:
        claim_paths = [settings.claims] if settings.claims.exists() else []
        run_paths = run_roots(settings)
    errors: list[UserError] = []
    n_runs = 0
    claims: list[LoadedClaim] = []
    try:
        claims = load_claims(claim_paths, evaluators) if claim_paths else []
    except UserErrors as exc:
        errors.extend(exc.errors)
    runs: list[Run] = []
    try:
        runs = load_runs(run_paths, settings.allow_outside) if run_paths else []
    except UserErrors as exc:
        errors.extend(exc.errors)
        runs, _ = load_runs_isolated(run_paths, settings.allow_outside)
    n_runs = len(runs)
    from registry.integrity.amendments import cached_git, check_claims
    from registry.language.artifacts import check_artifact_names, unmatched_claims
    from registry.language.lints import lint_claims

    errors.extend(check_claims(claims, settings.verdicts, cached_git(settings.root), complete=not paths))
    if not run_paths and claims:  # claims given alone are checked against the project's runs
        runs, _ = load_runs_isolated([r for r in settings.runs if r.exists()])
    if artifacts:
        errors.extend(check_artifact_names(claims, runs, settings.root / ".registry-cache" / "columns"))
    if errors:
        raise UserErrors(errors)
    lints = lint_claims(claims, evaluators) + (unmatched_claims(claims, runs) if not paths else [])
    return Validation(f"ok: {len(claims)} claim(s), {n_runs} run(s)", lints)


def warnings(run_dirs: list[Path]) -> list[str]:
    """Where runs are looked for: a missing configured runs folder, a `--run` folder outside them."""
    return settings_warnings(load_settings(), tuple(run_dirs))


def _load_project(settings: Settings, evaluators: EvaluatorRegistry) -> list[LoadedClaim]:
    if not settings.claims.exists():
        raise UserError(
            "claims folder does not exist",
            location=Location(display_path(settings.claims)),
            hint="create it, or set `claims` under [tool.registry] in pyproject.toml",
        )
    return load_claims([settings.claims], evaluators)


def _refused(
    settings: Settings, claims: list[LoadedClaim], read: dict[str, list[Verdict]] | None = None
) -> dict[str, list[UserError]]:
    """The one integrity check (registry/integrity/amendments.py): claims changed after they were
    judged without a matching, verified amendment (`read`: the verdict files, if read already)."""
    from registry.integrity.amendments import cached_git, claim_errors

    return claim_errors(claims, settings.verdicts, cached_git(settings.root), read)


def evaluate(claim_patterns: list[str], run_dirs: list[Path], opts: EvaluateOptions | None = None) -> Evaluation:
    """Evaluate and write; a refused claim is not evaluated (nothing written for it), the others are."""
    settings = load_settings()
    evaluators = EvaluatorRegistry()
    claims = select_claims(_load_project(settings, evaluators), claim_patterns)
    for d in run_dirs:
        if not d.exists():
            raise UserError("run folder does not exist", location=Location(display_path(d)))
    runs, broken = load_runs_isolated(run_dirs or run_roots(settings))
    refused = _refused(settings, claims)
    result = run_evaluation([c for c in claims if c.id not in refused], runs, evaluators, resolve_options(settings, opts))
    result.refused = [e for errors in refused.values() for e in errors]
    for exc in broken:
        result.fail(exc)
    write_verdicts(result, settings.verdicts)
    return result


@dataclass(frozen=True)
class ClaimRow:
    claim: LoadedClaim
    verdicts: list[Verdict]
    registrations: dict[str, Registration | None]
    """Run label -> registration level computed now (None: judged another version of the claim)."""
    refused: list[UserError]
    """Why the claim is refused (changed after it was judged without an amendment); empty if not."""


def _registrations(
    settings: Settings, claims: list[LoadedClaim], verdicts: dict[str, list[Verdict]]
) -> dict[tuple[str, str], Registration | None]:
    from registry.integrity.registration import Registrar

    runs, _ = load_runs_isolated(run_roots(settings))  # unreadable ones: unreadable_runs()
    registrar = Registrar.for_project(settings.root)
    registrar.prepare(runs)
    return {(lc.id, v.run_label): registrar.of_verdict(lc, v, runs) for lc in claims for v in verdicts[lc.id]}


def unreadable_runs() -> list[UserError]:
    """The run manifests that cannot be read (list and show go on without those runs, then report them)."""
    return load_runs_isolated([r for r in load_settings().runs if r.exists()])[1]


def list_claims() -> list[ClaimRow]:
    settings = load_settings()
    claims = _load_project(settings, EvaluatorRegistry())
    verdicts = {c.id: read_verdicts(settings.verdicts, c.id) for c in claims}
    registrations = _registrations(settings, claims, verdicts)
    refused = _refused(settings, claims, verdicts)
    return [
        ClaimRow(
            c, verdicts[c.id], {v.run_label: registrations[(c.id, v.run_label)] for v in verdicts[c.id]}, refused.get(c.id, [])
        )
        for c in claims
    ]


@dataclass(frozen=True)
class ClaimDetail:
    claim: LoadedClaim
    fingerprint: str
    decision: Decision | None
    """The claim's decision rule, when it sets `alpha:` or uses `value: alpha`."""
    verdicts: list[tuple[Verdict, str | None, Registration | None]]
    """Each verdict with the claim version it judged (None: the current one) and its registration now."""
    earlier: list[EarlierVerdict]
    """Amended claims, from git: the last verdict of each run under each earlier version."""
    refused: list[UserError]
    """Why the claim is refused (changed after it was judged without an amendment); empty if not."""


def _chain_label(settings: Settings, claim_id: str) -> Label | None:
    from registry.integrity.git import Git
    from registry.integrity.history import chain_label

    git, _ = Git.find(settings.root)
    return chain_label(git, settings, claim_id) if git is not None and not git.shallow else None


def show(claim_id: str) -> ClaimDetail:
    from registry.integrity.history import earlier_verdicts
    from registry.language.changes import UNRECORDED, recorded_under
    from registry.language.judge import decision_rule, uses_alpha
    from registry.verdicts.engine import claim_fingerprint
    from registry.verdicts.model import recorded_fingerprint

    settings = load_settings()
    claims = _load_project(settings, EvaluatorRegistry())
    (chosen,) = select_claims(claims, [claim_id])[:1] or (None,)
    if chosen is None or chosen.id != claim_id:
        raise UserError(f"no claim with id {claim_id!r}", hint="see `registry list`")
    c = chosen.claim
    read = read_verdicts(settings.verdicts, claim_id)
    registrations = _registrations(settings, [chosen], {claim_id: read})
    label = _chain_label(settings, claim_id)

    def under(v: Verdict) -> str | None:
        version = recorded_under(c, recorded_fingerprint(v), v.schema_version)
        if version is None or label is None:
            return version
        named = label(recorded_fingerprint(v), v.schema_version)
        return version if named == UNRECORDED else f"the {named}"

    verdicts = [(v, under(v), registrations[(claim_id, v.run_label)]) for v in read]
    decision = decision_rule(c) if uses_alpha(c) else None
    refused = _refused(settings, [chosen], {claim_id: read}).get(claim_id, [])
    return ClaimDetail(chosen, claim_fingerprint(c), decision, verdicts, earlier_verdicts(settings, c), refused)


def evaluators() -> tuple[list[AnyEvaluator], list[PluginFailure]]:
    return EvaluatorRegistry().load_all()


def evaluator(name: str) -> AnyEvaluator:
    """One installed evaluator by name (`registry evaluators NAME`)."""
    from registry.plugins import EvaluatorUnavailable, UnknownEvaluator

    registry = EvaluatorRegistry()
    try:
        return registry.get(name)
    except UnknownEvaluator as exc:
        hint = f"did you mean {exc.suggestions[0]!r}?" if exc.suggestions else "see `registry evaluators`"
        raise UserError(f"no evaluator named {name!r}", hint=hint) from None
    except EvaluatorUnavailable as exc:
        raise UserError(exc.failure.render()) from None


def schema(run: bool = False) -> dict[str, Any]:
    """The claim JSON Schema specific to each installed evaluator, or (`run`) the run.yaml schema."""
    from registry.language.editor_schema import claim_editor_schema, run_editor_schema

    if run:
        return run_editor_schema()
    listed, _ = evaluators()
    return claim_editor_schema(listed)


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
applies_to: {{runs: [TODO-run-id]}}   # tags and/or run-id globs; applies to no run until filled in
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


def new_claim(claim_id: str, area: str) -> list[str]:
    import re

    from registry.language.schema import KEBAB

    if not re.match(KEBAB, claim_id):
        raise UserError(f"claim id {claim_id!r} is not kebab-case", hint="use lowercase words joined by '-'")
    if not re.match(KEBAB, area):
        raise UserError(f"area {area!r} is not kebab-case", hint="e.g. loss, activation, text")
    settings = load_settings()
    path = settings.claims / area / f"{claim_id}.yaml"
    if path.exists():
        raise UserError("file already exists", location=Location(display_path(path)))
    from registry.language.load import claim_files

    same = [p for p in claim_files([settings.claims]) if p.stem == claim_id] if settings.claims.exists() else []
    if same:
        raise UserError(
            f"claim id {claim_id!r} is already used",
            location=Location(display_path(same[0])),
            hint="claim ids are unique across areas; choose another id",
        )
    import json
    import os

    from registry.language.editor_schema import SCHEMA_FILE, modeline

    path.parent.mkdir(parents=True, exist_ok=True)
    schema_file = settings.root / SCHEMA_FILE
    written = [display_path(path)]
    if not schema_file.exists():
        schema_file.write_text(json.dumps(schema(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(display_path(schema_file))
    relative = os.path.relpath(schema_file, path.parent).replace(os.sep, "/")
    path.write_text(modeline(relative) + _TEMPLATE.format(id=claim_id), encoding="utf-8")
    return written


def inspect_run(ref: str) -> list[ArtifactSummary]:
    """What a run's artifacts hold: `ref` is a run folder (or its run.yaml) or the id of a configured run."""
    from registry.runs.inspect import find_run
    from registry.runs.inspect import inspect_run as summarise

    return summarise(find_run(ref, load_settings().runs))


# --- integrity of the record (README "Integrity of the record") ---------------------------------------


def status() -> ProjectStatus:
    """Every (claim, run) pair: ok, stale (and why), missing, orphaned or unreadable."""
    from registry.integrity.status import project_status

    return project_status(load_settings())


def stats() -> Stats:
    from registry.integrity.status import project_stats

    return project_stats(load_settings())


def history(claim_id: str, run: str | None) -> History:
    from registry.integrity.history import verdict_history

    return verdict_history(load_settings(), claim_id, run)


def diff(a: str | None, b: str | None) -> VerdictDiff:
    from registry.integrity.diff import verdict_diff

    return verdict_diff(load_settings(), a, b)



def report(out: Path | None) -> Site:
    """`registry report`: the static site (registry/report/), by default in report/ beside pyproject.toml."""
    from registry.report.build import build_report

    settings = load_settings()
    return build_report(settings, out if out is not None else settings.root / "report")


def runs_list(tags: list[str], pattern: str | None) -> list[RunRow]:
    from registry.runs.listing import run_rows

    settings = load_settings()
    return run_rows(load_runs(run_roots(settings)), tags, pattern)


def runs_add(path: Path, run_id: str | None, tags: list[str]) -> list[str]:
    """Scaffold run.yaml for each run PATH holds; the written manifests' paths."""
    from registry.runs.scaffold import plan, write

    planned = plan(path)
    if run_id is not None and len(planned) > 1:
        raise UserError(
            f"--id names one run, and {display_path(path)} holds {len(planned)}", hint="leave --id out: each run is named"
        )
    return [display_path(write(p, tags, run_id)) for p in planned]
