"""Tables and JSON for the CLI (rich is imported only here, only when something is printed)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .store import canonical

if TYPE_CHECKING:
    from rich.console import Console

    from .commands import ClaimRow
    from .engine import Evaluation
    from .loading import LoadedClaim
    from .plugins import Evaluator, PluginFailure
    from .store import Verdict

_STYLE = {"pass": "green", "fail": "red", "inconclusive": "yellow", "error": "magenta"}


def _console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def _outcome(o: str) -> str:
    return f"[{_STYLE.get(o, 'white')}]{o}[/]"


def _json(data: Any) -> None:
    print(json.dumps(canonical(data), indent=2, sort_keys=True, allow_nan=True))


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


def evaluation(result: Evaluation, fmt: str) -> None:
    if fmt == "json":
        _json(
            {
                "verdicts": [v.model_dump(mode="python") for v in result.verdicts],
                "unmatched_claims": result.unmatched,
                "written": len(result.written),
            }
        )
        return
    from rich.table import Table

    console = _console()
    table = Table(show_lines=True)
    table.add_column("claim", overflow="fold", ratio=2)
    table.add_column("run", overflow="fold", ratio=2)
    table.add_column("outcome", no_wrap=True)
    table.add_column("predictions", overflow="fold", ratio=5)
    for v in result.verdicts:
        table.add_row(v.claim.id, v.run.id, _outcome(v.outcome), _stat_summary(v))
    console.print(table)
    for claim_id in result.unmatched:
        console.print(f"{claim_id}: applies to no run; nothing written")
    counts: dict[str, int] = {}
    for v in result.verdicts:
        counts[v.outcome] = counts.get(v.outcome, 0) + 1
    summary = ", ".join(f"{n} {o}" for o, n in sorted(counts.items()))
    console.print(f"{len(result.verdicts)} verdict(s): {summary or 'none'}; {len(result.written)} file(s) changed")


def claim_list(rows: list[ClaimRow], fmt: str) -> None:
    if fmt == "json":
        _json(
            [
                {
                    "id": r.claim.id,
                    "title": r.claim.claim.title,
                    "status": r.claim.claim.status,
                    "verdicts": {v.run.id: v.outcome for v in r.verdicts},
                }
                for r in rows
            ]
        )
        return
    from rich.table import Table

    table = Table()
    for col in ("claim", "status", "title", "latest outcome per run"):
        table.add_column(col)
    for r in rows:
        outcomes = ", ".join(f"{v.run.id}: {_outcome(v.outcome)}" for v in r.verdicts) or "not evaluated"
        table.add_row(r.claim.id, r.claim.claim.status, r.claim.claim.title, outcomes)
    _console().print(table)


def claim_detail(lc: LoadedClaim, verdicts: list[Verdict], fingerprint: str) -> None:
    from rich.markup import escape

    c = lc.claim
    console = _console()
    console.print(f"[bold]{escape(c.id)}[/] — {escape(c.title)}  ({c.status})")
    console.print(f"file: {escape(str(lc.path))}   fingerprint: {fingerprint[:12]}")
    console.print(f"statement: {escape(c.statement.strip())}")
    console.print(f"falsified if: {escape(c.falsified_if.strip())}")
    for p in c.predictions:
        lines = " and ".join(f"{e.stat} {e.op} {e.value}" for e in p.expect)
        console.print(f"  - {p.id} [{p.level}] {p.evaluator}: {escape(lines)} (min_samples {p.min_samples})")
    if not verdicts:
        console.print("no verdicts yet: run `registry evaluate " + c.id + "`")
    for v in verdicts:
        stale = "" if v.claim.sha256 == fingerprint else "  [yellow](recorded under an older version of the claim)[/]"
        console.print(f"run {escape(v.run.id)}: {_outcome(v.outcome)}{stale}")
        for line in _stat_summary(v).splitlines():
            console.print(f"    {escape(line)}")


def evaluator_list(listed: list[Evaluator], failures: list[PluginFailure], fmt: str) -> None:
    from .plugins import params_schema

    if fmt == "json":
        _json(
            {
                "evaluators": [
                    {
                        "name": e.name,
                        "levels": sorted(e.levels),
                        "version": e.version,
                        "statistics": list(e.statistics),
                        "params": params_schema(e),
                        "summary": e.describe(),
                    }
                    for e in listed
                ],
                "failed": [f.render() for f in failures],
            }
        )
        return
    from rich.markup import escape

    console = _console()
    for e in listed:
        console.print(f"[bold]{e.name}[/] {e.version}  levels: {', '.join(sorted(e.levels))}")
        console.print(f"  {escape(e.describe())}")
        schema = params_schema(e)
        required = set(schema.get("required", []))
        for pname, prop in schema.get("properties", {}).items():
            default = "" if pname in required else f" = {json.dumps(prop.get('default'))}"
            desc = prop.get("description", "")
            console.print(f"  params.{pname}{escape(default)}  {escape(desc)}")
        console.print(f"  statistics: {', '.join(e.statistics)}")
    for f in failures:
        console.print(f"[red]{escape(f.render())}[/]")
