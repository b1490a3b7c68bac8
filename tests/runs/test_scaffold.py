"""`registry runs add PATH`: each training-output format scaffolded from a fixture; the run.yaml written
validates, lists its columns, and a claim evaluates on it. `registry runs` lists runs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import Project, invoke, write_tensors

CLAIM = """\
id: final-{column_id}-below-10
title: The final loss is below 10
statement: The last loss is below 10.
falsified_if: It is 10 or more.
applies_to: {{runs: ["{run}"]}}
predictions:
  - id: final
    level: loss
    evaluator: metric.threshold
    params: {{column: "{column}", reduce: last}}
    expect:
      - {{stat: value, op: "<", value: 10}}
"""
LOSS = [3.0, 2.5, 2.0, 1.8, 1.7]


def tensorboard(root: Path) -> Path:
    pytest.importorskip("tensorboard")
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter

    folder = root / "tb-run"
    (folder / "logs" / "train").mkdir(parents=True)
    with (folder / "logs" / "train" / "events.out.tfevents.1700000000.host.1.0").open("wb") as fh:
        writer = RecordWriter(fh)
        writer.write(event_pb2.Event(wall_time=1.7e9, file_version="brain.Event:2").SerializeToString())
        for step, loss in enumerate(LOSS):
            value = summary_pb2.Summary.Value(tag="loss", simple_value=loss)
            writer.write(
                event_pb2.Event(step=step, wall_time=1.7e9, summary=summary_pb2.Summary(value=[value])).SerializeToString()
            )
    return folder


def hf(root: Path) -> Path:
    folder = root / "hf-run"
    for ckpt in (2, 4):
        history = [{"step": s, "loss": LOSS[s], "epoch": s / 4} for s in range(ckpt + 1)]
        (folder / f"checkpoint-{ckpt}").mkdir(parents=True)
        (folder / f"checkpoint-{ckpt}" / "trainer_state.json").write_text(json.dumps({"log_history": history}))
    return folder


def lightning(root: Path) -> Path:
    logs = root / "lightning_logs"
    for v in (0, 1):
        version = logs / f"version_{v}"
        version.mkdir(parents=True)
        (version / "hparams.yaml").write_text("lr: 0.001\n")
        rows = "\n".join(f"{s},0,{loss}" for s, loss in enumerate(LOSS))
        (version / "metrics.csv").write_text("step,epoch,train_loss\n" + rows + "\n")
    return logs


def wandb(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    head = "Step,glorious-sun-12 - train/loss,glorious-sun-12 - train/loss__MIN,bright-owl-3 - train/loss"
    rows = [f"{s},{loss},{loss - 0.1},{loss + 1}" for s, loss in enumerate(LOSS)]
    (root / "wandb_export.csv").write_text("\n".join([head, *rows]) + "\n")
    return root / "wandb_export.csv"


def mlflow(root: Path) -> Path:
    store = root / "mlruns"
    for run_id, name in (("3f2a9c0d1e8b4c6f", "bright-owl-42"), ("77aa00bb11cc22dd", "calm-fox-7")):
        run = store / "0" / run_id
        (run / "metrics").mkdir(parents=True)
        (run / "meta.yaml").write_text(f"run_id: {run_id}\nrun_name: {name}\n")
        (run / "metrics" / "loss").write_text("".join(f"1700000000 {loss} {s}\n" for s, loss in enumerate(LOSS)))
    return store


def tables(root: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = root / "plain-run"
    folder.mkdir(parents=True)
    (folder / "metrics.csv").write_text("step,loss\n" + "\n".join(f"{s},{loss}" for s, loss in enumerate(LOSS)) + "\n")
    pq.write_table(pa.table({"step": list(range(5)), "val_loss": LOSS}), folder / "val.parquet")
    (folder / "grads.jsonl").write_text("".join(json.dumps({"step": s, "grad_norm": 1.0}) + "\n" for s in range(5)))
    (folder / "samples.jsonl").write_text("".join(json.dumps({"text": "hello", "step": s}) + "\n" for s in (0, 4)))
    for step in (0, 4):
        write_tensors(folder / "acts" / f"step_{step:06d}.npz", {"resid": ("F32", np.ones((2, 3)))})
    return folder


# (maker, what to pass to `runs add`, expected run.yaml paths relative to the source root, loss column)
CASES: dict[str, tuple[Callable[[Path], Path], list[str], str]] = {
    "tensorboard": (tensorboard, ["tb-run/run.yaml"], "train/loss"),
    "hf": (hf, ["hf-run/run.yaml"], "loss"),
    "lightning": (lightning, ["lightning_logs/version_0/run.yaml", "lightning_logs/version_1/run.yaml"], "train_loss"),
    "wandb": (wandb, ["bright-owl-3/run.yaml", "glorious-sun-12/run.yaml"], "train/loss"),
    "mlflow": (mlflow, ["mlruns/0/3f2a9c0d1e8b4c6f/run.yaml", "mlruns/0/77aa00bb11cc22dd/run.yaml"], "loss"),
    "tables": (tables, ["plain-run/run.yaml"], "loss"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_runs_add_scaffolds_a_run_that_validates_and_evaluates(project: Project, name: str) -> None:
    maker, manifests, column = CASES[name]
    source = maker(project.runs)
    result = invoke("runs", "add", str(source.relative_to(project.root)), "--tag", "scaffolded")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [f"wrote runs/{m}" for m in manifests]
    for m in manifests:
        manifest = yaml.safe_load((project.runs / m).read_text())
        assert manifest["tags"] == ["scaffolded"]
        for spec in manifest["artifacts"].values():
            assert not Path(spec["path"]).is_absolute() and ".." not in spec["path"]  # never out of the run
        assert "# columns: " in (project.runs / m).read_text()
        claim = CLAIM.format(column=column, column_id=column.replace("/", "-").replace("_", "-"), run=manifest["id"])
        (project.claims / f"final-{column.replace('/', '-').replace('_', '-')}-below-10.yaml").write_text(claim)
    assert invoke("validate").exit_code == 0
    result = invoke("evaluate")
    assert result.exit_code == 0, result.output
    assert "\tpass\t" in result.output and "inconclusive" not in result.output, result.output


def test_the_columns_are_listed_as_comments(project: Project) -> None:
    tables(project.runs)
    assert invoke("runs", "add", "runs/plain-run", "--id", "plain").exit_code == 0
    text = (project.runs / "plain-run" / "run.yaml").read_text()
    assert "id: plain\n" in text
    assert '  # columns: grad_norm, step\n  grads: {path: "grads.jsonl", kind: "metrics"}' in text
    assert '  samples: {path: "samples.jsonl", kind: "text"}' in text
    assert '  acts: {path: "acts", kind: "activations"}' in text


def test_the_wandb_extract_holds_only_its_runs_columns(project: Project) -> None:
    wandb(project.runs)
    invoke("runs", "add", "runs/wandb_export.csv")
    assert (project.runs / "bright-owl-3" / "wandb.csv").read_text().splitlines()[:2] == [
        "Step,bright-owl-3 - train/loss",
        "0,4.0",
    ]


def test_runs_add_refuses_an_existing_run_yaml(project: Project) -> None:
    hf(project.runs)
    assert invoke("runs", "add", "runs/hf-run").exit_code == 0
    result = invoke("runs", "add", "runs/hf-run")
    assert result.exit_code == 2
    assert result.output == "runs/hf-run/run.yaml: file already exists (hint: edit it, or remove it first)\n"


def test_runs_add_on_nothing_known(project: Project) -> None:
    (project.runs / "empty").mkdir()
    (project.runs / "empty" / "notes.txt").write_text("hi")
    result = invoke("runs", "add", "runs/empty")
    assert result.exit_code == 2
    assert result.output.startswith("runs/empty: found no training output here (hint: expected TensorBoard events")


def test_runs_add_id_with_several_runs_is_refused(project: Project) -> None:
    mlflow(project.runs)
    result = invoke("runs", "add", "runs/mlruns", "--id", "x")
    assert result.exit_code == 2
    assert result.output == "--id names one run, and runs/mlruns holds 2 (hint: leave --id out: each run is named)\n"


def test_runs_lists_runs_with_tags_artifacts_and_steps_filtered(project: Project) -> None:
    project.add_run("runs/basic")
    hf(project.runs)
    invoke("runs", "add", "runs/hf-run", "--tag", "hf")
    result = invoke("runs")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "basic\ttransformer, fixture\tactivations (activations), metrics (metrics), samples (text), val (metrics)\t0–290",
        "hf-run\thf\tmetrics (metrics)\t0–4",
    ]
    assert invoke("runs", "--tag", "hf").output.splitlines()[0].startswith("hf-run\t")
    assert invoke("runs", "--match", "ba*").output.splitlines()[0].startswith("basic\t")
