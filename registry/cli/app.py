"""The `registry` command: parses, calls the core, renders, picks the exit code. Nothing else."""

from __future__ import annotations

import gc
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from registry import __version__
from registry.errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_INTERNAL, EXIT_OK, RegistryError, UserError, display_path


class _Group(TyperGroup):
    """The one place where the registry's exceptions become exit codes: bad input never shows a traceback."""

    def invoke(self, ctx: Any) -> Any:  # click's Context (typer vendors click)
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except BrokenPipeError:
            _quiet_stdout()
            raise typer.Exit(EXIT_OK) from None
        except UserError as exc:
            print(exc.render(), file=sys.stderr)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except RegistryError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise typer.Exit(EXIT_INTERNAL) from None
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise typer.Exit(130) from None
        except Exception as exc:
            if os.environ.get("REGISTRY_DEBUG"):
                raise
            print(f"internal error: {type(exc).__name__}: {exc} (set REGISTRY_DEBUG=1 for a traceback)", file=sys.stderr)
            raise typer.Exit(EXIT_INTERNAL) from None


def _quiet_stdout() -> None:
    """The reader of our stdout went away (`registry list | head -1`): that is not an error. Point
    stdout at /dev/null so the flush at exit does not raise again, and exit quietly."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


app = typer.Typer(
    name="registry",
    help="Falsifiable claims about ML training runs, judged on the runs' artifacts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: flags show as flags (`--strict`), not `--strict <bool>`, and it pipes cleanly.
    rich_markup_mode=None,
    cls=_Group,
)


class Executor(StrEnum):
    local = "local"
    dask = "dask"


class Format(StrEnum):
    table = "table"
    json = "json"


def _version(value: bool) -> None:
    if value:
        print(f"claims-registry {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")] = False,
) -> None:
    """Falsifiable claims about ML training runs, judged on the runs' artifacts."""


@app.command()
def validate(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Claim files, run manifests or folders (default: the project's).")
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 when there are warnings (lints).")] = False,
    no_artifacts: Annotated[
        bool, typer.Option("--no-artifacts", help="Skip checking the columns claims name against the runs' artifacts.")
    ] = False,
) -> None:
    """Check claim files and run manifests; report every problem with file:line:col."""
    from registry.cli import commands

    report = commands.validate(paths or [], artifacts=not no_artifacts)
    for lint in report.lints:
        print(lint.render(), file=sys.stderr)
    print(report.summary)
    if strict and report.lints:
        raise typer.Exit(EXIT_CHECK_FAILED)


class EvaluateFormat(StrEnum):
    table = "table"
    json = "json"
    github = "github"


@app.command()
def evaluate(
    claims: Annotated[list[str] | None, typer.Argument(help="Claim ids or globs (default: all).")] = None,
    run: Annotated[list[Path] | None, typer.Option("--run", help="A run folder, or a folder of runs (repeatable).")] = None,
    fmt: Annotated[
        EvaluateFormat,
        typer.Option("--format", help="Output format; github: workflow annotations and $GITHUB_STEP_SUMMARY."),
    ] = EvaluateFormat.table,
    junit_xml: Annotated[
        Path | None, typer.Option("--junit-xml", metavar="FILE", help="Also write JUnit XML: one testcase per (claim, run).")
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 when any verdict is fail.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Re-measure pairs whose verdict is current.")] = False,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", help="Worker processes (default: the machine's cores; 1: in this process).")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Seconds one (claim, run) pair may take (default 600; 0: no limit).")
    ] = None,
    executor: Annotated[Executor | None, typer.Option("--executor", help="Where to measure (default: local).")] = None,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="Dask scheduler address, tcp://host:8786.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no table: the summary line only.")] = False,
) -> None:
    """Evaluate claims on the runs they apply to and write one verdict file per (claim, run).

    Pairs whose verdict is current (same claim, artifacts and versions) are skipped and counted."""
    from registry.cli import commands, render, render_ci
    from registry.verdicts.options import EvaluateOptions

    for warning in commands.warnings(run or []):
        print(warning, file=sys.stderr)
    bar = None if quiet or fmt is not EvaluateFormat.table or not sys.stderr.isatty() else render.ProgressBar()
    opts = EvaluateOptions(force, jobs, timeout, executor.value if executor else None, scheduler, bar)
    try:
        result = commands.evaluate(claims or [], run or [], opts)
    finally:
        if bar is not None:
            bar.close()
    if junit_xml is not None:
        render_ci.junit(result, junit_xml)
    if fmt is EvaluateFormat.github:
        render_ci.github(result)
    elif result.verdicts or not result.failures:
        render.evaluation(result, fmt.value, quiet=quiet)
    for error in [*result.refused, *result.failures]:  # bad input: every other pair was judged and written
        print(error.render(), file=sys.stderr)
    if result.refused or result.failures:
        raise typer.Exit(EXIT_BAD_INPUT)
    if result.any_error:
        raise typer.Exit(EXIT_INTERNAL)
    if strict and result.any_fail:
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command("list")
def list_claims(fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table) -> None:
    """Claims with their latest outcome per run."""
    from registry.cli import commands, render

    render.claim_list(commands.list_claims(), fmt.value)
    _report_unreadable_runs(commands.unreadable_runs())


@app.command()
def show(claim: Annotated[str, typer.Argument(help="Claim id.")]) -> None:
    """A claim and its verdicts."""
    from registry.cli import commands, render

    render.claim_detail(commands.show(claim))
    _report_unreadable_runs(commands.unreadable_runs())


def _report_unreadable_runs(errors: list[UserError]) -> None:
    """Bad run manifests, after the output they did not stop: each once, then exit 2."""
    for error in errors:
        print(error.render(), file=sys.stderr)
    if errors:
        raise typer.Exit(EXIT_BAD_INPUT)


@app.command()
def evaluators(
    name: Annotated[str | None, typer.Argument(help="One evaluator, in full: params with types and choices, statistics.")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
) -> None:
    """Installed evaluators with their levels, versions and parameters (or one of them in full)."""
    from registry.cli import commands, render_evaluators

    if name is not None:
        render_evaluators.evaluator_detail(commands.evaluator(name), fmt.value)
        return
    listed, failures = commands.evaluators()
    render_evaluators.evaluator_list(listed, failures, fmt.value)


@app.command()
def schema(
    run: Annotated[bool, typer.Option("--run", help="The schema of run.yaml instead of a claim file's.")] = False,
) -> None:
    """Print the JSON Schema of a claim file, specific to each installed evaluator (for editors)."""
    import json

    from registry.cli import commands

    print(json.dumps(commands.schema(run), indent=2, sort_keys=True))


@app.command()
def new(
    claim_id: Annotated[str, typer.Argument(help="kebab-case id of the new claim.")],
    area: Annotated[str, typer.Option(help="Sub-folder of claims/ (e.g. loss, activation, text).")] = "misc",
) -> None:
    """Write a claim skeleton to claims/<area>/<id>.yaml to fill in."""
    from registry.cli import commands

    for written in commands.new_claim(claim_id, area):
        print(f"wrote {written}")


@app.command()
def inspect(
    run: Annotated[str, typer.Argument(help="A run folder, or the id of a run below the configured runs folders.")],
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
) -> None:
    """Each artifact of a run: its format, columns with row counts and step ranges, tensors with shapes, samples."""
    from registry.cli import commands, render

    render.run_inspection(commands.inspect_run(run), fmt.value)


# --- integrity of the record ------------------------------------------------------------------------


class DiffFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


@app.command()
def status(
    check: Annotated[bool, typer.Option("--check", help="Exit 1 when any verdict is stale, missing or orphaned.")] = False,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
) -> None:
    """Stale verdicts (claim, artifacts or evaluator changed since) and pairs never evaluated."""
    from registry.cli import commands, render_integrity

    for warning in commands.warnings([]):
        print(warning, file=sys.stderr)
    result = commands.status()
    render_integrity.project_status(result, fmt.value)
    for failure in result.broken:  # every other pair was listed
        print(failure.render(), file=sys.stderr)
    if result.broken:
        raise typer.Exit(EXIT_BAD_INPUT)
    if check and result.problems:
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command()
def history(
    claim: Annotated[str, typer.Argument(help="Claim id.")],
    run: Annotated[str | None, typer.Option("--run", help="Only this run's verdict.")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
) -> None:
    """How a claim's verdicts changed, commit by commit (from git)."""
    from registry.cli import commands, render_integrity

    render_integrity.verdict_history(commands.history(claim, run), fmt.value)


@app.command()
def diff(
    a: Annotated[str | None, typer.Argument(help="Revision (default: HEAD).")] = None,
    b: Annotated[str | None, typer.Argument(help="Revision (default: the working tree).")] = None,
    fmt: Annotated[DiffFormat, typer.Option("--format", help="Output format; markdown for a pull-request comment.")] = (
        DiffFormat.table
    ),
) -> None:
    """Verdict changes between two revisions (default: HEAD and the working tree)."""
    from registry.cli import commands, render_integrity

    render_integrity.verdict_diff(commands.diff(a, b), fmt.value)


@app.command()
def stats(fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table) -> None:
    """The registry at a glance: claims by status, verdicts by outcome, gaps, amendments."""
    from registry.cli import commands, render_integrity

    render_integrity.registry_stats(commands.stats(), fmt.value)


@app.command()
def report(
    out: Annotated[Path | None, typer.Option("--out", metavar="DIR", help="Folder of the site (default: report/).")] = None,
    open_: Annotated[bool, typer.Option("--open", help="Open the index in a web browser.")] = False,
) -> None:
    """A static site of the evidence: claims x runs, and a page per claim with plots (needs the `report` extra)."""
    from registry.cli import commands

    site = commands.report(out)
    changed = f"{len(site.written)} file(s) written, {len(site.removed)} removed"
    print(f"{display_path(site.index)}: {site.pages} claim page(s); {changed}")
    if open_:
        import webbrowser

        webbrowser.open(site.index.resolve().as_uri())


runs_app = typer.Typer(help="Runs: list them, or scaffold a run.yaml from training output.", no_args_is_help=False)
app.add_typer(runs_app, name="runs")


@runs_app.callback(invoke_without_command=True)
def runs(
    ctx: typer.Context,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", metavar="TAG", help="Only runs with this tag (repeatable: all of them).")
    ] = None,
    match: Annotated[str | None, typer.Option("--match", metavar="GLOB", help="Only runs whose id matches.")] = None,
) -> None:
    """The runs with their tags, artifacts and step ranges (or `registry runs add PATH`)."""
    if ctx.invoked_subcommand is not None:
        return
    from registry.cli import commands, render

    rows = commands.runs_list(tag or [], match)
    render.table(
        ["run", "tags", "artifacts", "steps"],
        [[r.id, ", ".join(r.tags), ", ".join(r.artifacts), r.steps] for r in rows],
        fold=("run", "tags", "artifacts"),
    )


@runs_app.command("add")
def runs_add(
    path: Annotated[Path, typer.Argument(help="Training output: a log dir, checkpoint, export, store or file.")],
    run_id: Annotated[str | None, typer.Option("--id", help="The run's id (default: from the folder or run name).")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", metavar="TAG", help="A tag of the run (repeatable).")] = None,
) -> None:
    """Detect the formats in PATH and write a run.yaml for each run it holds (columns listed as comments)."""
    from registry.cli import commands

    for written in commands.runs_add(path, run_id, tag or []):
        print(f"wrote {written}")


def main() -> None:
    # Python's cyclic GC scans its young generation every 700 new objects: ~110 times while a command
    # imports typer, pydantic and builds its models, plus ten middle and one full scan of the ~300K
    # objects they leave, 50 ms of CPU per command. Every 10,000, with the older generations scanned
    # 50 times less often, that is 16 ms. What a command allocates later rarely forms cycles, and a
    # young cycle is still found within 10,000 objects.
    gc.set_threshold(10_000, 50, 50)
    try:
        try:
            app()
        finally:
            sys.stdout.flush()  # here, not at interpreter exit, so a closed pipe is caught below
            # The interpreter's shutdown ends with a full GC pass over every object still alive (the
            # ~300K of typer, pydantic and the models): 30-45 ms of CPU to find nothing worth
            # finalizing, as every file the command wrote is closed. Frozen objects are not scanned.
            gc.freeze()
    except BrokenPipeError:
        _quiet_stdout()
        raise SystemExit(EXIT_OK) from None
