"""`evaluate --format github` and `--junit-xml FILE`: the verdicts as a CI system reads them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from registry.verdicts import ci

if TYPE_CHECKING:
    from registry.verdicts.engine import Evaluation


def github(result: Evaluation) -> None:
    """Workflow annotations on stdout, and the step summary appended to `$GITHUB_STEP_SUMMARY` when set."""
    for line in ci.github_annotations(result.all_verdicts(), result.claims):
        print(line)
    for claim_id in result.unmatched:
        print(f"{claim_id}: applies to no run; nothing written")
    counts: dict[str, int] = {}
    for v in result.verdicts:
        counts[v.outcome] = counts.get(v.outcome, 0) + 1
    summary = ", ".join(f"{n} {o}" for o, n in sorted(counts.items()))
    print(f"{len(result.verdicts)} verdict(s): {summary or 'none'}; {len(result.written)} file(s) changed")
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with Path(target).open("a", encoding="utf-8") as f:
            f.write(ci.step_summary(result.all_verdicts(), result.unmatched))


def junit(result: Evaluation, path: Path) -> None:
    if path.parent != Path():
        path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(ci.junit_xml(result.all_verdicts(), result.claims), encoding="utf-8")
