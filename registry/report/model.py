"""What the report shows, gathered once: every (claim, run) pair with its state and verdict, the runs,
and each claim's verdict history from git (when there is git)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from registry.errors import UserError
from registry.integrity.history import HistoryEntry, verdict_history
from registry.integrity.status import PairState, project_status
from registry.verdicts.model import ACROSS_RUNS

if TYPE_CHECKING:
    from registry.config import Settings
    from registry.language.loaded import LoadedClaim
    from registry.runs.run import Run


@dataclass
class ClaimData:
    claim: LoadedClaim
    pairs: list[PairState] = field(default_factory=list)
    """This claim's (claim, run) pairs: ok, stale, missing, orphaned or unreadable, with the verdict."""
    history: list[HistoryEntry] = field(default_factory=list)
    history_note: str | None = None
    """Why there is no history (no git, say)."""


@dataclass
class ReportData:
    claims: list[ClaimData]
    runs: dict[str, Run]
    columns: list[str]
    """The index's columns: `_across-runs` when a claim is judged across runs, then the run ids."""


def gather(settings: Settings, with_history: bool = True) -> ReportData:
    status = project_status(settings)
    claims = {lc.id: ClaimData(lc) for lc in status.claims}
    for pair in status.pairs:
        if pair.claim in claims:
            claims[pair.claim].pairs.append(pair)
    for data in claims.values():
        data.pairs.sort(key=lambda p: p.run)
        if with_history:
            _history(settings, data)
    runs = {r.id: r for r in status.runs}
    across = any(p.run == ACROSS_RUNS for d in claims.values() for p in d.pairs)
    columns = ([ACROSS_RUNS] if across else []) + sorted(runs)
    return ReportData(sorted(claims.values(), key=lambda d: d.claim.id), runs, columns)


def _history(settings: Settings, data: ClaimData) -> None:
    try:
        history = verdict_history(settings, data.claim.id)
    except UserError as exc:
        data.history_note = exc.message
        return
    data.history = history.entries
    if history.notes:
        data.history_note = "; ".join(history.notes)
