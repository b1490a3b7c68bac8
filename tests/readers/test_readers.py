"""Artifact readers through a run: metrics tables (CSV, JSONL, Parquet), activation tensors (.npy,
.npz, .safetensors incl. bf16 and axes metadata), text samples (JSONL); and their located errors."""

from __future__ import annotations

import json
import mmap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import FIXTURES, write_run, write_table, write_tensors

from registry.errors import ArtifactError, CannotMeasure
from registry.readers.activations.artifact import open_tensors
from registry.runs.run import Run, load_run

TABLE = {
    "step": [30, 0, 20, 10],  # not in step order
    "split": ["train", "train", "val", "train"],
    "loss": [1.0, 4.0, 2.5, 3.0],
    "lr": [0.1, 0.3, float("nan"), 0.2],
    "note": ["c", "a", "x", "b"],
}


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_with(folder: Path, **artifacts: dict[str, Any]) -> Run:
    return load_run(write_run(folder, "reader-run", artifacts))


def metrics_spec(path: str, **more: Any) -> dict[str, Any]:
    """A metrics artifact; `.jsonl` defaults to text samples, so a JSONL table says `kind: metrics`."""
    return {"path": path, **({"kind": "metrics"} if path.endswith(".jsonl") else {}), **more}


# --- metrics ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_metrics_formats_agree(here: Path, suffix: str) -> None:
    write_table(here / f"metrics{suffix}", TABLE)
    run = run_with(here, metrics=metrics_spec(f"metrics{suffix}"))
    table = run.metrics("metrics")
    assert table.steps.tolist() == [0, 10, 20, 30]  # sorted
    assert table.column("loss").tolist() == [4.0, 3.0, 2.5, 1.0]  # aligned with the sorted steps
    lr = table.column("lr")
    assert lr[:2].tolist() == [0.3, 0.2] and np.isnan(lr[2])
    assert table.steps.dtype == np.int64 and table.column("loss").dtype == np.float64


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_where_filter(here: Path, suffix: str) -> None:
    write_table(here / f"metrics{suffix}", TABLE)
    run = run_with(here, train=metrics_spec(f"metrics{suffix}", where={"split": "train"}))
    table = run.metrics("train")
    assert table.steps.tolist() == [0, 10, 30]
    assert table.column("loss").tolist() == [4.0, 3.0, 1.0]


def test_non_numeric_column_is_ignored_unless_named(here: Path) -> None:
    write_table(here / "metrics.csv", TABLE)
    table = run_with(here, metrics={"path": "metrics.csv"}).metrics("metrics")
    assert table.column("loss").size == 4  # the text columns `split` and `note` are no obstacle
    with pytest.raises(ArtifactError) as info:
        table.column("note")
    assert str(info.value) == (
        "metrics.csv:2: column 'note' is not numeric ('c') "
        "(hint: metric columns must hold numbers; filter rows with `where:` if the table mixes kinds)"
    )


def test_column_aliases(here: Path) -> None:
    write_table(here / "metrics.csv", {"iter": [0, 1, 2], "train/loss": [3.0, 2.0, 1.0]})
    run = run_with(here, metrics={"path": "metrics.csv", "columns": {"step": "iter", "loss": "train/loss"}})
    table = run.metrics("metrics")
    assert table.steps.tolist() == [0, 1, 2]
    assert table.column("loss").tolist() == [3.0, 2.0, 1.0]
    assert table.column("train/loss").tolist() == [3.0, 2.0, 1.0]


def test_step_alias_to_a_missing_column(here: Path) -> None:
    write_table(here / "metrics.csv", {"iteration": [0, 1], "loss": [3.0, 2.0]})
    table = run_with(here, metrics={"path": "metrics.csv", "columns": {"step": "iter"}}).metrics("metrics")
    with pytest.raises(ArtifactError) as info:
        table.column("loss")
    assert str(info.value) == (
        "metrics.csv: no column 'iter' (the manifest's alias for step) (hint: columns are iteration, loss; "
        "rename the step column or alias it with `columns: {step: <name>}`)"
    )


def test_missing_column_cannot_be_measured(here: Path) -> None:
    write_table(here / "metrics.csv", TABLE)
    table = run_with(here, metrics={"path": "metrics.csv"}).metrics("metrics")
    with pytest.raises(CannotMeasure) as info:
        table.column("los")
    assert info.value.reason == "metrics.csv has no column 'los'; did you mean 'loss'?"


def test_duplicate_steps_are_bad_input(here: Path) -> None:
    write_table(here / "metrics.csv", TABLE | {"step": [0, 10, 10, 20]})
    table = run_with(here, metrics={"path": "metrics.csv"}).metrics("metrics")
    with pytest.raises(ArtifactError) as info:
        table.column("loss")
    assert str(info.value) == (
        "metrics.csv: step 10 occurs more than once (hint: filter rows with `where:` (e.g. `where: {split: train}`), "
        "or for a log with one row per logging call (Lightning's CSVLogger) set `format: lightning`)"
    )


def test_non_integer_steps_are_bad_input(here: Path) -> None:
    write_table(here / "metrics.csv", {"step": [0, 0.5], "loss": [1.0, 2.0]})
    table = run_with(here, metrics={"path": "metrics.csv"}).metrics("metrics")
    with pytest.raises(ArtifactError) as info:
        table.column("loss")
    assert str(info.value) == "metrics.csv: column 'step' has non-integer values"


def test_metrics_jsonl_bad_line_is_located(here: Path) -> None:
    (here / "metrics.jsonl").write_text('{"step": 0, "loss": 1.0}\n{"step": 1, "loss": }\n')
    with pytest.raises(ArtifactError) as info:
        run_with(here, metrics=metrics_spec("metrics.jsonl")).metrics("metrics").column("loss")
    assert str(info.value) == "metrics.jsonl:2:21: invalid JSON: Expecting value"


def test_metrics_table_is_opened_once(here: Path) -> None:
    write_table(here / "metrics.csv", TABLE)
    run = run_with(here, metrics={"path": "metrics.csv"}, same={"path": "metrics.csv"})
    assert run.metrics("metrics") is run.metrics("metrics")
    assert run.metrics("same") is not run.metrics("metrics")  # another artifact, even on the same file


def test_used_artifacts_are_tracked_and_hashed(here: Path) -> None:
    import hashlib

    write_table(here / "metrics.csv", TABLE)
    (here / "samples.jsonl").write_text('{"text": "x"}\n')
    run = run_with(here, metrics={"path": "metrics.csv"}, samples={"path": "samples.jsonl"})
    with run.tracking() as used:
        run.metrics("metrics").column("loss")
    assert used == {"metrics"}
    assert run.artifact_hash("metrics") == hashlib.sha256((here / "metrics.csv").read_bytes()).hexdigest()


def test_undeclared_artifact_cannot_be_measured(here: Path) -> None:
    write_table(here / "metrics.csv", TABLE)
    run = run_with(here, metrics={"path": "metrics.csv"})
    with pytest.raises(CannotMeasure) as info:
        run.metrics("val")
    assert info.value.reason == "run 'reader-run' declares no artifact 'val' (it has: metrics)"


# --- activations --------------------------------------------------------------------------------------

A = np.arange(12, dtype=np.float32).reshape(3, 4) - 5.5


def _base(arr: np.ndarray) -> object:
    base: object = arr
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    return base.obj if isinstance(base, memoryview) else base


def test_npy_is_memory_mapped(here: Path) -> None:
    write_tensors(here / "resid.npy", {"resid": ("F32", A)})
    store = open_tensors(here / "resid.npy")
    assert store.names() == ["resid"]
    assert store.shape("resid") == (3, 4)
    np.testing.assert_array_equal(store.array("resid"), A)
    block = store.tensor("resid").read(0, 12)
    assert isinstance(_base(block), mmap.mmap)  # a view of the file, not a copy in memory


def test_npz(here: Path) -> None:
    write_tensors(here / "acts.npz", {"blocks.0": ("F32", A), "labels": ("I64", [1, 2, 3])})
    store = open_tensors(here / "acts.npz")
    assert store.names() == ["blocks.0", "labels"]
    np.testing.assert_array_equal(store.array("blocks.0"), A)
    assert store.array("labels").tolist() == [1, 2, 3]


def test_safetensors_bf16_and_axes(here: Path) -> None:
    values = [[1.5, -2.0, 0.25], [3.0, -0.125, 1024.0]]  # exactly representable in bf16
    axes = {"resid": ["batch", "d_model"]}
    write_tensors(
        here / "acts.safetensors",
        {"resid": ("BF16", values), "mask": ("U8", [1, 0, 1])},
        metadata={"axes": json.dumps(axes)},
    )
    store = open_tensors(here / "acts.safetensors")
    assert sorted(store.names()) == ["mask", "resid"]
    arr = store.array("resid")
    assert arr.dtype == np.float32
    np.testing.assert_array_equal(arr, np.array(values, dtype=np.float32))
    assert store.axes("resid") == ["batch", "d_model"]
    assert store.axes("mask") is None
    assert store.array("mask").tolist() == [1, 0, 1]


def test_safetensors_written_by_the_library(here: Path) -> None:
    st = pytest.importorskip("safetensors.numpy")
    w = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    h = np.array([0.5, -1.5], dtype=np.float16)
    st.save_file({"w": w, "h": h}, str(here / "lib.safetensors"), metadata={"axes": json.dumps({"w": ["a", "b"]})})
    store = open_tensors(here / "lib.safetensors")
    np.testing.assert_array_equal(store.array("w"), w)
    np.testing.assert_array_equal(store.array("h"), h)
    assert store.axes("w") == ["a", "b"]


def test_hand_built_bf16_matches_the_library_layout(here: Path) -> None:
    """Our hand-built bf16 file and the library's own file for the same bits are byte-identical."""
    st = pytest.importorskip("safetensors.numpy")
    from conftest import bf16_bits, safetensors_bytes

    values = [1.5, -2.0, 0.25, 3.0]
    # numpy has no bf16: the library writes the same bit patterns as U16, labelled differently.
    st.save_file({"h": bf16_bits(values)}, str(here / "lib.safetensors"))
    lib = (here / "lib.safetensors").read_bytes()
    ours = safetensors_bytes({"h": ("BF16", values)})
    assert lib[-8:] == ours[-8:]
    (here / "ours.safetensors").write_bytes(ours)
    lib_store = open_tensors(here / "lib.safetensors")
    our_store = open_tensors(here / "ours.safetensors")
    assert lib_store.array("h").tolist() == [16320, 49152, 16000, 16448]  # raw bits, read as U16
    assert our_store.array("h").tolist() == values  # the same bits, read as BF16 and widened


def test_truncated_safetensors_is_bad_input(here: Path) -> None:
    write_tensors(here / "acts.safetensors", {"resid": ("F32", A)})
    data = (here / "acts.safetensors").read_bytes()
    (here / "acts.safetensors").write_bytes(data[:-10])
    with pytest.raises(ArtifactError) as info:
        open_tensors(here / "acts.safetensors")
    assert str(info.value).startswith("acts.safetensors: tensor 'resid' extends past the end of the file")
    assert str(info.value).endswith("(hint: the file is truncated)")


def test_not_a_safetensors_file(here: Path) -> None:
    (here / "acts.safetensors").write_bytes(b"\x01\x02")
    with pytest.raises(ArtifactError) as info:
        open_tensors(here / "acts.safetensors")
    assert str(info.value) == (
        "acts.safetensors: not a readable safetensors file: shorter than its 8-byte header length "
        "(hint: the file may be truncated)"
    )


def test_missing_tensor_suggests_a_name(here: Path) -> None:
    write_tensors(here / "acts.npz", {"resid": ("F32", A)})
    with pytest.raises(CannotMeasure) as info:
        open_tensors(here / "acts.npz").array("resd")
    assert info.value.reason == "acts.npz has no tensor 'resd'; did you mean 'resid'?"


def test_text_tensors_are_bad_input(here: Path) -> None:
    """Not numbers, not activations: refused as bad input rather than failing inside an evaluator."""
    np.save(here / "resid.npy", np.array(["a", "b"]))
    with pytest.raises(ArtifactError) as info:
        open_tensors(here / "resid.npy")
    assert str(info.value) == "resid.npy: tensor 'resid' has dtype <U1, not a numeric one"
    np.savez(here / "acts.npz", resid=np.array(["a", "b"]))
    with pytest.raises(ArtifactError) as info:
        open_tensors(here / "acts.npz").array("resid")
    assert str(info.value) == "acts.npz: tensor 'resid' has dtype <U1, not a numeric one"


def test_pickled_npy_is_refused(here: Path) -> None:
    np.save(here / "objs.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ArtifactError) as info:
        open_tensors(here / "objs.npy")
    assert str(info.value).startswith("objs.npy: ")


# --- text samples --------------------------------------------------------------------------------------


def samples_of(here: Path, content: str) -> list[Any]:
    (here / "samples.jsonl").write_text(content, encoding="utf-8")
    return run_with(here, samples={"path": "samples.jsonl", "kind": "text"}).samples("samples")


def test_samples(here: Path) -> None:
    got = samples_of(here, '{"step": 5, "prompt": "p", "text": "a"}\n\n{"text": "b", "extra": 1}\n')
    assert [(s.text, s.step, s.prompt) for s in got] == [("a", 5, "p"), ("b", None, None)]
    assert got[1].record["extra"] == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"text": "ok"}\n{"text": "broken"\n', "samples.jsonl:2:18: invalid JSON: Expecting ',' delimiter"),
        ('{"text": "ok"}\n{"step": 3}\n', "samples.jsonl:2: sample has no string 'text'"),
        ('{"text": 3}\n', "samples.jsonl:1: 'text' must be a string"),
        ('{"text": "a", "step": "ten"}\n', "samples.jsonl:1: 'step' must be an integer"),
        ('["a list"]\n', "samples.jsonl:1: each line must be a JSON object"),
    ],
)
def test_sample_errors_name_file_and_line(here: Path, content: str, message: str) -> None:
    with pytest.raises(ArtifactError) as info:
        samples_of(here, content)
    assert str(info.value).startswith(message), str(info.value)


def test_samples_not_utf8(here: Path) -> None:
    (here / "samples.jsonl").write_bytes(b'{"text": "ok"}\n{"text": "caf\xe9"}\n')
    with pytest.raises(ArtifactError) as info:
        run_with(here, samples={"path": "samples.jsonl", "kind": "text"}).samples("samples")
    assert str(info.value).startswith("samples.jsonl:2: not UTF-8")


def test_fixture_run_reads_whole(here: Path) -> None:
    """The shipped fixture run reads end to end: every artifact, every kind."""
    run = load_run(FIXTURES / "runs" / "basic" / "run.yaml")
    assert run.metrics("metrics").steps.size == 30
    assert run.metrics("val").steps.tolist() == [90, 190, 290]
    assert len(run.samples("samples")) == 5
