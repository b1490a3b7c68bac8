"""Readers for the metric logs researchers have: TensorBoard, MLflow, HF trainer_state, Lightning, W&B.

Every reader is driven end to end: a run folder with run.yaml -> registry.runs.run.load_run ->
run.metrics(name).steps / .column(...). Logs are generated here with the tools' own writers
(TensorBoard's RecordWriter / EventFileWriter and summary protos) or written as small text files.
"""

from __future__ import annotations

import json
import math
import sqlite3
import struct
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from registry.errors import ArtifactError, CannotMeasure, UserError
from registry.runs.run import load_run

pytest.importorskip("tensorboard")

from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2  # noqa: E402
from tensorboard.plugins.histogram import summary_v2 as histogram_v2  # noqa: E402
from tensorboard.plugins.scalar import summary_v2 as scalar_v2  # noqa: E402
from tensorboard.plugins.text import summary_v2 as text_v2  # noqa: E402
from tensorboard.summary.writer.event_file_writer import EventFileWriter  # noqa: E402
from tensorboard.summary.writer.record_writer import RecordWriter  # noqa: E402

NAN = float("nan")


def make_run(folder: Path, artifacts: dict[str, Any], run_id: str = "r1"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run.yaml").write_text(yaml.safe_dump({"id": run_id, "artifacts": artifacts}, sort_keys=False))
    return load_run(folder / "run.yaml")


def metrics(folder: Path, **spec: Any):
    return make_run(folder, {"metrics": spec}).metrics("metrics")


def same(a, b) -> bool:
    return np.array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float), equal_nan=True)


# ---------------------------------------------------------------------------------------------
# TensorBoard


def simple(tag: str, value: float) -> summary_pb2.Summary.Value:
    return summary_pb2.Summary.Value(tag=tag, simple_value=value)


def tensor_content(tag: str, value: float) -> summary_pb2.Summary.Value:
    proto = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_DOUBLE,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(),
        tensor_content=np.float64(value).tobytes(),
    )
    return summary_pb2.Summary.Value(tag=tag, tensor=proto)


def event(step: int, *values: summary_pb2.Summary.Value) -> event_pb2.Event:
    return event_pb2.Event(step=step, wall_time=1.7e9 + step, summary=summary_pb2.Summary(value=list(values)))


def write_events(path: Path, events: list[event_pb2.Event]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        writer = RecordWriter(fh)
        writer.write(event_pb2.Event(wall_time=1.7e9, file_version="brain.Event:2").SerializeToString())
        for ev in events:
            writer.write(ev.SerializeToString())
    return path


EV = "events.out.tfevents.1700000000.host.1.0"


def test_tensorboard_both_scalar_encodings_joined_on_step(tmp_path):
    run = tmp_path / "run"
    first_tf2 = scalar_v2.scalar_pb("eval/acc", 0.5)  # TF2 encoding: float tensor + scalars metadata
    later_tf2 = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="eval/acc", tensor=first_tf2.value[0].tensor)])
    later_tf2.value[0].tensor.float_val[0] = 0.75
    events = [event(s, simple("train/loss", 2.0 - s / 4)) for s in range(5)]
    events += [
        event_pb2.Event(step=0, summary=first_tf2),
        event_pb2.Event(step=4, summary=later_tf2),  # metadata only on the first write, as TF2 does
        event(2, tensor_content("lr", 3e-4)),
        event_pb2.Event(step=1, summary=histogram_v2.histogram_pb("weights", [1.0, 2.0, 3.0])),
        event_pb2.Event(step=1, summary=text_v2.text_pb("notes", "hello")),
    ]
    write_events(run / "tb" / EV, events)
    table = metrics(run, path=f"tb/{EV}", columns={"loss": "train/loss"})  # chosen by file name
    assert table.steps.tolist() == [0, 1, 2, 3, 4]
    assert sorted(table.available()) == ["eval/acc", "loss", "lr", "step", "train/loss"]
    assert same(table.column("loss"), [2.0, 1.75, 1.5, 1.25, 1.0])
    assert same(table.column("eval/acc"), [0.5, NAN, NAN, NAN, 0.75])
    assert same(table.column("lr"), [NAN, NAN, 3e-4, NAN, NAN])
    with pytest.raises(CannotMeasure, match="no column 'weights'"):
        table.column("weights")
    assert table.notes == ()


def test_tensorboard_log_dir_with_runs_and_restarts(tmp_path):
    run = tmp_path / "run"
    # Two files in one folder (a restart): file-name order is write order; the later value wins.
    write_events(run / "logs" / "events.out.tfevents.1700000000.host.1.0", [event(s, simple("loss", 1.0)) for s in (3, 1, 2)])
    write_events(run / "logs" / "events.out.tfevents.1700000500.host.2.0", [event(2, simple("loss", 9.0))])
    # Keras-style sub-folders are TensorBoard runs: their name prefixes the tag.
    write_events(run / "logs" / "train" / EV, [event(1, simple("epoch_loss", 0.5))])
    write_events(run / "logs" / "validation" / EV, [event(1, simple("epoch_loss", 0.75))])
    table = metrics(run, path="logs", format="tensorboard")
    assert table.steps.tolist() == [1, 2, 3]  # unsorted steps come out sorted
    assert same(table.column("loss"), [1.0, 9.0, 1.0])
    assert same(table.column("train/epoch_loss"), [0.5, NAN, NAN])
    assert same(table.column("validation/epoch_loss"), [0.75, NAN, NAN])


def test_tensorboard_with_tensorboards_own_event_file_writer(tmp_path):
    logdir = tmp_path / "run" / "logs"
    writer = EventFileWriter(str(logdir))
    for step in range(3):
        writer.add_event(event(step, simple("train/loss", float(step)), simple("train/grad_norm", NAN if step == 1 else 1.0)))
    writer.add_event(event(3, simple("train/loss", math.inf)))
    writer.close()
    table = metrics(tmp_path / "run", path="logs", format="tensorboard")
    assert table.steps.tolist() == [0, 1, 2, 3]
    assert same(table.column("train/loss"), [0.0, 1.0, 2.0, math.inf])  # written NaN / inf are kept
    assert same(table.column("train/grad_norm"), [1.0, NAN, 1.0, NAN])


def cut_file(tmp_path: Path, cut_bytes: int, zero_tail: bool = False) -> Path:
    path = write_events(tmp_path / "run" / EV, [event(s, simple("loss", float(s))) for s in range(4)])
    data = path.read_bytes()
    path.write_bytes(data[:-cut_bytes] + (b"\0" * 64 if zero_tail else b""))
    return path


def test_tensorboard_truncated_file_reads_the_intact_records_and_says_so(tmp_path):
    path = cut_file(tmp_path, 7)
    size = path.stat().st_size
    last = size + 7 - (16 + len(event(3, simple("loss", 3.0)).SerializeToString()))
    table = metrics(tmp_path / "run", path=EV)
    assert table.steps.tolist() == [0, 1, 2]
    (note,) = table.notes
    assert note.endswith(f"{EV}: file ends inside record 5 (byte {last} of {size}); read the 4 complete record(s) before it")


def test_tensorboard_zero_filled_tail_counts_as_truncated(tmp_path):
    cut_file(tmp_path, 7, zero_tail=True)
    table = metrics(tmp_path / "run", path=EV)
    assert table.steps.tolist() == [0, 1, 2]
    assert "file ends inside record 5" in table.notes[0]


def test_tensorboard_damaged_record_is_a_located_error(tmp_path):
    path = write_events(tmp_path / "run" / EV, [event(s, simple("loss", float(s))) for s in range(4)])
    data = bytearray(path.read_bytes())
    first = 16 + struct.unpack_from("<Q", data, 0)[0]  # byte offset of record 2
    second = first + 16 + struct.unpack_from("<Q", data, first)[0]
    data[second + 20] ^= 0xFF  # inside record 3's data
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError) as exc:
        metrics(tmp_path / "run", path=EV)
    assert exc.value.message == f"damaged event file: record 3 (byte {second}) fails its data checksum"
    data[second + 20] ^= 0xFF
    data[second] ^= 0x01  # record 3's length
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError) as exc:
        metrics(tmp_path / "run", path=EV)
    assert exc.value.message == f"damaged event file: record 3 (byte {second}) fails its length checksum"


def test_tensorboard_bad_inputs(tmp_path, monkeypatch):
    run = tmp_path / "run"
    (run / "notes").mkdir(parents=True)
    (run / "notes" / "events.out.tfevents.txt").write_text("hello, this is not an event file at all\n")
    with pytest.raises(ArtifactError) as exc:
        metrics(run, path="notes/events.out.tfevents.txt")
    assert exc.value.message == "not a TensorBoard event file (its first record header fails the TFRecord checksum)"

    (run / "empty").mkdir()
    with pytest.raises(ArtifactError) as exc:
        metrics(run, path="empty", format="tensorboard")
    assert exc.value.message == "no TensorBoard event files (events.out.tfevents.*) in this folder or below it"

    write_events(run / "tb" / EV, [event_pb2.Event(step=1, summary=histogram_v2.histogram_pb("weights", [1.0]))])
    with pytest.raises(ArtifactError) as exc:
        metrics(run, path="tb")  # a folder: the format is not guessed, but hinted
    assert exc.value.message == "is a folder: cannot tell the metrics format"
    assert exc.value.hint == "set `format: tensorboard`"

    table = metrics(run, path="tb", format="tensorboard")  # only a histogram: nothing to measure
    assert table.steps.tolist() == []
    with pytest.raises(CannotMeasure) as why:
        table.column("loss")
    assert why.value.reason.endswith("tb: no scalar values in the event file (only non-scalar summaries: weights)")

    (run / "zero").mkdir()
    (run / "zero" / EV).write_bytes(b"")
    with pytest.raises(CannotMeasure, match="no scalar values in the event file$"):
        metrics(run, path="zero", format="tensorboard").column("loss")

    monkeypatch.setitem(sys.modules, "tensorboard.compat.proto.event_pb2", None)
    with pytest.raises(ArtifactError) as exc:
        metrics(run, path=f"tb/{EV}")
    assert "needs the optional `tensorboard` package" in exc.value.message
    assert exc.value.hint == "pip install 'claims-registry[tensorboard]'"


# ---------------------------------------------------------------------------------------------
# MLflow


def mlflow_file_run(root: Path, exp: str, run_id: str, name: str, metrics_: dict[str, str]) -> Path:
    folder = root / exp / run_id
    (folder / "tags").mkdir(parents=True)
    (folder / "meta.yaml").write_text(f"run_id: {run_id}\nrun_name: {name}\nexperiment_id: '{exp}'\n")
    (folder / "tags" / "mlflow.runName").write_text(name)
    for key, text in metrics_.items():
        f = folder / "metrics" / key
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    (root / exp / "meta.yaml").write_text(f"experiment_id: '{exp}'\nname: exp{exp}\n")
    return folder


LOSS_LINES = "1700000000000 2.5 0\n1700000000100 2.25 1\n1700000000200 nan 2\n1700000000300 2.0 1\n"


@pytest.fixture
def mlruns(tmp_path):
    root = tmp_path / "run" / "mlruns"
    mlflow_file_run(root, "0", "a1b2c3d4e5f6", "bright-owl-42", {"train/loss": LOSS_LINES, "lr": "1700000000000 0.001 0\n"})
    mlflow_file_run(root, "0", "ffee00112233", "calm-fox-7", {"loss": "1700000000000 1.0 5\n"})
    mlflow_file_run(root, "1", "0123456789ab", "eager-ant-3", {"acc": "1700000000000 inf 3\n1 0.5\n"})
    (root / ".trash").mkdir()
    return root


def test_mlflow_file_store_picks_the_run_by_id_or_name(mlruns):
    run = mlruns.parent
    table = metrics(run, path="mlruns", format="mlflow", run="a1b2c3d4e5f6", columns={"loss": "train/loss"})
    assert table.steps.tolist() == [0, 1, 2]
    # Nested keys are sub-folders; step 1 was logged twice: the later line wins; a logged nan is kept.
    assert same(table.column("loss"), [2.5, 2.0, NAN])
    assert same(table.column("lr"), [0.001, NAN, NAN])
    by_name = metrics(run, path="mlruns", format="mlflow", run="eager-ant-3")
    assert by_name.steps.tolist() == [0, 3]  # a two-field line ('timestamp value') is step 0
    assert same(by_name.column("acc"), [0.5, math.inf])
    direct = metrics(run, path="mlruns/0/ffee00112233", format="mlflow")  # the run folder itself
    assert same(direct.column("loss"), [1.0])


def test_mlflow_file_store_bad_inputs(mlruns):
    run = mlruns.parent
    with pytest.raises(ArtifactError) as exc:
        metrics(run, path="mlruns", format="mlflow", run="a1b2c3d4e5f7")
    assert exc.value.message == "no run 'a1b2c3d4e5f7' in this MLflow store"
    assert exc.value.hint == (
        "did you mean 'a1b2c3d4e5f6'? runs present: a1b2c3d4e5f6 (bright-owl-42), ffee00112233 (calm-fox-7), "
        "0123456789ab (eager-ant-3)"
    )
    with pytest.raises(ArtifactError) as exc:
        metrics(run, path="mlruns", format="mlflow")
    assert exc.value.message == "the MLflow store holds 3 runs; choose one with `run:`"
    (mlruns / "0" / "a1b2c3d4e5f6" / "metrics" / "lr").write_text("1700000000000 0.001 0\n1700000000001 fast 1\n")
    with pytest.raises(ArtifactError) as exc:
        metrics(run, path="mlruns", format="mlflow", run="a1b2c3d4e5f6")
    assert exc.value.message == "expected 'timestamp value step', got '1700000000001 fast 1'"
    assert exc.value.location.line == 2 and exc.value.location.file.endswith("metrics/lr")
    (run / "nothing").mkdir()
    with pytest.raises(ArtifactError) as exc:
        metrics(run, path="nothing", format="mlflow")
    assert exc.value.message == "no MLflow runs here (expected <experiment>/<run>/metrics/<key> files)"


def make_mlflow_db(path: Path) -> None:
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE runs (run_uuid VARCHAR(32) PRIMARY KEY, name VARCHAR(250), experiment_id INTEGER,
                           lifecycle_stage VARCHAR(20));
        CREATE TABLE metrics (key VARCHAR(250) NOT NULL, value FLOAT NOT NULL, timestamp BIGINT NOT NULL,
                              run_uuid VARCHAR(32) NOT NULL, step BIGINT DEFAULT 0 NOT NULL,
                              is_nan BOOLEAN DEFAULT 0 NOT NULL,
                              PRIMARY KEY (key, timestamp, step, run_uuid, value, is_nan));
        """
    )
    con.executemany("INSERT INTO runs VALUES (?, ?, 0, 'active')", [("9f8e7d6c", "swift-elk-1"), ("1a2b3c4d", "tidy-cat-9")])
    rows = [
        ("train/loss", 2.0, 100, "9f8e7d6c", 0, 0),
        ("train/loss", 1.5, 200, "9f8e7d6c", 10, 0),
        ("train/loss", 0.0, 300, "9f8e7d6c", 20, 1),  # NaN: MLflow stores 0 with is_nan
        ("train/loss", 1.7976931348623157e308, 400, "9f8e7d6c", 30, 0),  # +inf as MLflow stores it
        ("train/loss", 1.4, 250, "9f8e7d6c", 10, 0),  # logged again at step 10, later: wins
        ("grad_norm", 3.0, 100, "9f8e7d6c", 10, 0),
        ("train/loss", 9.9, 100, "1a2b3c4d", 0, 0),
    ]
    con.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?)", rows)
    con.commit()
    con.close()


def test_mlflow_sqlite_store(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    make_mlflow_db(run / "mlflow.db")
    table = metrics(run, path="mlflow.db", run="swift-elk-1", columns={"loss": "train/loss"})  # by file name
    assert table.steps.tolist() == [0, 10, 20, 30]
    assert same(table.column("loss"), [2.0, 1.4, NAN, math.inf])
    assert same(table.column("grad_norm"), [NAN, 3.0, NAN, NAN])
    with pytest.raises(ArtifactError) as exc:
        metrics(run, path="mlflow.db", run="swift-elk")
    assert exc.value.message == "no run 'swift-elk' in this MLflow store"
    assert exc.value.hint == "did you mean 'swift-elk-1'? runs present: 9f8e7d6c (swift-elk-1), 1a2b3c4d (tidy-cat-9)"

    (run / "other.db").write_bytes(b"SQLite? no, just bytes" * 100)
    with pytest.raises(ArtifactError, match="not an MLflow store: not a readable SQLite database"):
        metrics(run, path="other.db", format="mlflow", run="x")
    sqlite3.connect(run / "plain.db").executescript("CREATE TABLE t (a INTEGER);")
    with pytest.raises(ArtifactError) as exc:
        metrics(run, path="plain.db", format="mlflow")
    assert exc.value.message == "not an MLflow tracking database (it has no 'runs' and 'metrics' tables)"


def test_run_option_only_for_stores(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "m.csv").write_text("step,loss\n0,1\n")
    with pytest.raises(UserError) as exc:
        make_run(tmp_path / "run", {"metrics": {"path": "m.csv", "run": "abc"}})
    assert "`run:` only applies to `format: mlflow` or `format: wandb`" in str(exc.value)


# ---------------------------------------------------------------------------------------------
# Hugging Face trainer_state.json


def trainer_state(history: list[Any]) -> str:
    return json.dumps({"best_metric": None, "global_step": 30, "log_history": history}, indent=2)


HF_HISTORY = [
    {"epoch": 0.33, "grad_norm": 1.2, "learning_rate": 5e-5, "loss": 2.5, "step": 10},
    {"epoch": 0.67, "grad_norm": NAN, "learning_rate": 4e-5, "loss": 2.1, "step": 20},
    {"epoch": 0.67, "eval_loss": 2.3, "eval_runtime": 1.5, "step": 20},
    {"epoch": 1.0, "grad_norm": 0.9, "learning_rate": 3e-5, "loss": 1.9, "step": 30},
    {"epoch": 1.0, "step": 30, "total_flos": 1e12, "train_loss": 2.2, "train_runtime": 60.0},
]


def test_hf_trainer_state_merges_train_and_eval_entries(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoint-30").mkdir(parents=True)
    (run / "checkpoint-30" / "trainer_state.json").write_text(trainer_state(HF_HISTORY))
    table = metrics(run, path="checkpoint-30/trainer_state.json", columns={"val_loss": "eval_loss"})
    assert table.steps.tolist() == [10, 20, 30]
    assert same(table.column("loss"), [2.5, 2.1, 1.9])
    assert same(table.column("val_loss"), [NAN, 2.3, NAN])
    assert same(table.column("grad_norm"), [1.2, NAN, 0.9])  # a logged NaN (json's NaN token) is kept
    assert same(table.column("train_loss"), [NAN, NAN, 2.2])
    folder = metrics(run, path="checkpoint-30", format="hf_trainer_state")
    assert folder.steps.tolist() == [10, 20, 30]


def test_hf_trainer_state_bad_inputs(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "trainer_state.json").write_text(trainer_state([{"loss": 1.0, "step": 1}, {"loss": 0.9}]))
    with pytest.raises(ArtifactError) as exc:
        metrics(run, path="trainer_state.json")
    assert exc.value.message == "log_history[1]: no 'step'"

    (run / "trainer_state.json").write_text(trainer_state([{"loss": 1.0, "step": 1}, {"loss": "oops", "step": 2}]))
    table = metrics(run, path="trainer_state.json")
    with pytest.raises(ArtifactError) as exc:
        table.column("loss")
    assert exc.value.message == "log_history[1]: column 'loss' mixes a number and text: 'oops'"

    (run / "trainer_state.json").write_text(trainer_state([]))
    with pytest.raises(CannotMeasure) as why:
        metrics(run, path="trainer_state.json").column("loss")
    assert why.value.reason == "trainer_state.json holds no log_history entries"

    (run / "trainer_state.json").write_text(trainer_state([{"loss": 1.0, "step": 7}]))
    single = metrics(run, path="trainer_state.json")  # a single row is a table; evaluators judge n
    assert single.steps.tolist() == [7] and same(single.column("loss"), [1.0])

    (run / "trainer_state.json").write_text('{"log_history": [\n  {"step": 1,}\n]}')
    with pytest.raises(ArtifactError) as exc:
        metrics(run, path="trainer_state.json")
    assert exc.value.message.startswith("invalid JSON") and exc.value.location.line == 2

    (run / "trainer_state.json").write_text('{"global_step": 3}')
    with pytest.raises(ArtifactError) as exc:
        metrics(run, path="trainer_state.json")
    assert exc.value.message == "no 'log_history' list: not a Hugging Face trainer_state.json"


# ---------------------------------------------------------------------------------------------
# Lightning CSVLogger metrics.csv

LIGHTNING_CSV = """\
epoch,lr-AdamW,step,train_loss_step,val_loss,val_acc
0,0.001,49,,,
0,,49,2.5,,
0,,99,2.25,,
0,,99,,2.4,0.1
0,,149,nan,,
1,,99,2.2,,
1,,199,,2.0,0.3
"""


def test_lightning_rows_merged_per_step(tmp_path):
    run = tmp_path / "run"
    (run / "lightning_logs" / "version_0").mkdir(parents=True)
    (run / "lightning_logs" / "version_0" / "metrics.csv").write_text(LIGHTNING_CSV)
    table = metrics(run, path="lightning_logs/version_0", format="lightning", columns={"loss": "train_loss_step"})
    assert table.steps.tolist() == [49, 99, 149, 199]
    # step 99 has three rows: the later non-empty train_loss_step (2.2) wins; nan is a value, not a gap.
    assert same(table.column("loss"), [2.5, 2.2, NAN, NAN])
    assert same(table.column("val_loss"), [NAN, 2.4, NAN, 2.0])
    assert same(table.column("epoch"), [0, 1, 0, 1])
    assert same(table.column("lr-AdamW"), [0.001, NAN, NAN, NAN])


def test_lightning_bad_inputs(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.csv").write_text("epoch,step,loss\n0,1,2.0\n0,,1.5\n")
    with pytest.raises(ArtifactError) as exc:
        metrics(run, path="metrics.csv", format="lightning")
    assert exc.value.message == "no 'step'" and exc.value.location.line == 3
    (run / "metrics.csv").write_text("epoch,step,loss\n0,1,2.0\n0,1.5,1.5\n")
    with pytest.raises(ArtifactError) as exc:
        metrics(run, path="metrics.csv", format="lightning")
    assert exc.value.message == "'step' is '1.5', not an integer step" and exc.value.location.line == 3
    (run / "metrics.csv").write_text("epoch,step,loss\n0,1,2.0\n0,2,diverged\n")
    table = metrics(run, path="metrics.csv", format="lightning")
    with pytest.raises(ArtifactError) as exc:
        table.column("loss")
    assert exc.value.message == "column 'loss' mixes a number and text: 'diverged'" and exc.value.location.line == 3
    (run / "metrics.csv").write_text("epoch,step,loss\n")
    with pytest.raises(CannotMeasure, match="^metrics.csv holds no rows$"):
        metrics(run, path="metrics.csv", format="lightning").column("loss")
    (run / "metrics.csv").write_text("epoch,loss\n0,1.0\n")
    with pytest.raises(ArtifactError) as exc:
        metrics(run, path="metrics.csv", format="lightning")
    assert exc.value.message == "no 'step' column (columns are epoch, loss)"


# ---------------------------------------------------------------------------------------------
# W&B

WANDB_CSV = """\
"Step","glorious-sun-12 - train/loss","glorious-sun-12 - train/loss__MIN","glorious-sun-12 - train/loss__MAX",\
"glorious-sun-12 - lr"
0,2.5,2.5,2.5,0.001
1,2.4,2.3,2.5,
3,NaN,NaN,NaN,0.0005
2,Infinity,,,
"""


def test_wandb_ui_csv_export(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "export.csv").write_text(WANDB_CSV)
    table = metrics(run, path="export.csv", format="wandb", columns={"loss": "train/loss"})
    assert sorted(table.available()) == ["loss", "lr", "step", "train/loss"]  # __MIN/__MAX dropped
    assert table.steps.tolist() == [0, 1, 2, 3]
    assert same(table.column("loss"), [2.5, 2.4, math.inf, NAN])
    assert same(table.column("lr"), [0.001, NAN, NAN, 0.0005])


def test_wandb_csv_export_of_several_runs(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "export.csv").write_text('Step,"run-a - loss","run-a - loss__MIN","run-b - loss"\n0,1.0,1.0,5.0\n1,0.9,0.9,4.0\n')
    with pytest.raises(ArtifactError) as exc:
        metrics(run, path="export.csv", format="wandb")
    assert exc.value.message == "the W&B export holds 2 runs; choose one with `run:`"
    assert exc.value.hint == "runs present: run-a, run-b"
    table = metrics(run, path="export.csv", format="wandb", run="run-b")
    assert table.available() == ["loss", "step"] and same(table.column("loss"), [5.0, 4.0])
    with pytest.raises(ArtifactError) as exc:
        metrics(run, path="export.csv", format="wandb", run="run-a2")
    assert exc.value.message == "no run 'run-a2' in this W&B export"
    assert exc.value.hint == "did you mean 'run-a'? runs present: run-a, run-b"


def wandb_rows() -> list[dict[str, Any]]:
    return [
        {"_step": 0, "_runtime": 1.0, "_timestamp": 1.7e9, "train/loss": 2.5, "step": 100, "split": "train"},
        {"_step": 1, "_runtime": 2.0, "train/loss": 2.4, "eval": {"loss": 2.6}, "img": {"_type": "image-file", "path": "x.png"}},
        {"_step": 2, "train/loss": NAN, "hist": [1, 2, 3]},
    ]


def test_wandb_scan_history_jsonl(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in wandb_rows()))
    table = metrics(run, path="history.jsonl", format="wandb")  # .jsonl alone would be a text artifact
    assert sorted(table.available()) == ["_runtime", "_timestamp", "eval.loss", "split", "step", "step_logged", "train/loss"]
    assert table.steps.tolist() == [0, 1, 2]
    assert same(table.column("train/loss"), [2.5, 2.4, NAN])
    assert same(table.column("eval.loss"), [NAN, 2.6, NAN])
    assert same(table.column("step_logged"), [100, NAN, NAN])


def test_wandb_scan_history_parquet(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    run = tmp_path / "run"
    run.mkdir()
    rows = [{k: v for k, v in r.items() if k not in ("hist", "img")} for r in wandb_rows()]
    pq.write_table(
        pa.Table.from_pylist(rows, schema=pa.unify_schemas([pa.Table.from_pylist([r]).schema for r in rows])),
        run / "history.parquet",
    )
    table = metrics(run, path="history.parquet", format="wandb", columns={"loss": "train/loss"})
    assert table.steps.tolist() == [0, 1, 2]
    assert same(table.column("loss"), [2.5, 2.4, NAN])
    assert same(table.column("eval.loss"), [NAN, 2.6, NAN])


def test_wandb_bad_inputs(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "history.jsonl").write_text('{"_step": 0, "loss": 1}\n\n{"loss": 2}\n')
    with pytest.raises(ArtifactError) as exc:
        metrics(run, path="history.jsonl", format="wandb")
    assert exc.value.message == "no '_step'" and exc.value.location.line == 3
    (run / "history.jsonl").write_text('{"_step": 0, "loss": 1}\n{"_step": 1, "loss": "NaN?"}\n')
    with pytest.raises(ArtifactError) as exc:
        metrics(run, path="history.jsonl", format="wandb").column("loss")
    assert exc.value.message == "column 'loss' mixes a number and text: 'NaN?'" and exc.value.location.line == 2
    (run / "export.csv").write_text("x,loss\n0,1\n")
    with pytest.raises(ArtifactError) as exc:
        metrics(run, path="export.csv", format="wandb")
    assert exc.value.message == "no 'Step' or '_step' column (columns are x, loss)"


# ---------------------------------------------------------------------------------------------
# Every reader: aliases, `where`, duplicate and unsorted steps


def write_log(fmt: str, run: Path) -> dict[str, Any]:
    """One log per format: steps 5, 1, 3 (unsorted), step 3 written twice; `phase` 1 at steps 3, 5."""
    rows = [(5, 0.5, 1), (1, 0.875, 0), (3, 0.75, 1), (3, 0.625, 1)]  # (step, train/loss, phase); last wins
    if fmt == "tensorboard":
        write_events(run / "tb" / EV, [event(s, simple("train/loss", v), simple("phase", p)) for s, v, p in rows])
        return {"path": "tb", "format": "tensorboard"}
    if fmt == "mlflow":
        lines = {"train/loss": "".join(f"{i} {v} {s}\n" for i, (s, v, _) in enumerate(rows))}
        lines["phase"] = "".join(f"{i} {p} {s}\n" for i, (s, _, p) in enumerate(rows))
        mlflow_file_run(run / "mlruns", "0", "abc123", "only", lines)
        return {"path": "mlruns", "format": "mlflow"}
    if fmt == "hf_trainer_state":
        (run / "trainer_state.json").write_text(trainer_state([{"step": s, "train/loss": v, "phase": p} for s, v, p in rows]))
        return {"path": "trainer_state.json"}
    if fmt == "lightning":
        (run / "metrics.csv").write_text("step,train/loss,phase\n" + "".join(f"{s},{v},{p}\n" for s, v, p in rows))
        return {"path": "metrics.csv", "format": "lightning"}
    (run / "history.jsonl").write_text("".join(json.dumps({"_step": s, "train/loss": v, "phase": p}) + "\n" for s, v, p in rows))
    return {"path": "history.jsonl", "format": "wandb"}


@pytest.mark.parametrize("fmt", ["tensorboard", "mlflow", "hf_trainer_state", "lightning", "wandb"])
def test_every_reader_aliases_where_and_step_order(tmp_path, fmt):
    run = tmp_path / "run"
    run.mkdir()
    spec = write_log(fmt, run)
    table = metrics(run, **spec, columns={"loss": "train/loss"})
    assert table.steps.tolist() == [1, 3, 5]
    assert same(table.column("loss"), [0.875, 0.625, 0.5])
    filtered = metrics(run, **spec, columns={"loss": "train/loss"}, where={"phase": 1})
    assert filtered.steps.tolist() == [3, 5]
    assert same(filtered.column("loss"), [0.625, 0.5])
    with pytest.raises(CannotMeasure, match="no column 'val_loss'"):
        table.column("val_loss")


def test_unknown_format_lists_the_formats(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "m.log").write_text("x")
    with pytest.raises(UserError) as exc:
        metrics(run, path="m.log", format="comet", kind="metrics")
    # Checked with the manifest, at its `format:` key, from the one formats table.
    assert str(exc.value).endswith(
        "run.yaml:5:13: artifacts.metrics.format: unknown format 'comet'; metrics artifacts take "
        "csv, tsv, jsonl, parquet, tensorboard, mlflow, hf_trainer_state, lightning, wandb"
    )


def test_a_truncated_log_is_named_in_the_verdict(tmp_path):
    from registry.language.load import load_claim
    from registry.plugins import EvaluatorRegistry
    from registry.verdicts.engine import evaluate_claim_on_run

    cut_file(tmp_path, 7)
    run = make_run(tmp_path / "run", {"metrics": {"path": EV}})
    claims = tmp_path / "claims"
    claims.mkdir()
    (claims / "last-loss.yaml").write_text(
        "id: last-loss\ntitle: t\nstatement: s\nfalsified_if: f\npredictions:\n"
        "  - {id: p, level: loss, evaluator: metric.threshold, params: {column: loss}, "
        "expect: [{stat: value, op: '<', value: 10}]}\n"
    )
    evaluators = EvaluatorRegistry()
    verdict = evaluate_claim_on_run(load_claim(claims / "last-loss.yaml", evaluators), run, evaluators)
    (prediction,) = verdict.predictions
    (note,) = prediction.evidence["artifact_notes"]["metrics"]
    assert "file ends inside record 5" in note
