"""The plot of each prediction's evidence, as plotly figure data (plain dicts, rendered in the browser):
loss-level curves (curves.py), activation statistics across checkpoints, text rates per checkpoint with
their intervals, cross-run statistics per run by group; and the verdict timeline from git."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from registry.report.curves import COLOURS, loss_figure

if TYPE_CHECKING:
    from registry.integrity.history import HistoryEntry
    from registry.language.schema import Prediction
    from registry.runs.run import Run
    from registry.verdicts.model import PredictionVerdict

OUTCOME_COLOURS = {"pass": "#2ea043", "fail": "#d62728", "inconclusive": "#d4a72c", "error": "#8250df"}
_LAYOUT = {"legend": {"orientation": "h", "y": 1.15}, "margin": {"t": 50, "r": 10, "l": 60, "b": 40}, "height": 340}


def _num(v: object) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return round(float(v), 6)


def prediction_figure(
    prediction: Prediction, judged: list[tuple[str, PredictionVerdict]], runs: dict[str, Run]
) -> dict[str, Any] | None:
    """The figure for one prediction over the runs that judged it, or None when its evidence has nothing to plot."""
    if not judged:
        return None
    evidence = judged[0][1].evidence
    if prediction.across == "runs":
        return across_figure(judged[0][1])
    if prediction.level == "loss":
        return loss_figure(prediction, judged, runs)
    if isinstance(evidence.get("steps"), list):
        return checkpoints_figure(judged)
    if isinstance(evidence.get("per_step"), list):
        return text_figure(judged)
    return None


def checkpoints_figure(judged: list[tuple[str, PredictionVerdict]]) -> dict[str, Any] | None:
    """Activation level: each list in the evidence as long as `steps`, across checkpoints, one line per run."""
    data = []
    for i, (run_id, pv) in enumerate(judged):
        steps = pv.evidence.get("steps")
        if not isinstance(steps, list):
            continue
        for key, values in sorted(pv.evidence.items()):
            if (
                key != "steps"
                and isinstance(values, list)
                and len(values) == len(steps)
                and any(_num(v) is not None for v in values)
            ):
                data.append(
                    {
                        "type": "scatter",
                        "mode": "lines+markers",
                        "name": f"{run_id}: {key}",
                        "x": steps,
                        "y": [_num(v) for v in values],
                        "line": {"color": COLOURS[i % len(COLOURS)]},
                    }
                )
    if not data:
        return None
    return {"data": data, "layout": {**_LAYOUT, "xaxis": {"title": {"text": "checkpoint step"}, "type": "log"}}}


def text_figure(judged: list[tuple[str, PredictionVerdict]]) -> dict[str, Any] | None:
    """Text level: each rate per checkpoint, with its interval where the evidence gives one (`<rate>_low/_high`)."""
    data = []
    for i, (run_id, pv) in enumerate(judged):
        rows = [r for r in pv.evidence.get("per_step", []) if isinstance(r, dict) and "step" in r]
        keys = sorted({k for r in rows for k, v in r.items() if k != "step" and _num(v) is not None})
        for key in [k for k in keys if not k.endswith(("_low", "_high"))]:
            trace: dict[str, Any] = {
                "type": "scatter",
                "mode": "lines+markers",
                "name": f"{run_id}: {key}",
                "x": [r["step"] for r in rows],
                "y": [_num(r.get(key)) for r in rows],
                "line": {"color": COLOURS[i % len(COLOURS)]},
            }
            if f"{key}_low" in keys and f"{key}_high" in keys:
                trace["error_y"] = {
                    "type": "data",
                    "symmetric": False,
                    "array": [_gap(r.get(f"{key}_high"), r.get(key)) for r in rows],
                    "arrayminus": [_gap(r.get(key), r.get(f"{key}_low")) for r in rows],
                }
            data.append(trace)
    if not data:
        return None
    return {"data": data, "layout": {**_LAYOUT, "xaxis": {"title": {"text": "checkpoint step"}}}}


def _gap(a: object, b: object) -> float | None:
    x, y = _num(a), _num(b)
    return None if x is None or y is None else round(x - y, 6)


def across_figure(pv: PredictionVerdict) -> dict[str, Any] | None:
    """Across runs: the per-run statistic by group (bars), or each run's event steps (a raster)."""
    group_of = {run: g for g, members in (pv.groups or {}).items() for run in members}
    per_run = pv.evidence.get("per_run")
    if isinstance(per_run, dict) and per_run:
        data = []
        for j, group in enumerate(sorted(set(group_of.values())) or ["runs"]):
            members = [r for r in sorted(per_run) if group_of.get(r, "runs") == group]
            data.append(
                {
                    "type": "bar",
                    "name": group,
                    "x": members,
                    "y": [_num(per_run[r]) for r in members],
                    "marker": {"color": COLOURS[j % len(COLOURS)]},
                }
            )
        return {"data": data, "layout": {**_LAYOUT, "yaxis": {"title": {"text": "per-run statistic"}}}}
    events = pv.evidence.get("events")
    if isinstance(events, dict) and events:
        data = [
            {
                "type": "scattergl" if len(steps) > 5000 else "scatter",
                "mode": "markers",
                "name": run,
                "meta": "events",
                "x": steps,
                "y": [run] * len(steps),
                "marker": {"symbol": "line-ns-open", "size": 10},
            }
            for run, steps in sorted(events.items())
            if isinstance(steps, list)
        ]
        return {"data": data, "layout": {**_LAYOUT, "xaxis": {"title": {"text": "step"}}, "showlegend": False}}
    return None


def timeline_figure(entries: list[HistoryEntry]) -> dict[str, Any] | None:
    """The verdict of each run at each commit that changed it: the judged statistic, coloured by outcome."""
    by_run: dict[str, list[HistoryEntry]] = {}
    for e in entries:
        if e.after is not None:
            by_run.setdefault(e.run, []).append(e)
    data = []
    for run, items in sorted(by_run.items()):
        items = sorted(items, key=lambda e: e.commit.time)
        ys = [_first_stat(e) for e in items]
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": run,
                "x": [e.commit.iso for e in items],
                "y": [y if y is not None else 0 for y in ys],
                "text": [f"{e.commit.short} {e.commit.subject}<br>{e.after.outcome if e.after else ''}" for e in items],
                "hovertemplate": "%{text}<br>%{y}<extra>" + run + "</extra>",
                "marker": {"size": 10, "color": [OUTCOME_COLOURS.get(e.after.outcome if e.after else "", "#888") for e in items]},
            }
        )
    if not data:
        return None
    return {"data": data, "layout": {**_LAYOUT, "yaxis": {"title": {"text": "judged statistic"}}, "xaxis": {"type": "date"}}}


def _first_stat(e: HistoryEntry) -> float | None:
    for p in e.after.predictions.values() if e.after else []:
        for v in p.observed.values():
            if _num(v) is not None:
                return _num(v)
    return None
