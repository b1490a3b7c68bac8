"""Loss-level evidence: the curve(s) a prediction judged, its detected events marked, the judged step
window shaded, thresholds drawn, and lead/lag windows around the target events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from registry.errors import RegistryError
from registry.report.downsample import downsample

if TYPE_CHECKING:
    from registry.language.schema import Prediction
    from registry.runs.run import Run
    from registry.verdicts.model import PredictionVerdict

# Evidence keys that list the steps of detected events on the judged column, and on the signal column.
TARGET_EVENTS = ("event_steps", "target_onsets", "nonfinite_steps")
SIGNAL_EVENTS = ("signal_onsets",)
# Lead/lag windows drawn around at most this many events (each is a shape in the page).
MAX_WINDOWS = 200
# Curves drawn per figure: at sweep scale a claim judges hundreds of runs; the failing ones come first.
MAX_RUNS = 12
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#7f7f7f", "#bcbd22")


def _target(params: dict[str, Any]) -> dict[str, Any]:
    """The spec of the judged series: `target:` (events.*) or the params themselves (loss.spikes, metric.*)."""
    target = params.get("target")
    return target if isinstance(target, dict) else params


def columns_of(params: dict[str, Any]) -> tuple[str | None, str | None, str]:
    """(judged column, signal column, artifact) named by a prediction's params."""
    target = _target(params)
    signal = params.get("signal") if isinstance(params.get("signal"), dict) else None
    column = target.get("column", "loss" if "tensor" not in target else None)
    artifact = str(target.get("artifact", params.get("artifact", "metrics")))
    return column, (signal or {}).get("column"), artifact


def _series(run: Run, artifact: str, column: str) -> tuple[np.ndarray, np.ndarray]:
    table = run.metrics(artifact)
    return np.asarray(table.steps), np.asarray(table.column(column), dtype=np.float64)


def _events(evidence: dict[str, Any], keys: Sequence[str]) -> list[int]:
    out: list[int] = []
    for key in keys:
        value = evidence.get(key)
        if isinstance(value, list):
            out += [int(s) for s in value if isinstance(s, int | float)]
    return sorted(set(out))


def _trace(x: np.ndarray, y: np.ndarray, name: str, colour: str, axis: str = "y") -> dict[str, Any]:
    return {
        "type": "scattergl" if x.size > 20_000 else "scatter",
        "mode": "lines",
        "name": name,
        "yaxis": axis,
        "x": x.tolist(),
        "y": [round(float(v), 6) for v in y],
        "line": {"width": 1, "color": colour},
    }


def _markers(x: np.ndarray, y: np.ndarray, steps: list[int], name: str, colour: str, axis: str = "y") -> dict[str, Any] | None:
    if not steps:
        return None
    at = np.searchsorted(x, steps).clip(0, max(x.size - 1, 0))
    ys = [round(float(y[i]), 6) if x.size and np.isfinite(y[i]) else None for i in at]
    return {
        "type": "scatter",
        "mode": "markers",
        "name": name,
        "yaxis": axis,
        "x": steps,
        "y": ys,
        "meta": "events",
        "marker": {"symbol": "x", "size": 9, "color": colour, "line": {"width": 2, "color": colour}},
    }


def _window(params: dict[str, Any], evidence: dict[str, Any], ends: tuple[float, float]) -> tuple[float, float] | None:
    """The judged steps; an open end (null) is the curve's own end."""
    steps = _target(params).get("steps") or evidence.get("step_range")
    if isinstance(steps, list) and len(steps) == 2 and any(s is not None for s in steps):
        return (ends[0] if steps[0] is None else steps[0]), (ends[1] if steps[1] is None else steps[1])
    return None


def _shapes(
    params: dict[str, Any], evidence: dict[str, Any], expect: list[tuple[str, float]], ends: tuple[float, float]
) -> list[dict[str, Any]]:
    shapes: list[dict[str, Any]] = []
    window = _window(params, evidence, ends)
    if window is not None:
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "paper",
                "y0": 0,
                "y1": 1,
                "x0": window[0],
                "x1": window[1],
                "fillcolor": "rgba(46,160,67,0.08)",
                "line": {"width": 0},
                "layer": "below",
                "name": "judged window",
            }
        )
    within = params.get("within")
    if isinstance(within, list) and len(within) == 2:
        for step in _events(evidence, ("target_onsets",))[:MAX_WINDOWS]:
            shapes.append(
                {
                    "type": "rect",
                    "xref": "x",
                    "yref": "paper",
                    "y0": 0,
                    "y1": 1,
                    "x0": step + within[0],
                    "x1": step + within[1],
                    "fillcolor": "rgba(214,39,40,0.12)",
                    "line": {"width": 0},
                    "layer": "below",
                    "name": "lead window",
                }
            )
    for label, value in expect:
        shapes.append(
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "yref": "y",
                "y0": value,
                "y1": value,
                "line": {"dash": "dash", "width": 1, "color": "#d62728"},
                "name": label,
            }
        )
    return shapes


def thresholds(prediction: Prediction) -> list[tuple[str, float]]:
    """Horizontal lines in the curve's own units: expect lines on `value`, and a `threshold` detector's level."""
    out = [(f"{e.stat} {e.op} {e.value}", float(e.value)) for e in prediction.expect if e.stat == "value" and _is_num(e.value)]
    target = _target(prediction.params)
    if target.get("detector") == "threshold" and _is_num(target.get("threshold")):
        out.append((f"detector threshold {target['threshold']}", float(target["threshold"])))
    return out


def _is_num(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def loss_figure(
    prediction: Prediction, judged: list[tuple[str, PredictionVerdict]], runs: dict[str, Run]
) -> dict[str, Any] | None:
    """One figure: each run's curve, its events, the window, the thresholds (None when no curve can be read)."""
    column, signal, artifact = columns_of(prediction.params)
    if column is None:
        return None
    data: list[dict[str, Any]] = []
    notes: list[str] = []
    shapes: list[dict[str, Any]] = []
    order = {"fail": 0, "error": 1, "pass": 2, "inconclusive": 3}
    judged = sorted(judged, key=lambda j: (order.get(j[1].outcome, 4), j[0]))
    if len(judged) > MAX_RUNS:
        notes.append(f"{len(judged) - MAX_RUNS} more run(s) not drawn (failing runs first); see the table above")
        judged = judged[:MAX_RUNS]
    for i, (run_id, pv) in enumerate(judged):
        run = runs.get(run_id)
        if run is None:
            continue
        colour = COLOURS[i % len(COLOURS)]
        try:
            data += _run_traces(run, artifact, column, signal, pv.evidence, colour)
        except (RegistryError, OSError, ValueError) as exc:
            notes.append(f"{run_id}: curve not shown ({exc})")
            continue
        if not shapes:
            ends = (min(t["x"][0] for t in data if t["x"]), max(t["x"][-1] for t in data if t["x"]))
            shapes = _shapes(prediction.params, pv.evidence, thresholds(prediction), ends)
    if not data:
        return {"notes": notes} if notes else None
    layout: dict[str, Any] = {
        "xaxis": {"title": {"text": "step"}},
        "yaxis": {"title": {"text": column}},
        "shapes": shapes,
        "legend": {"orientation": "h", "y": 1.15},
        "margin": {"t": 50, "r": 60 if signal else 10, "l": 60, "b": 40},
        "height": 380,
    }
    if signal:
        layout["yaxis2"] = {"title": {"text": signal}, "overlaying": "y", "side": "right", "showgrid": False}
    return {"data": data, "layout": layout, "notes": notes}


def _run_traces(
    run: Run, artifact: str, column: str, signal: str | None, evidence: dict[str, Any], colour: str
) -> list[dict[str, Any]]:
    x, y = _series(run, artifact, column)
    events = _events(evidence, TARGET_EVENTS)
    dx, dy = downsample(x, y, keep=events)
    out = [_trace(dx, dy, f"{run.id}: {column}", colour)]
    marks = _markers(x, y, events, f"{run.id}: events", "#d62728")
    out += [marks] if marks else []
    if signal:
        sx, sy = _series(run, artifact, signal)
        s_events = _events(evidence, SIGNAL_EVENTS)
        dsx, dsy = downsample(sx, sy, keep=s_events)
        out.append(_trace(dsx, dsy, f"{run.id}: {signal}", "#999999", "y2"))
        s_marks = _markers(sx, sy, s_events, f"{run.id}: {signal} events", "#ff7f0e", "y2")
        out += [s_marks] if s_marks else []
    return out
