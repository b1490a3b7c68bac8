"""Tables, JSON and markdown for the integrity commands: status, history, diff, stats."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from registry.cli.render import _console, _json, _outcome, table
from registry.integrity.diff import DiffEntry
from registry.integrity.history import HistoryEntry
from registry.verdicts.model import ACROSS_RUNS

if TYPE_CHECKING:
    from registry.integrity.diff import VerdictDiff
    from registry.integrity.history import History
    from registry.integrity.status import ProjectStatus, Stats
    from registry.integrity.summary import Summary


_STATE_STYLE = {
    "ok": "green",
    "refused": "red",
    "missing": "yellow",
    "orphaned": "magenta",
    "unreadable": "red",
}


def _notes(notes: list[str]) -> None:
    import sys

    for note in notes:
        print(f"note: {note}", file=sys.stderr)


def project_status(status: ProjectStatus, fmt: str) -> None:
    if fmt == "json":
        _json(
            {
                "pairs": [
                    {
                        "claim": p.claim,
                        "run": p.run,
                        "state": p.state,
                        "reasons": list(p.reasons),
                        "registration": p.registration.model_dump(exclude_none=True) if p.registration else None,
                    }
                    for p in status.pairs
                ],
                "counts": status.counts(),
            }
        )
        return
    from rich.markup import escape

    console = _console()
    problems = status.problems
    if problems:
        rows = [
            [escape(p.claim), escape(p.run), f"[{_STATE_STYLE.get(p.state, 'white')}]{p.state}[/]", escape("; ".join(p.reasons))]
            for p in problems
        ]
        table(["claim", "run", "state", "why"], rows, fold=("claim", "run", "state", "why"))
    counts = ", ".join(f"{n} {s}" for s, n in status.counts().items()) or "no claims apply to any run"
    console.print(f"{len(status.pairs)} verdict(s): {counts}")


def _transition(before: Summary | None, after: Summary | None) -> str:
    a = _outcome(before.outcome) if before else "—"
    b = _outcome(after.outcome) if after else "—"
    return a if before and after and before.outcome == after.outcome else f"{a} → {b}"


def verdict_history(history: History, fmt: str) -> None:
    """One line per change, newest first, like `git log --oneline` (a table of thousands of rows
    would be slow to lay out and no easier to read)."""
    _notes(history.notes)
    if fmt == "json":
        _json({"claim": history.claim_id, "entries": _as_data(history.entries), "notes": history.notes})
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
    if fmt == "markdown":
        print(_markdown(diff), end="")
        return
    _notes(diff.notes)
    if fmt == "json":
        _json({"a": diff.a, "b": diff.b, "entries": _as_data(diff.entries), "counts": diff.counts()})
        return
    from rich.markup import escape

    console = _console()
    if not diff.entries:
        console.print(f"no verdict changed between {escape(diff.a)} and {escape(diff.b)}")
        return
    rows = [[escape(e.claim), escape(e.run), _transition(e.before, e.after), escape("\n".join(e.changes))] for e in diff.entries]
    table(["claim", "run", "outcome", "what changed"], rows, lines=True, fold=("claim", "run", "outcome", "what changed"))
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
    if stats.refused:
        why = "changed after judged, no matching amendment; see `registry validate`"
        console.print(f"[red]refused ({why}):[/] {escape(', '.join(stats.refused))}")
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


# --- JSON rows and the pull-request comment (history, diff) -------------------------------------------


def _markdown(diff: VerdictDiff) -> str:
    """The diff as a pull-request comment."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    def outcome(s: Summary | None, bold: bool) -> str:
        if s is None:
            return "—"
        return f"**{s.outcome}**" if bold else s.outcome

    lines = [f"### Verdict changes: `{diff.a}` → {diff.b if diff.against_working_tree else f'`{diff.b}`'}", ""]
    if not diff.entries:
        lines.append("No verdict changed.")
        return "\n".join(lines) + "\n"
    summary = ", ".join(f"{n} {k}" for k, n in sorted(diff.counts().items()))
    lines += [f"{len(diff.entries)} verdict(s) changed: {summary}.", ""]
    lines += ["| claim | run | before | after | what changed |", "| --- | --- | --- | --- | --- |"]
    for e in diff.entries:
        changed = e.before is not None and e.after is not None and e.before.outcome != e.after.outcome
        run = "across runs" if e.run == ACROSS_RUNS else e.run
        lines.append(
            f"| `{cell(e.claim)}` | `{cell(run)}` | {outcome(e.before, False)} | {outcome(e.after, changed)} "
            f"| {cell('; '.join(e.changes[:6]) + ('; …' if len(e.changes) > 6 else ''))} |"
        )
    for note in diff.notes:
        lines += ["", f"_{note}_"]
    return "\n".join(lines) + "\n"


def _as_data(entries: Iterable[HistoryEntry | DiffEntry]) -> list[dict[str, Any]]:
    """JSON-ready rows for `--format json`."""
    out: list[dict[str, Any]] = []
    for e in entries:
        row: dict[str, Any] = {
            "run": e.run,
            "before": e.before.outcome if e.before else None,
            "after": e.after.outcome if e.after else None,
            "changes": e.changes,
        }
        if isinstance(e, HistoryEntry):
            row.update(
                commit=e.commit.sha,
                date=e.commit.iso,
                author=e.commit.author,
                subject=e.commit.subject,
                signed=e.commit.signed,
                claim_version=e.version,
            )
        else:
            row["claim"] = e.claim
        if e.after is not None:
            row["fingerprint"] = e.after.fingerprint
            # Computed now by today's rule (verdicts of the claim's current version); a version-2 file
            # also carries the level recorded when it was evaluated.
            row["registration"] = e.registration
            if e.after.registration is not None:
                row["registration_recorded"] = e.after.registration
        out.append(row)
    return out
