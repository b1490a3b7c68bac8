"""Tables and JSON for the CLI (rich is imported only here, only when something is printed)."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from .errors import display_path
from .store import canonical

if TYPE_CHECKING:
    from rich.console import Console

    from .commands import ClaimRow
    from .engine import Evaluation
    from .history import EarlierVerdict, History, Summary, VerdictDiff
    from .loading import LoadedClaim
    from .plugins import AnyEvaluator, PluginFailure
    from .status import ProjectStatus, Stats
    from .store import Verdict

_STYLE = {"pass": "green", "fail": "red", "inconclusive": "yellow", "error": "magenta"}


def _console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


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
        where = v.run.id if v.run is not None else f"across {len(v.runs or [])} runs"
        table.add_row(v.claim.id, where, _outcome(v.outcome), _stat_summary(v))
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
                    "verdicts": {v.run_label: v.outcome for v in r.verdicts},
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
        outcomes = ", ".join(f"{v.run_label}: {_outcome(v.outcome)}" for v in r.verdicts) or "not evaluated"
        table.add_row(r.claim.id, r.claim.claim.status, r.claim.claim.title, outcomes)
    _console().print(table)


def claim_detail(
    lc: LoadedClaim, verdicts: list[Verdict], fingerprint: str, earlier: list[EarlierVerdict] | None = None
) -> None:
    from rich.markup import escape

    from .amendments import version_label
    from .fingerprint import recorded_fingerprint, same_version

    c = lc.claim
    console = _console()
    console.print(f"[bold]{escape(c.id)}[/] — {escape(c.title)}  ({c.status})")
    console.print(f"file: {escape(display_path(lc.path))}   fingerprint: {fingerprint[:12]}")
    console.print(f"statement: {escape(c.statement.strip())}")
    console.print(f"falsified if: {escape(c.falsified_if.strip())}")
    for p in c.predictions:
        lines = " and ".join(f"{e.stat} {e.op} {e.value}" for e in p.expect)
        console.print(escape(f"  - {p.id} [{p.level}] {p.evaluator}: {lines} (min_samples {p.min_samples})"))
    if c.alpha != 0.05 or any(e.value == "alpha" for p in c.predictions for e in p.expect):
        from .judge import decision_rule

        d = decision_rule(c)
        console.print(f"alpha: {c.alpha:g} ({d.rule}; `alpha` in an expect line means {d.per_test_alpha:.4g})")
    if c.supersedes:
        console.print(f"supersedes: {escape(c.supersedes)}")
    for a in c.amendments:
        console.print(escape(f"amended {a.date}: {a.reason.strip()} (replaces {a.replaces[:12]})"))
    for e in earlier or []:
        console.print(escape(f"under the {e.label}: run {e.run}: {e.outcome} (commit {e.commit.short}, {e.commit.day})"))
    if not verdicts:
        console.print("no verdicts yet: run `registry evaluate " + c.id + "`")
    for v in verdicts:
        label = version_label(c, recorded_fingerprint(v), v.schema_version)
        if same_version(recorded_fingerprint(v), v.schema_version, c):
            stale = ""
        elif label == "an unrecorded earlier version":
            stale = "  [yellow](recorded under an older version of the claim)[/]"
        else:
            stale = f"  [yellow](recorded under the {escape(label)})[/]"
        console.print(f"run {escape(v.run_label)}: {_outcome(v.outcome)}{stale}")
        if v.registration is not None:
            console.print(f"    registration: {v.registration.level} ({escape(v.registration.reason)})")
        for line in _stat_summary(v).splitlines():
            console.print(f"    {escape(line)}")


def evaluator_list(listed: list[AnyEvaluator], failures: list[PluginFailure], fmt: str) -> None:
    from .plugins import params_schema

    if fmt == "json":
        _json(
            {
                "evaluators": [
                    {
                        "name": e.name,
                        "levels": sorted(e.levels),
                        "version": e.version,
                        "statistics": [
                            {
                                "name": s.name,
                                "doc": s.doc,
                                # JSON has no infinity: an open end is null.
                                "range": None if s.range is None else [v if math.isfinite(v) else None for v in s.range],
                                "rate": s.rate,
                                "type": s.type.__name__,
                            }
                            for s in e.statistics
                        ],
                        "across": e.across,
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
        console.print("  statistics:")
        for s in e.statistics:
            facts = [s.type.__name__] + ([f"in [{s.range[0]:g}, {s.range[1]:g}]"] if s.range is not None else [])
            facts += ["a rate over n"] if s.rate else []
            console.print(f"    {s.name} ({', '.join(facts)})  {escape(s.doc)}")
    for f in failures:
        console.print(f"[red]{escape(f.render())}[/]")


# --- integrity of the record: status, history, diff, stats ------------------------------------------


_STATE_STYLE = {"ok": "green", "stale": "yellow", "missing": "yellow", "orphaned": "magenta", "unreadable": "red"}


def _notes(notes: list[str]) -> None:
    import sys

    for note in notes:
        print(f"note: {note}", file=sys.stderr)


def project_status(status: ProjectStatus, fmt: str) -> None:
    if fmt == "json":
        _json(
            {
                "pairs": [{"claim": p.claim, "run": p.run, "state": p.state, "reasons": list(p.reasons)} for p in status.pairs],
                "counts": status.counts(),
            }
        )
        return
    from rich.markup import escape
    from rich.table import Table

    console = _console()
    problems = status.problems
    if problems:
        table = Table()
        for col in ("claim", "run", "state", "why"):
            table.add_column(col, overflow="fold")
        for p in problems:
            state = f"[{_STATE_STYLE.get(p.state, 'white')}]{p.state}[/]"
            table.add_row(escape(p.claim), escape(p.run), state, escape("; ".join(p.reasons)))
        console.print(table)
    counts = ", ".join(f"{n} {s}" for s, n in status.counts().items()) or "no claims apply to any run"
    console.print(f"{len(status.pairs)} verdict(s): {counts}")


def _transition(before: Summary | None, after: Summary | None) -> str:
    a = _outcome(before.outcome) if before else "—"
    b = _outcome(after.outcome) if after else "—"
    return a if before and after and before.outcome == after.outcome else f"{a} → {b}"


def verdict_history(history: History, fmt: str) -> None:
    """One line per change, newest first, like `git log --oneline` (a table of thousands of rows
    would be slow to lay out and no easier to read)."""
    from .history import as_data

    _notes(history.notes)
    if fmt == "json":
        _json({"claim": history.claim_id, "entries": as_data(history.entries), "notes": history.notes})
        return
    from rich.markup import escape

    console = _console()
    if not history.entries:
        console.print(f"no committed verdicts of {escape(history.claim_id)}")
        return

    def plain(before: Summary | None, after: Summary | None) -> str:
        a, b = (before.outcome if before else "—"), (after.outcome if after else "—")
        return a if before and after and a == b else f"{a} → {b}"

    rows = [(e.commit.short, e.commit.day, e.commit.author, e.run, plain(e.before, e.after), e) for e in history.entries]
    author_w = max(6, *(len(r[2]) for r in rows))
    run_w = max(3, *(len(r[3]) for r in rows))
    outcome_w = max(7, *(len(r[4]) for r in rows))
    lines = [f"{'commit':<12}  {'date':<10}  {'author':<{author_w}}  {'run':<{run_w}}  {'outcome':<{outcome_w}}  what changed"]
    for short, day, author, run, outcome, e in rows:
        styled = _transition(e.before, e.after) + " " * (outcome_w - len(outcome))
        changed = escape("; ".join(e.changes))
        lines.append(f"{short:<12}  {day:<10}  {escape(author):<{author_w}}  {escape(run):<{run_w}}  {styled}  {changed}")
    console.print("\n".join(lines), soft_wrap=True)
    console.print(f"{len(history.entries)} change(s) to verdicts of {escape(history.claim_id)}")


def verdict_diff(diff: VerdictDiff, fmt: str) -> None:
    from .history import as_data, markdown

    if fmt == "markdown":
        print(markdown(diff), end="")
        return
    _notes(diff.notes)
    if fmt == "json":
        _json({"a": diff.a, "b": diff.b, "entries": as_data(diff.entries), "counts": diff.counts()})
        return
    from rich.markup import escape
    from rich.table import Table

    console = _console()
    if not diff.entries:
        console.print(f"no verdict changed between {escape(diff.a)} and {escape(diff.b)}")
        return
    table = Table(show_lines=True)
    for col in ("claim", "run", "outcome", "what changed"):
        table.add_column(col, overflow="fold", ratio=4 if col == "what changed" else None)
    for e in diff.entries:
        table.add_row(escape(e.claim), escape(e.run), _transition(e.before, e.after), escape("\n".join(e.changes)))
    console.print(table)
    summary = ", ".join(f"{n} {k}" for k, n in sorted(diff.counts().items()))
    console.print(f"{len(diff.entries)} verdict(s) changed between {escape(diff.a)} and {escape(diff.b)}: {summary}")


def registry_stats(stats: Stats, fmt: str) -> None:
    import dataclasses

    if fmt == "json":
        _json(dataclasses.asdict(stats))
        return
    from rich.markup import escape

    console = _console()

    def counts(d: dict[str, int]) -> str:
        return ", ".join(f"{n} {k}" for k, n in d.items()) or "none"

    console.print(f"claims: {counts(stats.claims_by_status)}")
    for status, outcomes in stats.verdicts_by_outcome.items():
        console.print(f"verdicts of {status} claims: {counts(outcomes)}")
    if not stats.verdicts_by_outcome:
        console.print("verdicts: none")
    console.print(f"registration of verdicts: {counts(stats.registration)}")
    console.print(f"verdict files: {counts(stats.pair_states)}")
    console.print(f"(claim, run) pairs never evaluated: {len(stats.never_evaluated)}")
    for claim, run in stats.never_evaluated[:20]:
        console.print(f"  {escape(claim)} on {escape(run)}")
    if len(stats.never_evaluated) > 20:
        console.print(f"  ... and {len(stats.never_evaluated) - 20} more")
    if stats.unjudged_claims:
        console.print(f"registered or retired claims without any verdict: {escape(', '.join(stats.unjudged_claims))}")
    console.print(f"inconclusive predictions: {sum(stats.inconclusive_reasons.values())}")
    for reason, n in list(stats.inconclusive_reasons.items())[:10]:
        console.print(f"  {n} × {escape(reason)}")
    console.print(f"amendments: {len(stats.amendments)}")
    for claim, date, reason in stats.amendments:
        console.print(escape(f"  {claim} ({date}): {reason.strip()}"))
    for new, old in stats.superseded:
        console.print(escape(f"superseded: {old} by {new}"))
    for claim, outcomes in stats.retired_outcomes.items():
        console.print(escape(f"retired {claim}: {counts(outcomes)}"))

