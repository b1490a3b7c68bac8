"""One claim's page: header, verdicts, each prediction (expect lines, observed values per run, the plot
of its evidence) and the verdict timeline from git."""

from __future__ import annotations

import json
from html import escape
from typing import TYPE_CHECKING

from registry.report.figures import prediction_figure, timeline_figure
from registry.report.pages import _page, claim_header, figure_block, verdict_table
from registry.verdicts.model import ACROSS_RUNS

if TYPE_CHECKING:
    from registry.language.schema import Prediction
    from registry.report.model import ClaimData
    from registry.runs.run import Run
    from registry.verdicts.model import PredictionVerdict


def _num(x: object) -> str:
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def _judged(d: ClaimData, prediction_id: str) -> list[tuple[str, PredictionVerdict]]:
    out = []
    for pair in d.pairs:
        if pair.verdict is None:
            continue
        for pv in pair.verdict.predictions:
            if pv.id == prediction_id:
                out.append((pair.run, pv))
    return out


def _observed(judged: list[tuple[str, PredictionVerdict]]) -> str:
    rows = []
    for run, pv in judged:
        shown = "; ".join(
            f"{e.stat} = {_num(e.observed)} {'✓' if e.holds else '✗' if e.holds is False else '?'}" for e in pv.expect
        )
        detail = shown if pv.outcome in ("pass", "fail") else (pv.reason or "")
        run_label = "across runs" if run == ACROSS_RUNS else run
        rows.append(
            f'<tr><td class="mono">{escape(run_label)}</td><td class="{pv.outcome}">{pv.outcome}</td>'
            f"<td>{escape(detail)}</td><td>{'' if pv.n is None else pv.n}</td></tr>"
        )
    if not rows:
        return '<p class="muted">Not evaluated yet.</p>'
    return "<table><tr><th>run</th><th>outcome</th><th>observed</th><th>n</th></tr>" + "".join(rows) + "</table>"


def prediction_section(d: ClaimData, index: int, prediction: Prediction, runs: dict[str, Run]) -> str:
    judged = _judged(d, prediction.id)
    expect = "".join(f"<li><code>{escape(e.stat)} {escape(e.op)} {escape(str(e.value))}</code></li>" for e in prediction.expect)
    out = [
        f'<h2 id="p-{escape(prediction.id)}">{escape(prediction.id)}</h2>',
        f'<p class="muted">{escape(prediction.level)} · <code>{escape(prediction.evaluator)}</code> · '
        f"min_samples {prediction.min_samples}{' · across runs' if prediction.across == 'runs' else ''}</p>",
        f"<p>params <code>{escape(json.dumps(prediction.params, sort_keys=True))}</code></p><p>expect</p><ul>{expect}</ul>",
        _observed(judged),
    ]
    figure = prediction_figure(prediction, judged, runs)
    if figure is not None:
        out += [f'<p class="notes">{escape(n)}</p>' for n in figure.get("notes", [])]
        if figure.get("data"):
            out.append(figure_block(f"fig-{index}", figure))
    return "\n".join(out)


def timeline_section(d: ClaimData) -> str:
    out = ["<h2>Verdict timeline</h2>"]
    if d.history_note:
        out.append(f'<p class="muted">{escape(d.history_note)}</p>')
    if not d.history:
        out.append('<p class="muted">No committed verdicts.</p>')
        return "\n".join(out)
    figure = timeline_figure(d.history)
    if figure is not None:
        out.append(figure_block("timeline", figure))
    rows = []
    for e in d.history:
        before = e.before.outcome if e.before else "—"
        after = e.after.outcome if e.after else "—"
        rows.append(
            f'<tr><td class="mono">{e.commit.short}</td><td>{e.commit.day}</td><td class="mono">{escape(e.run)}</td>'
            f'<td class="{after}">{before} → {after}</td><td>{escape("; ".join(e.changes))}</td>'
            f"<td>{escape(e.commit.subject)}</td></tr>"
        )
    out.append(
        "<table><tr><th>commit</th><th>date</th><th>run</th><th>outcome</th><th>what changed</th><th>subject</th></tr>"
        + "".join(rows)
        + "</table>"
    )
    return "\n".join(out)


def claim_page(d: ClaimData, runs: dict[str, Run]) -> str:
    parts = [claim_header(d), verdict_table(d)]
    parts += [prediction_section(d, i, p, runs) for i, p in enumerate(d.claim.claim.predictions)]
    parts.append(timeline_section(d))
    return _page(d.claim.id, "\n".join(parts), 1)
