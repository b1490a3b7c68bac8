"""The `registry` command: parses, calls the core, renders, picks the exit code. Nothing else."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from . import __version__
from .errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_INTERNAL, EXIT_OK, RegistryError, UserError

app = typer.Typer(
    name="registry",
    help="Falsifiable claims about ML training runs, judged on the runs' artifacts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

F = TypeVar("F", bound=Callable[..., Any])


class Format(StrEnum):
    table = "table"
    json = "json"


def handled(func: F) -> F:
    """Map the registry's exceptions to exit codes; bad input never shows a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
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

    return wrapper  # type: ignore[return-value]


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
@handled
def validate(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Claim files, run manifests or folders (default: the project's).")
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 when there are warnings (lints).")] = False,
) -> None:
    """Check claim files and run manifests; report every problem with file:line:col."""
    from . import commands

    report = commands.validate(paths or [])
    for lint in report.lints:
        print(lint.render(), file=sys.stderr)
    print(report.summary)
    if strict and report.lints:
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command()
@handled
def evaluate(
    claims: Annotated[list[str] | None, typer.Argument(help="Claim ids or globs (default: all).")] = None,
    run: Annotated[list[Path] | None, typer.Option("--run", help="A run folder, or a folder of runs (repeatable).")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 when any verdict is fail.")] = False,
) -> None:
    """Evaluate claims on the runs they apply to and write one verdict file per (claim, run)."""
    from . import _render, commands

    result = commands.evaluate(claims or [], run or [])
    _render.evaluation(result, fmt.value)
    if result.any_error:
        raise typer.Exit(EXIT_INTERNAL)
    if strict and result.any_fail:
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command("list")
@handled
def list_claims(fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table) -> None:
    """Claims with their latest outcome per run."""
    from . import _render, commands

    _render.claim_list(commands.list_claims(), fmt.value)


@app.command()
@handled
def show(claim: Annotated[str, typer.Argument(help="Claim id.")]) -> None:
    """A claim and its verdicts."""
    from . import _render, commands

    _render.claim_detail(*commands.show(claim))


@app.command()
@handled
def evaluators(fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table) -> None:
    """Installed evaluators with their levels, versions and parameters."""
    from . import _render, commands

    listed, failures = commands.evaluators()
    _render.evaluator_list(listed, failures, fmt.value)


@app.command()
@handled
def schema() -> None:
    """Print the JSON Schema of a claim file (for editors)."""
    import json

    from . import commands
    from .schema import claim_json_schema

    schema = claim_json_schema()
    # Per installed evaluator: the statistics `expect` lines may name, each with its doc (from `Stat`).
    listed, _ = commands.evaluators()
    schema["$defs"]["Prediction"]["allOf"] = [
        {
            "if": {"properties": {"evaluator": {"const": e.name}}, "required": ["evaluator"]},
            "then": {
                "properties": {
                    "expect": {
                        "items": {
                            "properties": {
                                "stat": {
                                    "anyOf": [{"const": st.name, "description": st.doc} for st in e.statistics],
                                    "description": f"A statistic of {e.name}.",
                                }
                            }
                        }
                    },
                }
            },
        }
        for e in listed
    ]
    print(json.dumps(schema, indent=2, sort_keys=True))


@app.command()
@handled
def new(
    claim_id: Annotated[str, typer.Argument(help="kebab-case id of the new claim.")],
    area: Annotated[str, typer.Option(help="Sub-folder of claims/ (e.g. loss, activation, text).")] = "misc",
) -> None:
    """Write a claim skeleton to claims/<area>/<id>.yaml to fill in."""
    from . import commands

    print(f"wrote {commands.new_claim(claim_id, area)}")


# --- integrity of the record ------------------------------------------------------------------------


class DiffFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


@app.command()
@handled
def status(
    check: Annotated[bool, typer.Option("--check", help="Exit 1 when any verdict is stale, missing or orphaned.")] = False,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
) -> None:
    """Stale verdicts (claim, artifacts or evaluator changed since) and pairs never evaluated."""
    from . import _render, commands

    result = commands.status()
    _render.project_status(result, fmt.value)
    if check and result.problems:
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command()
@handled
def history(
    claim: Annotated[str, typer.Argument(help="Claim id.")],
    run: Annotated[str | None, typer.Option("--run", help="Only this run's verdict.")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
) -> None:
    """How a claim's verdicts changed, commit by commit (from git)."""
    from . import _render, commands

    _render.verdict_history(commands.history(claim, run), fmt.value)


@app.command()
@handled
def diff(
    a: Annotated[str | None, typer.Argument(help="Revision (default: HEAD).")] = None,
    b: Annotated[str | None, typer.Argument(help="Revision (default: the working tree).")] = None,
    fmt: Annotated[DiffFormat, typer.Option("--format", help="Output format; markdown for a pull-request comment.")] = (
        DiffFormat.table
    ),
) -> None:
    """Verdict changes between two revisions (default: HEAD and the working tree)."""
    from . import _render, commands

    _render.verdict_diff(commands.diff(a, b), fmt.value)


@app.command()
@handled
def stats(fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table) -> None:
    """The registry at a glance: claims by status, verdicts by outcome, gaps, amendments."""
    from . import _render, commands

    _render.registry_stats(commands.stats(), fmt.value)


def main() -> None:
    app()
