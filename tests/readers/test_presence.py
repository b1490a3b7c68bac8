"""Per-column presence: a metric column is the series of the rows where it was written.

One training log -- a loss with injected spikes, a grad norm that surges 2 steps before some of them,
and a validation loss written every 7 training rows at steps of its own -- is written in the shapes
real tools write: plain CSV, Parquet and JSONL with empty cells, Lightning's CSVLogger (a validation
row every k training rows), a Hugging Face trainer_state.json with eval entries, a W&B UI export of
several runs (`Step`, `<run> - <metric>`, `__MIN/__MAX`), TensorBoard with train and val tags, and an
MLflow file store. On every one, `loss.spikes` and `events.precedes` give exactly the counts of an
independent reference implementation run on the loss-only series, and `n` counts written rows.
Before presence, every validation step was a NaN loss row that blocked detection for 50 rows.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from registry import EvaluatorRegistry
from registry.runs.run import load_run

N = 600  # training rows, at steps 0, 10, 20, ...
SPIKE_ROWS = (80, 81, 150, 230, 231, 232, 310, 400, 480, 555)
SURGE_BEFORE = (80, 230, 400, 480)  # grad norm surges 2 rows (20 steps) before these spikes
VAL_EVERY = 7


def training_log() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train steps, loss, grad norm, val steps, val loss)."""
    rng = np.random.default_rng(11)
    rows = np.arange(N)
    steps = rows * 10
    loss = 2 + 3 / np.sqrt(1 + rows / 50) + rng.normal(0, 0.01, N)
    loss[list(SPIKE_ROWS)] *= 1.6
    grad = 1 + rng.normal(0, 0.02, N)
    grad[[r - 2 for r in SURGE_BEFORE]] *= 5
    val_steps = steps[VAL_EVERY - 1 :: VAL_EVERY] + 5  # between two training steps
    val_loss = 2 + 3 / np.sqrt(1 + val_steps / 500)
    return steps, np.round(loss, 6), np.round(grad, 6), val_steps, np.round(val_loss, 6)


def reference_onsets(values: list[float], window: int = 50, z: float = 8.0, min_ratio: float = 1.15) -> list[int]:
    """The spike rule on a plain list, row by row: rows where an event starts."""
    flagged = []
    for t, x in enumerate(values):
        before = values[t - window : t]
        if t < window:
            flagged.append(False)
            continue
        m = statistics.median(before)
        mad = statistics.median([abs(v - m) for v in before])
        rz = (math.inf if x > m else 0.0) if mad == 0 else (x - m) / (1.4826 * mad)
        flagged.append(rz > z and x / m > min_ratio)
    return [t for t, f in enumerate(flagged) if f and (t == 0 or not flagged[t - 1])]


def reference() -> dict[str, Any]:
    steps, loss, grad, _, _ = training_log()
    spikes = reference_onsets(loss.tolist())
    surges = reference_onsets(grad.tolist(), z=6.0)
    spike_steps = [int(steps[r]) for r in spikes]
    surge_steps = [int(steps[r]) for r in surges]
    preceded = [s for s in spike_steps if any(s - 50 <= g <= s for g in surge_steps)]
    return {"count": len(spikes), "n": N - 50, "targets": len(spike_steps), "preceded": len(preceded)}


# --- the log in each shape ------------------------------------------------------------------------


def _rows() -> list[tuple[int, str, float]]:
    """(step, metric, value) in the order a training loop logs them."""
    steps, loss, grad, val_steps, val_loss = training_log()
    out: list[tuple[int, str, float]] = []
    vi = 0
    for s, lo, g in zip(steps.tolist(), loss.tolist(), grad.tolist(), strict=True):
        out += [(s, "loss", lo), (s, "grad_norm", g)]
        if vi < val_steps.size and val_steps[vi] < s + 10:
            out.append((int(val_steps[vi]), "val_loss", float(val_loss[vi])))
            vi += 1
    return out


def _by_step() -> list[tuple[int, dict[str, float]]]:
    merged: dict[int, dict[str, float]] = {}
    for s, k, v in _rows():
        merged.setdefault(s, {})[k] = v
    return sorted(merged.items())


def write_csv(folder: Path, header: list[str], rows: list[list[Any]], name: str = "metrics.csv") -> str:
    lines = [",".join(header)] + [",".join("" if c is None else str(c) for c in r) for r in rows]
    (folder / name).write_text("\n".join(lines) + "\n")
    return name


def shape_csv(folder: Path) -> dict[str, Any]:
    rows = [[s, m.get("loss"), m.get("grad_norm"), m.get("val_loss")] for s, m in _by_step()]
    return {"path": write_csv(folder, ["step", "loss", "grad_norm", "val_loss"], rows)}


def shape_parquet(folder: Path) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = _by_step()
    table = {"step": [s for s, _ in rows]} | {k: [m.get(k) for _, m in rows] for k in ("loss", "grad_norm", "val_loss")}
    pq.write_table(pa.table(table), folder / "metrics.parquet")
    return {"path": "metrics.parquet"}


def shape_jsonl(folder: Path) -> dict[str, Any]:
    (folder / "metrics.jsonl").write_text("".join(json.dumps({"step": s, **m}) + "\n" for s, m in _by_step()))
    return {"path": "metrics.jsonl", "kind": "metrics"}


def shape_lightning(folder: Path) -> dict[str, Any]:
    """CSVLogger: one row per log call; a validation row (val_loss, epoch) every k training rows."""
    rows: list[list[Any]] = []
    for s, k, v in _rows():
        if k == "loss":
            rows.append([s, 0, v, None, None])
        elif k == "grad_norm":
            rows[-1][3] = v
        else:
            rows.append([s, 0, None, None, v])
    (folder / "lightning_logs" / "version_0").mkdir(parents=True)
    write_csv(folder / "lightning_logs" / "version_0", ["step", "epoch", "train_loss", "grad_norm", "val_loss"], rows)
    return {"path": "lightning_logs/version_0/metrics.csv", "format": "lightning", "columns": {"loss": "train_loss"}}


def shape_hf(folder: Path) -> dict[str, Any]:
    history: list[dict[str, Any]] = []
    for s, k, v in _rows():
        if k == "loss":
            history.append({"epoch": 0.1, "loss": v, "learning_rate": 1e-4, "step": s})
        elif k == "grad_norm":
            history[-1]["grad_norm"] = v
        else:
            history.append({"epoch": 0.1, "eval_loss": v, "eval_runtime": 2.0, "step": s})
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": N * 10, "log_history": history}))
    return {"path": "trainer_state.json"}


def shape_wandb(folder: Path) -> dict[str, Any]:
    """A UI export of two runs: run b logged at steps of its own, so run a's cells are empty there."""
    rows = []
    for s, m in _by_step():
        rows.append([s, m.get("loss"), m.get("loss"), m.get("loss"), m.get("grad_norm"), None])
        rows.append([s + 3, None, None, None, None, 1.0])  # run b
    header = ["Step", "a - train/loss", "a - train/loss__MIN", "a - train/loss__MAX", "a - grad_norm", "b - train/loss"]
    write_csv(folder, header, rows, "wandb_export.csv")
    return {"path": "wandb_export.csv", "format": "wandb", "run": "a", "columns": {"loss": "train/loss"}}


def shape_tensorboard(folder: Path) -> dict[str, Any]:
    pytest.importorskip("tensorboard")
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter

    names = {"loss": "train/loss", "grad_norm": "train/grad_norm", "val_loss": "val/loss"}
    (folder / "logs").mkdir()
    with (folder / "logs" / "events.out.tfevents.1700000000.host.1.0").open("wb") as fh:
        writer = RecordWriter(fh)
        writer.write(event_pb2.Event(wall_time=1.7e9, file_version="brain.Event:2").SerializeToString())
        for s, k, v in _rows():
            value = summary_pb2.Summary.Value(tag=names[k], simple_value=v)
            ev = event_pb2.Event(step=s, wall_time=1.7e9 + s, summary=summary_pb2.Summary(value=[value]))
            writer.write(ev.SerializeToString())
    return {"path": "logs", "format": "tensorboard", "columns": {"loss": "train/loss", "grad_norm": "train/grad_norm"}}


def shape_mlflow(folder: Path) -> dict[str, Any]:
    run = folder / "mlruns" / "0" / "a1b2c3d4e5f6"
    (run / "metrics").mkdir(parents=True)
    (run / "meta.yaml").write_text("run_id: a1b2c3d4e5f6\nrun_name: r\nexperiment_id: '0'\n")
    lines: dict[str, list[str]] = {}
    for s, k, v in _rows():
        lines.setdefault(k, []).append(f"1700000000000 {v!r} {s}")
    for k, text in lines.items():
        (run / "metrics" / k).write_text("\n".join(text) + "\n")
    return {"path": "mlruns", "format": "mlflow"}


SHAPES = {
    "csv": shape_csv,
    "parquet": shape_parquet,
    "jsonl": shape_jsonl,
    "lightning": shape_lightning,
    "hf_trainer_state": shape_hf,
    "wandb": shape_wandb,
    "tensorboard": shape_tensorboard,
    "mlflow": shape_mlflow,
}


@pytest.fixture(scope="module")
def evaluators() -> EvaluatorRegistry:
    return EvaluatorRegistry()


def _run(tmp_path: Path, shape: str):
    folder = tmp_path / shape
    folder.mkdir()
    spec = SHAPES[shape](folder)
    (folder / "run.yaml").write_text(yaml.safe_dump({"id": "r", "artifacts": {"metrics": spec}}))
    return load_run(folder / "run.yaml")


def _measure(evaluators: EvaluatorRegistry, name: str, params: dict[str, Any], run: Any) -> Any:
    ev = evaluators.get(name)
    return ev.evaluate(ev.Params.model_validate(params), run)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_spikes_and_precedes_match_the_reference_on_the_loss_only_series(tmp_path, evaluators, shape):
    run = _run(tmp_path, shape)
    ref = reference()
    assert ref["count"] == 7 and ref["preceded"] == 4  # the fixture is what it says: 7 spike events, 4 led by a surge

    spikes = _measure(evaluators, "loss.spikes", {"column": "loss"}, run)
    assert spikes.statistics["count"] == ref["count"]
    assert spikes.statistics["nonfinite"] == 0  # nothing was logged as NaN
    assert spikes.n == ref["n"]

    precedes = _measure(
        evaluators,
        "events.precedes",
        {
            "target": {"column": "loss", "detector": "robust_z"},
            "signal": {"column": "grad_norm", "detector": "robust_z", "z": 6},
            "within": [-50, 0],
            "permutations": 20,
        },
        run,
    )
    assert precedes.statistics["target_events"] == ref["targets"]
    assert round(precedes.statistics["fraction"] * ref["targets"]) == ref["preceded"]


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_n_counts_the_written_rows(tmp_path, evaluators, shape):
    run = _run(tmp_path, shape)
    threshold = _measure(evaluators, "metric.threshold", {"column": "loss", "reduce": "mean"}, run)
    assert threshold.n == N and threshold.statistics["missing"] == 0
    steps, values = run.metrics("metrics").series("loss")
    assert steps.size == N and np.isfinite(values).all()
