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
    refused: list[str] = field(default_factory=list)
    """Why `validate` refuses the claim (changed without a matching amendment, a bad `supersedes:`)."""


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
    _refusals(settings, claims)
    for data in claims.values():
        data.pairs.sort(key=lambda p: p.run)
        if with_history:
            _history(settings, data)
    runs = {r.id: r for r in status.runs}
    across = any(p.run == ACROSS_RUNS for d in claims.values() for p in d.pairs)
    columns = ([ACROSS_RUNS] if across else []) + sorted(runs)
    return ReportData(sorted(claims.values(), key=lambda d: d.claim.id), runs, columns)


def _refusals(settings: Settings, claims: dict[str, ClaimData]) -> None:
    """The amendment and supersession errors `validate` reports, attached to their claims."""
    from registry.errors import display_path
    from registry.integrity.amendments import cached_git, check_claims

    by_file = {display_path(d.claim.path): d for d in claims.values()}
    loaded = [d.claim for d in claims.values()]
    for error in check_claims(loaded, settings.verdicts, cached_git(settings.root), complete=True):
        target = by_file.get(error.location.file) if error.location is not None else None
        if target is not None:
            target.refused.append(error.render())


def _history(settings: Settings, data: ClaimData) -> None:
    try:
        history = verdict_history(settings, data.claim.id)
    except UserError as exc:
        data.history_note = exc.message
        return
    data.history = history.entries
    if history.notes:
        data.history_note = "; ".join(history.notes)
