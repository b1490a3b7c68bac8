"""Fuzz (issue 12): mutated claim files, run manifests and artifacts of every format the registry
reads must give success or a located, one-line `UserError` (or, for an artifact, `CannotMeasure`:
nothing to measure) — never another exception, a hang or a crash.

Each target starts from a valid seed file and applies a few random edits: byte flips, inserted or
deleted spans, duplicated spans, truncation, and "interesting" tokens (NUL and control characters,
YAML tags and aliases, a 5,000-digit integer, deep brackets, negative numbers, bad dates, magic
numbers). Hypothesis draws the edits, derandomized so CI is reproducible.

`REGISTRY_FUZZ_EXAMPLES` sets the total number of examples over all targets: 600 by default (a quick
local `pytest`), 2,400 in `.ci/run`; `REGISTRY_FUZZ_EXAMPLES=50000 pytest tests/test_fuzz.py` for a long run.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import sqlite3
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import FIXTURES, safetensors_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.errors import CannotMeasure, UserError, UserErrors
from registry.language.load import load_claim
from registry.plugins import EvaluatorRegistry
from registry.runs.run import Run, load_run

TOTAL = int(os.environ.get("REGISTRY_FUZZ_EXAMPLES", "600"))

TOKENS = [
    b"\x00", b"\x07", b"\x1b[31m", b"\r", b"\n", b"\t", b"\xff\xfe", b"\xe9", b"-1", b"-2", b"0", b"1e999", b"nan",
    b"9" * 5000, b"[" * 300, b"{" * 300, b"]", b"}", b'"', b"'", b",", b": ", b"- ", b"#",
    b"!!int ", b"!!float ", b"!!bool ", b"!!timestamp ", b"!!map ", b"!!seq ", b"!!python/object:os.system ",
    b"&a ", b"*a", b"<<: ", b"2026-02-30", b"18446744073709551615", b"-9223372036854775809", b"1180591620717411303424",
    b"PK\x03\x04", b"\x93NUMPY", b"\x89HDF\r\n\x1a\n", b"SQLite format 3\x00", b"(a+)+$", b"(?=x)", b"\\1",
]

EDIT = st.tuples(
    st.sampled_from(["flip", "insert", "delete", "duplicate", "token", "truncate"]),
    st.integers(min_value=0, max_value=1 << 30),
    st.integers(min_value=1, max_value=64),
    st.binary(min_size=1, max_size=8),
    st.sampled_from(TOKENS),
)
EDITS = st.lists(EDIT, min_size=1, max_size=4)


def mutate(seed: bytes, edits: list[tuple[str, int, int, bytes, bytes]]) -> bytes:
    data = bytearray(seed)
    for op, pos, span, junk, token in edits:
        at = pos % (len(data) + 1)
        if op == "flip" and data:
            at = pos % len(data)
            data[at] ^= junk[0] or 1
        elif op == "insert":
            data[at:at] = junk
        elif op == "delete":
            del data[at : at + span]
        elif op == "duplicate":
            data[at:at] = data[at : at + span]
        elif op == "token":
            data[at:at] = token
        elif op == "truncate":
            del data[at:]
    return bytes(data)


def accepted(call: Callable[[], Any]) -> None:
    """Run `call`: success, CannotMeasure, or located one-line UserErrors; anything else fails the test."""
    try:
        call()
    except CannotMeasure:
        pass
    except UserError as exc:
        for err in exc.errors if isinstance(exc, UserErrors) else [exc]:
            assert err.location is not None, err.render()
            line = err.render()
            assert "\n" not in line and "\r" not in line, line
            assert len(line) < 2500, line[:200]


def examples(share: float) -> settings:
    return settings(
        max_examples=max(10, int(TOTAL * share)),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


@functools.cache
def evaluators() -> EvaluatorRegistry:
    return EvaluatorRegistry()


# --- the claim loader and the manifest loader ------------------------------------------------------

CLAIM_SEED = (FIXTURES / "claims" / "text" / "refusals-are-rare.yaml").read_bytes()
REGISTERED_SEED = (FIXTURES / "claims" / "loss" / "final-loss-below-2.yaml").read_bytes()
MANIFEST_SEED = (FIXTURES / "runs" / "basic" / "run.yaml").read_bytes()


@examples(0.15)
@given(edits=EDITS)
def test_fuzz_claim_loader(edits: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "refusals-are-rare.yaml"
        path.write_bytes(mutate(CLAIM_SEED, edits))
        accepted(lambda: load_claim(path, evaluators()))


@examples(0.1)
@given(edits=EDITS)
def test_fuzz_registered_claim(edits: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "final-loss-below-2.yaml"
        path.write_bytes(mutate(REGISTERED_SEED, edits))
        accepted(lambda: load_claim(path, evaluators()))


@examples(0.1)
@given(edits=EDITS)
def test_fuzz_manifest_loader(edits: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "basic"
        shutil.copytree(FIXTURES / "runs" / "basic", run)
        (run / "run.yaml").write_bytes(mutate(MANIFEST_SEED, edits))
        accepted(lambda: load_run(run / "run.yaml"))


# --- every artifact reader -------------------------------------------------------------------------


def read_everything(run: Run, name: str) -> None:
    """What evaluators do with an artifact: every column, every tensor block, every sample field."""
    kind = run.spec(name).resolved_kind()
    if kind == "metrics":
        table = run.metrics(name)
        table.steps  # noqa: B018 (reading is the test)
        for column in sorted(set(table.available()) - set(run.spec(name).where)):
            with contextlib.suppress(CannotMeasure):
                table.column(column)
    elif kind == "activations":
        art = run.tensors(name)
        for ckpt in art.checkpoints:
            store = art.store(ckpt)
            for tensor_name in store.names():
                tensor = store.tensor(tensor_name)
                for _ in tensor.blocks(1 << 16):
                    pass
    else:
        for sample in run.iter_samples(name):
            sample.tokens()
            sample.token_logprobs()
            sample.top_logprobs()
            sample.metrics()
    run.artifact_hash(name)


def _tensorboard(folder: Path) -> None:
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter

    with (folder / "events.out.tfevents.1700000000.host.1.0").open("wb") as fh:
        writer = RecordWriter(fh)
        writer.write(event_pb2.Event(wall_time=1.7e9, file_version="brain.Event:2").SerializeToString())
        for step in range(4):
            value = summary_pb2.Summary.Value(tag="loss", simple_value=2.0 - step / 4)
            ev = event_pb2.Event(step=step, wall_time=1.7e9, summary=summary_pb2.Summary(value=[value]))
            writer.write(ev.SerializeToString())


def _mlflow_db(folder: Path) -> None:
    con = sqlite3.connect(folder / "mlflow.db")
    con.executescript(
        "CREATE TABLE runs (run_uuid VARCHAR(32) PRIMARY KEY, name VARCHAR(250), experiment_id INTEGER,"
        " lifecycle_stage VARCHAR(20));"
        "CREATE TABLE metrics (key VARCHAR(250) NOT NULL, value FLOAT NOT NULL, timestamp BIGINT NOT NULL,"
        " run_uuid VARCHAR(32) NOT NULL, step BIGINT DEFAULT 0 NOT NULL, is_nan BOOLEAN DEFAULT 0 NOT NULL);"
        "INSERT INTO runs VALUES ('9f8e7d6c', 'swift-elk-1', 0, 'active');"
        "INSERT INTO metrics VALUES ('loss', 2.0, 100, '9f8e7d6c', 0, 0), ('loss', 1.5, 200, '9f8e7d6c', 10, 0);"
    )
    con.commit()
    con.close()


def _mlflow_files(folder: Path) -> None:
    run = folder / "mlruns" / "0" / "a1b2c3d4e5f6"
    (run / "metrics").mkdir(parents=True)
    (run / "meta.yaml").write_text("run_id: a1b2c3d4e5f6\nrun_name: owl\nexperiment_id: '0'\n")
    (run / "metrics" / "loss").write_text("1700000000000 2.5 0\n1700000000100 2.25 1\n1700000000200 nan 2\n")
    (folder / "mlruns" / "0" / "meta.yaml").write_text("experiment_id: '0'\nname: exp0\n")


def _h5(path: Path) -> None:
    import h5py

    with h5py.File(path, "w") as f:
        f["acts/resid"] = np.arange(12, dtype=np.float32).reshape(3, 4)
        f.create_dataset("acts/chunked", data=np.ones((4, 4), dtype=np.float32), chunks=(2, 2), compression="gzip")


CHAT = {"choices": [{"message": {"content": "hi there"}, "logprobs": {"content": [
    {"token": "hi", "logprob": -0.1, "top_logprobs": [{"token": "hi", "logprob": -0.1}, {"token": "yo", "logprob": -2.5}]},
]}}], "step": 3}
COMPLETION = {"choices": [{"text": "hi", "logprobs": {"tokens": ["hi"], "token_logprobs": [-0.1],
                                                     "top_logprobs": [{"hi": -0.1}]}}]}
LM_EVAL = {"doc_id": 0, "arguments": [["Q: 2+2?", {"until": ["\n"]}]], "resps": [["4"]], "filtered_resps": ["4"],
           "target": "4", "exact_match": 1.0, "metrics": ["exact_match"]}
TRAINER_STATE = {"global_step": 20, "log_history": [{"loss": 2.5, "step": 10, "epoch": 0.5},
                                                    {"eval_loss": 2.6, "step": 10}, {"loss": 2.1, "step": 20}]}


def _text(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


# name -> (the artifact's spec in run.yaml, the file that is mutated, how the seed is written)
FORMATS: dict[str, tuple[dict[str, Any], str, Callable[[Path], None]]] = {
    "csv": ({"path": "m.csv", "where": {"split": "train"}}, "m.csv",
            lambda d: (d / "m.csv").write_text("step,loss,split\n0,2.5,train\n1,2.0,train\n2,nan,val\n")),
    "tsv": ({"path": "m.tsv"}, "m.tsv", lambda d: (d / "m.tsv").write_text("step\tloss\n0\t2.5\n1\t2.0\n")),
    "jsonl": ({"path": "m.jsonl", "kind": "metrics"}, "m.jsonl",
              lambda d: _text(d / "m.jsonl", [{"step": 0, "loss": 2.5}, {"step": 1, "loss": 2.0, "acc": 0.5}])),
    "parquet": ({"path": "m.parquet"}, "m.parquet",
                lambda d: pd.DataFrame({"step": [0, 1, 2], "loss": [2.5, 2.0, 1.5]}).to_parquet(d / "m.parquet")),
    "tensorboard": ({"path": "events.out.tfevents.1700000000.host.1.0"}, "events.out.tfevents.1700000000.host.1.0", _tensorboard),
    "mlflow-db": ({"path": "mlflow.db", "run": "swift-elk-1"}, "mlflow.db", _mlflow_db),
    "mlflow-files": ({"path": "mlruns", "format": "mlflow"}, "mlruns/0/a1b2c3d4e5f6/metrics/loss", _mlflow_files),
    "mlflow-meta": ({"path": "mlruns", "format": "mlflow"}, "mlruns/0/a1b2c3d4e5f6/meta.yaml", _mlflow_files),
    "hf": ({"path": "trainer_state.json"}, "trainer_state.json",
           lambda d: (d / "trainer_state.json").write_text(json.dumps(TRAINER_STATE))),
    "lightning": ({"path": "metrics.csv", "format": "lightning"}, "metrics.csv",
                  lambda d: (d / "metrics.csv").write_text("epoch,step,train_loss,val_loss\n0,49,2.5,\n0,49,,2.4\n1,99,2.2,\n")),
    "wandb-csv": ({"path": "export.csv", "format": "wandb"}, "export.csv",
                  lambda d: (d / "export.csv").write_text('"Step","sun-12 - loss","sun-12 - loss__MIN"\n0,2.5,2.5\n1,NaN,\n')),
    "wandb-jsonl": ({"path": "history.jsonl", "format": "wandb"}, "history.jsonl",
                    lambda d: _text(d / "history.jsonl", [{"_step": 0, "loss": 2.5}, {"_step": 1, "loss": 2.4, "e": {"l": 1}}])),
    "npy": ({"path": "resid.npy"}, "resid.npy",
            lambda d: np.save(d / "resid.npy", np.arange(24, dtype=np.float32).reshape(2, 3, 4))),
    "npy-folder": ({"path": "ckpts", "kind": "activations"}, "ckpts/step_100.npy", lambda d: [
        (d / "ckpts").mkdir(), np.save(d / "ckpts" / "step_000.npy", np.ones(4, dtype=np.float16)),
        np.save(d / "ckpts" / "step_100.npy", np.arange(8, dtype=np.int64))]),
    "npz": ({"path": "a.npz"}, "a.npz", lambda d: np.savez(d / "a.npz", resid=np.ones((3, 4), dtype=np.float32), b=np.arange(5))),
    "npz-compressed": ({"path": "a.npz"}, "a.npz",
                       lambda d: np.savez_compressed(d / "a.npz", resid=np.ones((3, 4), dtype=np.float32), b=np.arange(5))),
    "safetensors": ({"path": "a.safetensors"}, "a.safetensors", lambda d: (d / "a.safetensors").write_bytes(safetensors_bytes(
        {"resid": ("F32", np.ones((2, 3))), "bf": ("BF16", [1.0, 2.0]), "i": ("I64", [1, 2, 3])},
        {"axes": '{"resid": ["b", "d"]}'}))),
    "hdf5": ({"path": "a.h5"}, "a.h5", lambda d: _h5(d / "a.h5")),
    "samples": ({"path": "s.jsonl", "kind": "text"}, "s.jsonl", lambda d: _text(d / "s.jsonl", [
        {"step": 1, "id": "a", "prompt": "p", "text": "I refuse", "tokens": ["I", " refuse"], "token_logprobs": [-0.1, -2.0],
         "top_logprobs": [{"I": -0.1}, [{"token": " refuse", "logprob": -2.0}]], "metrics": {"acc": 1}},
        {"text": "ok", "metadata": {"step": 2}}])),
    "samples-renamed": ({"path": "s.jsonl", "kind": "text", "columns": {"text": "out.text", "step": "it"}}, "s.jsonl",
                        lambda d: _text(d / "s.jsonl", [{"it": 1, "out": {"text": "a"}}, {"it": 2, "out": {"text": "b"}}])),
    "openai-chat": ({"path": "c.jsonl", "kind": "text", "format": "openai_chat"}, "c.jsonl",
                    lambda d: _text(d / "c.jsonl", [CHAT, {"response": {"body": CHAT}}])),
    "openai-completions": ({"path": "c.jsonl", "kind": "text", "format": "openai_completions"}, "c.jsonl",
                           lambda d: _text(d / "c.jsonl", [COMPLETION])),
    "lm-eval": ({"path": "l.jsonl", "kind": "text", "format": "lm_eval"}, "l.jsonl", lambda d: _text(d / "l.jsonl", [LM_EVAL])),
}


@functools.cache
def seed_folder(fmt: str) -> Path:
    """A run folder holding the valid seed of `fmt` (made once per session)."""
    spec, _, write = FORMATS[fmt]
    folder = Path(tempfile.mkdtemp(prefix=f"fuzz-seed-{fmt}-"))
    write(folder)
    (folder / "run.yaml").write_text(yaml.safe_dump({"id": "r", "artifacts": {"a": spec}}))
    return folder


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_seed_reads(fmt: str) -> None:
    """The seeds are valid: the fuzz starts from files the readers accept."""
    read_everything(load_run(seed_folder(fmt) / "run.yaml"), "a")


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_fuzz_artifact_reader(fmt: str) -> None:
    if fmt == "tensorboard":
        pytest.importorskip("tensorboard")
    if fmt == "hdf5":
        pytest.importorskip("h5py")
    seed = seed_folder(fmt)
    target = FORMATS[fmt][1]
    original = (seed / target).read_bytes()

    @examples(0.65 / len(FORMATS))
    @given(edits=EDITS)
    def fuzz(edits: list[Any]) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            run = Path(tmp) / "run"
            shutil.copytree(seed, run)
            (run / target).write_bytes(mutate(original, edits))

            def read() -> None:
                read_everything(load_run(run / "run.yaml"), "a")

            accepted(read)

    fuzz()


def test_mutate_applies_each_edit() -> None:
    assert mutate(b"abcdef", [("truncate", 3, 1, b"x", b"")]) == b"abc"
    assert mutate(b"abc", [("token", 1, 1, b"x", b"!!int ")]) == b"a!!int bc"
    assert mutate(b"abc", [("delete", 0, 2, b"x", b"")]) == b"c"
    assert struct.pack("<H", 1) == b"\x01\x00"
