"""CSV and metrics JSONL are streamed block by block (registry/readers/metrics/blocks.py), numeric
Parquet columns batch by batch (registry/readers/metrics/parquet.py): the values are those of the file,
presence is where a cell or key was written, and bad input names its line."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from registry.errors import ArtifactError
from registry.readers.metrics import blocks, parquet
from registry.runs.run import load_run


def table(folder: Path, name: str, text: str, **spec):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    kind = {"kind": "metrics"} if name.endswith(".jsonl") else {}
    (folder / "run.yaml").write_text(yaml.safe_dump({"id": "r", "artifacts": {"m": {"path": name, **kind, **spec}}}))
    return load_run(folder / "run.yaml").metrics("m")


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(blocks, "BLOCK", 64)  # many blocks, lines cut across block ends


def test_csv_across_many_blocks_equals_the_file(tmp_path, small_blocks):
    rows = [f"{s},{'' if s % 7 == 3 else s / 10}" for s in range(500)]
    t = table(tmp_path, "m.csv", "step,loss\n" + "\n".join(rows) + "\n")
    steps, values = t.series("loss")
    expected = [s for s in range(500) if s % 7 != 3]
    assert steps.tolist() == expected and np.allclose(values, [s / 10 for s in expected])
    assert t.steps.size == 500


def test_jsonl_across_many_blocks_with_nan_tokens(tmp_path, small_blocks):
    lines = [json.dumps({"step": s, **({} if s % 5 == 0 else {"loss": math.nan if s == 7 else s})}) for s in range(300)]
    t = table(tmp_path, "m.jsonl", "\n".join(lines) + "\n")
    steps, values = t.series("loss")
    assert steps.size == 240 and math.isnan(values[steps.tolist().index(7)])  # a logged NaN is a row
    assert np.nansum(values) == sum(s for s in range(300) if s % 5 and s != 7)


@pytest.mark.parametrize(
    ("name", "text", "column", "message"),
    [
        ("m.jsonl", '{"step": 0, "loss": 1}\n{"step": 1, "loss": "x"}\n', "loss", "m.jsonl:2: column 'loss' is not numeric"),
        ("m.jsonl", '{"step": 0, "loss": 1}\n{"loss": 2}\n', "loss", "m.jsonl:2: no 'step' on this line"),
        ("m.jsonl", f'{{"step": 0}}\n{{"step": {2**70}}}\n', "step", f"m.jsonl:2: step {2**70} is outside the 64-bit integer"),
        ("m.jsonl", '{"step": 0}\n{"step": 1.5}\n', "step", "m.jsonl:2: 'step' is 1.5, not an integer step"),
        ("m.csv", "step,loss\n0,1\n,2\n", "step", "m.csv:3: no 'step' in this row"),
    ],
)
def test_bad_rows_are_located(tmp_path, name, text, column, message):
    with pytest.raises(ArtifactError) as exc:
        t = table(tmp_path, name, text)
        t.series(column)
    assert str(exc.value).rsplit("/", 1)[-1].startswith(message)


def test_a_step_outside_int64_in_a_row_log_is_located(tmp_path):
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "trainer_state.json").write_text(json.dumps({"log_history": [{"loss": 1, "step": 0}, {"loss": 2, "step": 2**70}]}))
    (folder / "run.yaml").write_text(yaml.safe_dump({"id": "r", "artifacts": {"m": {"path": "trainer_state.json"}}}))
    with pytest.raises(ArtifactError) as exc:
        load_run(folder / "run.yaml").metrics("m").series("loss")
    assert str(exc.value).endswith(
        f"trainer_state.json: log_history[1]: step {2**70} is outside the 64-bit integer range (hint: steps must fit in int64)"
    )


@pytest.mark.parametrize("row_group_size", [1_000, 64, 7])
def test_parquet_in_many_batches_equals_pyarrow(tmp_path, monkeypatch, row_group_size):
    import pyarrow as pa
    import pyarrow.parquet as pq

    monkeypatch.setattr(parquet, "BATCH_ROWS", 10)  # batches cut across row groups
    rng = np.random.default_rng(row_group_size)
    loss = rng.normal(size=500)
    loss[[3, 99]] = [np.nan, np.inf]
    data = {
        "step": np.arange(500, dtype=np.int64) * 3,
        "loss": loss,
        "tokens": rng.integers(-(2**40), 2**40, 500),
        "lr": pa.array(rng.random(500).astype(np.float32)),
        "val": pa.array([None if s % 9 else float(s) for s in range(500)], type=pa.float64()),
    }
    pq.write_table(pa.table(data), tmp_path / "m.parquet", row_group_size=row_group_size)
    (tmp_path / "run.yaml").write_text(yaml.safe_dump({"id": "r", "artifacts": {"m": {"path": "m.parquet"}}}))
    t = load_run(tmp_path / "run.yaml").metrics("m")
    whole = pq.read_table(tmp_path / "m.parquet")
    assert t.steps.tolist() == whole.column("step").to_pylist()
    for name in ("loss", "tokens", "lr"):
        assert t.present(name) is None  # every row written: no mask
        want = np.asarray(whole.column(name).to_pylist(), dtype=np.float64)
        assert np.array_equal(t.column(name), want, equal_nan=True)
    steps, values = t.series("val")  # nulls are rows not written
    assert steps.tolist() == [3 * s for s in range(0, 500, 9)] and values.tolist() == list(range(0, 500, 9))


@pytest.fixture
def csv_passes(monkeypatch):
    """The number of passes over CSV files (each a parse of the whole file)."""
    from registry.readers.metrics import csv, table

    monkeypatch.setattr(table, "_ASKED", {})  # what earlier tests asked is not this test's
    passes = []
    original = csv._batches

    def counted(*args, **kwargs):
        passes.append(args[0].name)
        return original(*args, **kwargs)

    monkeypatch.setattr(csv, "_batches", counted)
    return passes


def test_a_sweeps_columns_are_read_in_one_pass_per_file(tmp_path, csv_passes):
    text = "step,loss,grad_norm,lr\n" + "".join(f"{s},{10 - s / 10},{s % 3},1e-3\n" for s in range(50))
    first = table(tmp_path / "a", "m.csv", text)
    first.series("loss"), first.series("grad_norm")
    assert csv_passes == ["m.csv", "m.csv"]  # steps with loss, then grad_norm
    csv_passes.clear()
    second = table(tmp_path / "b", "m.csv", text)  # the next run of the sweep: same header
    steps, loss = second.series("loss")
    _, grad = second.series("grad_norm")
    assert csv_passes == ["m.csv"]  # both columns came with the steps
    assert loss.tolist() == [10 - s / 10 for s in range(50)] and grad.tolist() == [s % 3 for s in range(50)]
    assert second.present("grad_norm") is None and steps.tolist() == list(range(50))


def test_a_column_asked_elsewhere_that_does_not_parse_here_is_no_error(tmp_path, csv_passes):
    good = "step,loss,note\n0,1,2\n1,0.5,3\n"
    first = table(tmp_path / "a", "m.csv", good)
    first.series("loss"), first.series("note")
    text_note = "step,loss,note\n0,1,warmup\n1,0.5,\n"  # `note` is text here; only `loss` is asked
    steps, loss = table(tmp_path / "b", "m.csv", text_note).series("loss")
    assert steps.tolist() == [0, 1] and loss.tolist() == [1.0, 0.5]
    with pytest.raises(ArtifactError, match="m.csv:2: column 'note' is not numeric"):
        table(tmp_path / "c", "m.csv", text_note).series("note")


@pytest.mark.parametrize("at", range(1, 8))
def test_step_order_is_checked_across_block_ends(tmp_path, monkeypatch, at):
    """The steps are compared a block at a time: a step out of order or repeated on either side of a
    block's end is still seen (sorted, or refused when repeated)."""
    from registry.readers.metrics import table as table_module

    monkeypatch.setattr(table_module, "_CHECK_ROWS", 3)
    steps = list(range(9))
    steps[at - 1], steps[at] = steps[at], steps[at - 1]
    t = table(tmp_path / "swapped", "m.csv", "step,loss\n" + "".join(f"{s},{s}\n" for s in steps))
    assert t.steps.tolist() == list(range(9)) and t.column("loss").tolist() == list(range(9))
    steps = list(range(9))
    steps[at] = steps[at - 1]
    with pytest.raises(ArtifactError, match=f"step {at - 1} occurs more than once"):
        table(tmp_path / "repeated", "m.csv", "step,loss\n" + "".join(f"{s},{s}\n" for s in steps)).steps  # noqa: B018
