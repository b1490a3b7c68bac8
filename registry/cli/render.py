"""Tables and JSON for the CLI (rich is imported only here, only when something is printed)."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from registry.errors import display_path
from registry.verdicts.model import canonical

if TYPE_CHECKING:
    from rich.console import Console

    from registry.cli.commands import ClaimDetail, ClaimRow
    from registry.runs.inspect import ArtifactSummary
    from registry.verdicts.engine import Evaluation
    from registry.verdicts.model import Verdict

_STYLE = {"pass": "green", "fail": "red", "inconclusive": "yellow", "error": "magenta"}


def plain() -> bool:
    """Output for a pipe or a file, not a terminal: one line per record, no boxes, no wrapping, no colour."""
    return not sys.stdout.isatty()


def _console() -> Console:
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            # rich exits 1 here; the CLI's one handler (app.py) treats a closed pipe as a normal end.
            self.quiet = True
            raise BrokenPipeError

    if plain():
        return _Console(highlight=False, soft_wrap=True, no_color=True, emoji=False)
    return _Console(highlight=False, soft_wrap=False)


def table(columns: list[str], rows: list[list[str]], *, lines: bool = False, fold: Sequence[str] = ()) -> None:
    """A rich table on a terminal; piped, one tab-separated line per row (cells' line breaks become `; `).

    Cells may hold rich markup (outcome colours); piped, it is stripped, never printed."""
    if plain():
        from rich.text import Text

        for row in rows:
            print("\t".join(Text.from_markup(cell).plain.replace("\n", "; ") for cell in row))
        return
    from rich.table import Table

    t = Table(show_lines=lines)
    for col in columns:
        t.add_column(col, overflow="fold" if col in fold else "ellipsis", no_wrap=col not in fold)
    for row in rows:
        t.add_row(*row)
    _console().print(t)


def _outcome(o: str) -> str:
    return f"[{_STYLE.get(o, 'white')}]{o}[/]"


def _strict_json(value: Any) -> Any:
    """NaN and infinities are not JSON: write them as the strings "nan", "inf", "-inf"."""
    if isinstance(value, dict):
        return {k: _strict_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strict_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def _json(data: Any) -> None:
    print(json.dumps(_strict_json(canonical(data)), indent=2, sort_keys=True, allow_nan=False))


def _num(x: object) -> str:
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def _stat_summary(verdict: Verdict) -> str:
    parts = []
    for p in verdict.predictions:
        if p.outcome in ("pass", "fail"):
            shown = ", ".join(f"{e.stat}={_num(e.observed)}" for e in p.expect)
            parts.append(f"{p.id}: {p.outcome} ({shown}; n={p.n})")
        else:
            parts.append(f"{p.id}: {p.outcome} ({p.reason})")
    return "\n".join(parts)


class ProgressBar:
    """A progress bar on stderr (pairs done / total, the current run, ETA), shown only once the work
    has taken more than `delay` seconds; the CLI creates one only when stderr is a terminal."""

    def __init__(self, delay: float = 0.5):
        import time

        self._since = time.monotonic() + delay
        self._bar: Any = None
        self._task: Any = None

    def __call__(self, done: int, total: int, run: str) -> None:
        import time

        if self._bar is None:
            if time.monotonic() < self._since:
                return
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("evaluate"), BarColumn(), MofNCompleteColumn(), TextColumn("pairs  {task.fields[run]}"),
                TimeRemainingColumn(), console=Console(stderr=True), transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("evaluate", total=total, run=run)
        self._bar.update(self._task, completed=done, run=run)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def evaluation(result: Evaluation, fmt: str, *, quiet: bool = False) -> None:
    if fmt == "json":
        _json(
            {
                "verdicts": [v.model_dump(mode="python") for v in result.verdicts],
                "unmatched_claims": result.unmatched,
                "refused": [e.render() for e in result.refused],
                "written": len(result.written),
                "skipped": [{"claim": s.claim, "run": s.run, "outcome": s.outcome} for s in result.skipped],
            }
        )
        return
    if plain():  # the lines `table` and the console print when piped, without importing rich (30 ms)
        if not (quiet or (not result.verdicts and result.skipped)):
            for v in result.verdicts:
                cells = [v.claim.id, _where(v), v.outcome, _stat_summary(v)]
                print("\t".join(cell.replace("\n", "; ") for cell in cells))
            for claim_id in result.unmatched:
                print(f"{claim_id}: applies to no run; nothing written")
        print(_summary(result))
        return
    from rich.markup import escape

    console = _console()
    if quiet or (not result.verdicts and result.skipped):
        console.print(_summary(result))
        return
    rows = [[escape(v.claim.id), escape(_where(v)), _outcome(v.outcome), escape(_stat_summary(v))] for v in result.verdicts]
    table(["claim", "run", "outcome", "predictions"], rows, lines=True, fold=("claim", "run", "predictions"))
    for claim_id in result.unmatched:
        console.print(f"{claim_id}: applies to no run; nothing written")
    console.print(_summary(result))


def _where(v: Verdict) -> str:
    return v.run.id if v.run is not None else f"across {len(v.runs or [])} runs"


def _summary(result: Evaluation) -> str:
    counts: dict[str, int] = {}
    for v in result.verdicts:
        counts[v.outcome] = counts.get(v.outcome, 0) + 1
    summary = ", ".join(f"{n} {o}" for o, n in sorted(counts.items()))
    skipped = f"{len(result.skipped)} current, skipped (--force re-measures); " if result.skipped else ""
    return f"{len(result.verdicts)} verdict(s): {summary or 'none'}; {skipped}{len(result.written)} file(s) changed"


def claim_list(rows: list[ClaimRow], fmt: str) -> None:
    if fmt == "json":
        _json(
            [
                {
                    "id": r.claim.id,
                    "title": r.claim.claim.title,
                    "status": r.claim.claim.status,
                    "verdicts": {v.run_label: v.outcome for v in r.verdicts},
                    "registration": {k: reg.level if reg else None for k, reg in r.registrations.items()},
                    "refused": [e.render() for e in r.refused],
                }
                for r in rows
            ]
        )
        return
    from rich.markup import escape

    cells = []
    for r in rows:
        outcomes = ", ".join(f"{escape(v.run_label)}: {_outcome(v.outcome)}" for v in r.verdicts) or "not evaluated"
        status = r.claim.claim.status + ("\n[red]REFUSED[/]" if r.refused else "")
        cells.append([escape(r.claim.id), status, escape(r.claim.claim.title), outcomes])
    table(["claim", "status", "title", "latest outcome per run"], cells, fold=("claim", "title", "latest outcome per run"))
    refused = [r.claim.id for r in rows if r.refused]
    if refused:
        print(
            f"refused: {', '.join(refused)} changed after judged without a matching amendment (see `registry validate`)"
        )


def claim_detail(detail: ClaimDetail) -> None:
    from rich.markup import escape

    lc, c, console = detail.claim, detail.claim.claim, _console()
    console.print(f"[bold]{escape(c.id)}[/] — {escape(c.title)}  ({c.status})")
    for error in detail.refused:
        console.print(f"[red]warning: refused[/]: {escape(error.render())}")
    console.print(f"file: {escape(display_path(lc.path))}   fingerprint: {detail.fingerprint[:12]}")
    console.print(f"statement: {escape(c.statement.strip())}")
    console.print(f"falsified if: {escape(c.falsified_if.strip())}")
    for p in c.predictions:
        lines = " and ".join(f"{e.stat} {e.op} {e.value}" for e in p.expect)
        console.print(escape(f"  - {p.id} [{p.level}] {p.evaluator}: {lines} (min_samples {p.min_samples})"))
    if detail.decision is not None:
        d = detail.decision
        console.print(f"alpha: {d.alpha:g} ({d.rule}; `alpha` in an expect line means {d.per_test_alpha:.4g})")
    if c.supersedes:
        console.print(f"supersedes: {escape(c.supersedes)}")
    for a in c.amendments:
        console.print(escape(f"amended {a.date}: {a.reason.strip()} (replaces {a.replaces[:12]})"))
    for e in detail.earlier:
        console.print(escape(f"under the {e.label}: run {e.run}: {e.outcome} (commit {e.commit.short}, {e.commit.day})"))
    if not detail.verdicts:
        console.print("no verdicts yet: run `registry evaluate " + c.id + "`")
    for v, version, registration in detail.verdicts:
        stale = f"  [yellow](recorded under {escape(version)})[/]" if version is not None else ""
        console.print(f"run {escape(v.run_label)}: {_outcome(v.outcome)}{stale}")
        if registration is not None:
            console.print(f"    registration: {registration.level} ({escape(registration.reason)})")
        for line in _stat_summary(v).splitlines():
            console.print(f"    {escape(line)}")


def run_inspection(summaries: list[ArtifactSummary], fmt: str) -> None:
    if fmt == "json":
        _json(
            [
                {
                    "artifact": s.name,
                    "path": s.path,
                    "kind": s.kind,
                    "format": s.format,
                    "entries": {e.name: e.detail for e in s.entries},
                    "problem": s.problem,
                }
                for s in summaries
            ]
        )
        return
    from rich.markup import escape

    console = _console()
    for s in summaries:
        console.print(f"[bold]{escape(s.name)}[/]: {escape(s.path)} ({s.kind}, {s.format or 'unknown format'})")
        if s.problem:
            console.print(f"  [red]{escape(s.problem)}[/]")
        width = max((len(e.name) for e in s.entries), default=0)
        for e in s.entries:
            console.print(f"  {escape(e.name.ljust(width))}  {escape(e.detail)}")
