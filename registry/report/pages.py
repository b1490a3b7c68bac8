"""The site's HTML: the index (claims x runs, coloured by outcome, with filters) and one page per claim.
Deterministic text: the same inputs give the same bytes, so an unchanged page is never rewritten."""

from __future__ import annotations

import json
import math
from html import escape
from typing import TYPE_CHECKING, Any

from registry.verdicts.model import ACROSS_RUNS

if TYPE_CHECKING:
    from registry.integrity.status import PairState
    from registry.report.model import ClaimData, ReportData

OUTCOMES = ("pass", "fail", "inconclusive", "error")
# Registration level as one letter in the index (the page spells it out).
REGISTRATION_MARKS = {"preregistered": "●", "postregistered": "◐", "uncommitted": "○", "unknown": "?"}
STATE_MARKS = {"stale": "⟳", "missing": "∅", "orphaned": "⊘", "unreadable": "!"}


def _page(title: str, body: str, depth: int) -> str:
    up = "../" * depth
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<title>{escape(title)}</title><link rel="stylesheet" href="{up}assets/report.css">'
        f'<script src="{up}assets/plotly.min.js"></script><script src="{up}assets/report.js"></script>'
        f"</head><body>\n{body}\n</body></html>\n"
    )


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def figure_block(fig_id: str, figure: dict[str, Any]) -> str:
    """A plot: the figure's JSON in the page and the div the script renders it into."""
    text = json.dumps(_clean({"data": figure["data"], "layout": figure["layout"]}), sort_keys=True, separators=(",", ":"))
    text = text.replace("</", "<\\/")
    div = f'<div class="plot" id="{fig_id}" data-fig="{fig_id}-data"></div>'
    return f'{div}<script type="application/json" id="{fig_id}-data">{text}</script>'


def _cell(pair: PairState | None, claim_id: str) -> str:
    if pair is None:
        return '<td class="cell none" data-outcome="" data-state="none"></td>'
    v = pair.verdict
    outcome = v.outcome if v is not None else ""
    level = v.registration.level if v is not None and v.registration is not None else None
    marks = STATE_MARKS.get(pair.state, "") + (REGISTRATION_MARKS.get(level, "") if level else "")
    tip = "; ".join([outcome or pair.state, pair.state] + ([level] if level else []) + list(pair.reasons))
    letter = escape(outcome[:1].upper() or "·")
    inner = f'<a href="claims/{escape(claim_id)}.html">{letter}<span class="mark">{escape(marks)}</span></a>'
    return (
        f'<td class="cell {outcome or "none"}" data-outcome="{outcome}" data-state="{pair.state}" '
        f'title="{escape(tip)}">{inner}</td>'
    )


def index_page(report: ReportData) -> str:
    tags = sorted({t for d in report.claims for t in d.claim.claim.tags})
    head = "".join(f'<th class="run">{escape("across runs" if r == ACROSS_RUNS else r)}</th>' for r in report.columns)
    rows = []
    for d in report.claims:
        by_run = {p.run: p for p in d.pairs}
        c = d.claim.claim
        cells = "".join(_cell(by_run.get(r), c.id) for r in report.columns)
        rows.append(
            f'<tr class="claim" data-tags="{escape(" ".join(c.tags))}">'
            f'<th><a href="claims/{escape(c.id)}.html">{escape(c.id)}</a>'
            f' <span class="muted">{escape(c.status)}</span>{_refused_mark(d)}</th>{cells}</tr>'
        )
    options = "".join(f'<option value="{escape(t)}">{escape(t)}</option>' for t in tags)
    outcomes = "".join(f'<option value="{o}">{o}</option>' for o in OUTCOMES)
    legend = (
        "P/F/I/E: pass, fail, inconclusive, error · registration: ● preregistered, ◐ postregistered, ○ uncommitted, "
        "? unknown · state: ⟳ stale, ∅ missing, ⊘ orphaned, ! unreadable"
    )
    body = (
        f"<h1>Claims registry</h1>"
        f'<p class="muted">{len(report.claims)} claim(s) × {len(report.columns)} run column(s). {legend}</p>'
        f'<form id="filters"><label>tag <select name="tag"><option value="">all</option>{options}</select></label>'
        f'<label>outcome <select name="outcome"><option value="">all</option>{outcomes}</select></label>'
        '<label><input type="checkbox" name="stale"> not ok only (stale, missing, orphaned)</label></form>'
        f'<div class="matrix"><table><thead><tr><th>claim</th>{head}</tr></thead><tbody>\n'
        + "\n".join(rows)
        + "\n</tbody></table></div>"
    )
    return _page("Claims registry", body, 0)


def _refused_mark(d: ClaimData) -> str:
    if not d.refused:
        return ""
    return f' <span class="refused" title="{escape("; ".join(d.refused))}">⚠ refused</span>'


def claim_header(d: ClaimData) -> str:
    c = d.claim.claim
    tags = ", ".join(escape(t) for t in c.tags) or "none"
    refused = "".join(f'<p class="refused">⚠ refused by validate: {escape(r)}</p>' for r in d.refused)
    return refused + (
        f'<p><a href="../index.html">← all claims</a></p><h1>{escape(c.id)}</h1><p>{escape(c.title)}</p>'
        f'<p class="muted">status {escape(c.status)} · tags {tags} · combine {escape(c.combine)}</p>'
        f"<h2>Statement</h2><p>{escape(c.statement.strip())}</p><h2>Falsified if</h2><p>{escape(c.falsified_if.strip())}</p>"
    )


def verdict_table(d: ClaimData) -> str:
    rows = []
    for p in d.pairs:
        v = p.verdict
        run = "across runs" if p.run == ACROSS_RUNS else p.run
        outcome = v.outcome if v is not None else "—"
        reg = v.registration.level if v is not None and v.registration is not None else "—"
        why = "; ".join(p.reasons)
        rows.append(
            f'<tr><td class="mono">{escape(run)}</td><td class="{outcome}">{escape(outcome)}</td><td>{escape(reg)}</td>'
            f"<td>{escape(p.state)}{': ' + escape(why) if why else ''}</td></tr>"
        )
    if not rows:
        return "<h2>Verdicts</h2><p>No run this claim applies to.</p>"
    return (
        "<h2>Verdicts</h2><table><tr><th>run</th><th>outcome</th><th>registration</th><th>state</th></tr>"
        + "".join(rows)
        + "</table>"
    )
