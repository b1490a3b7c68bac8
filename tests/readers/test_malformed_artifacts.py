"""Malformed artifacts are bad input (issue 12): exit 2, one located line, nothing written — never
an evaluator `error`, a crash or a silently wrong number. Each case pins the message."""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import Project, invoke, write_run


def refused(project: Project, expected: str) -> None:
    before = project.verdict_snapshot()
    result = invoke("evaluate")
    assert result.exit_code == 2, result.output
    assert result.output == expected + "\n"
    assert project.verdict_snapshot() == before


def text_run(project: Project, lines: list[str]) -> None:
    run = project.runs / "r"
    write_run(run, "r", {"samples": {"path": "samples.jsonl", "kind": "text"}})
    (run / "samples.jsonl").write_text("".join(line + "\n" for line in lines))
    project.add_claim("claims/text/refusals-are-rare.yaml")


def tensor_run(project: Project, name: str, data: bytes) -> None:
    run = project.runs / "r"
    write_run(run, "r", {"activations": {"path": name}})
    (run / name).write_bytes(data)
    project.add_claim("claims/activation/resid-rms-bounded.yaml")


def test_jsonl_nested_100000_deep(project: Project) -> None:
    text_run(project, ['{"text": "ok"}', '{"text": ' + "[" * 100_000 + "]" * 100_000 + "}"])
    refused(project, "runs/r/samples.jsonl:2: invalid JSON: nested too deeply")


def test_jsonl_integer_over_4300_digits(project: Project) -> None:
    text_run(project, ['{"text": "ok", "step": ' + "9" * 5000 + "}"])
    refused(project, "runs/r/samples.jsonl:1: invalid JSON: an integer has too many digits")


def npy_bytes(header: str, data: bytes) -> bytes:
    head = header.encode("latin1")
    head += b" " * (-(len(head) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(head)) + head + data


def test_npy_negative_shape(project: Project) -> None:
    tensor_run(project, "resid.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, -2), }", b"\0" * 16))
    refused(project, "runs/r/resid.npy: not a readable .npy file: negative dimension in shape [-2, -2] "
            "(hint: the file may be truncated)")


def safetensors(header: object, data: bytes = b"\0" * 16) -> bytes:
    head = json.dumps(header).encode() if not isinstance(header, bytes) else header
    return struct.pack("<Q", len(head)) + head + data


ST_CASES = {
    "negative-shape": ({"resid": {"dtype": "F32", "shape": [-2, -2], "data_offsets": [0, 16]}},
                       "malformed header entry for tensor 'resid' "
                       "(hint: shape and data_offsets are lists of non-negative integers)"),
    "negative-offset": ({"resid": {"dtype": "F32", "shape": [4], "data_offsets": [-16, 0]}},
                        "malformed header entry for tensor 'resid' "
                        "(hint: shape and data_offsets are lists of non-negative integers)"),
    "offsets-reversed": ({"resid": {"dtype": "F32", "shape": [0], "data_offsets": [16, 0]}},
                         "tensor 'resid': data_offsets [16, 0] do not hold F32 [0] (0 bytes)"),
    "size-mismatch": ({"resid": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 12]}},
                      "tensor 'resid': data_offsets [0, 12] do not hold F32 [2, 2] (16 bytes)"),
    "float-shape": ({"resid": {"dtype": "F32", "shape": [2.5], "data_offsets": [0, 10]}},
                    "malformed header entry for tensor 'resid' "
                    "(hint: shape and data_offsets are lists of non-negative integers)"),
    "list-dtype": ({"resid": {"dtype": ["F32"], "shape": [4], "data_offsets": [0, 16]}},
                   "tensor 'resid' has unsupported dtype ['F32']"),
    "metadata-not-strings": ({"__metadata__": {"axes": 3}, "resid": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}},
                             "safetensors __metadata__ is not a JSON object of strings"),
    "nested-header": (b"[" * 100_000 + b"]" * 100_000,
                      "not a readable safetensors file: its JSON header is nested too deeply"),
}


@pytest.mark.parametrize("case", sorted(ST_CASES))
def test_malformed_safetensors(project: Project, case: str) -> None:
    header, message = ST_CASES[case]
    tensor_run(project, "resid.safetensors", safetensors(header))
    refused(project, f"runs/r/resid.safetensors: {message}")


def test_npz_member_with_unknown_compression(project: Project, tmp_path: Path) -> None:
    src = tmp_path / "a.npz"
    np.savez(src, resid=np.ones(4, dtype=np.float32))
    data = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as z:
        info = z.getinfo("resid.npy")
    # The compression method in the local header (offset 8) and the central directory entry (offset 10).
    data[info.header_offset + 8 : info.header_offset + 10] = struct.pack("<H", 77)
    central = bytes(data).rfind(b"PK\x01\x02")
    data[central + 10 : central + 12] = struct.pack("<H", 77)
    tensor_run(project, "resid.npz", bytes(data))
    refused(project, "runs/r/resid.npz: cannot read tensor 'resid': That compression method is not supported "
            "(hint: save it with numpy.savez or numpy.savez_compressed)")


def metrics_run(project: Project, name: str, text: str, **spec: object) -> None:
    run = project.runs / "r"
    write_run(run, "r", {"metrics": {"path": name, **spec}})
    (run / name).write_text(text)
    project.add_claim("claims/loss/final-loss-below-2.yaml")


def test_metrics_jsonl_nested_100000_deep(project: Project) -> None:
    metrics_run(project, "m.jsonl", '{"step": 0, "loss": 1}\n{"step": 1, "loss": ' + "[" * 100_000 + "]" * 100_000 + "}\n",
                kind="metrics")
    refused(project, "runs/r/m.jsonl:2: invalid JSON: nested too deeply")


def test_metrics_jsonl_integer_over_4300_digits(project: Project) -> None:
    """Not a crash: the metrics JSONL reader (pyarrow) reads a number beyond float range as inf, a
    written non-finite value, which the claim then judges."""
    metrics_run(project, "m.jsonl", '{"step": 0, "loss": ' + "9" * 5000 + "}\n", kind="metrics")
    result = invoke("evaluate")
    assert result.exit_code == 0, result.output
    assert "final-loss: fail (value=inf; n=1)" in result.output


def test_huge_cell_is_not_echoed_whole(project: Project) -> None:
    metrics_run(project, "m.csv", "step,loss\n0,1.0\n1," + "x" * 100_000 + "\n")
    result = invoke("evaluate")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("runs/r/m.csv:3: column 'loss' is not numeric ('xxxx")
    assert len(result.output.splitlines()) == 1 and len(result.output) < 1500
    assert "…" in result.output


def test_cell_beyond_the_csv_field_limit(project: Project) -> None:
    """5 MB in one cell: past the csv module's field limit, a located error (was an evaluator error, exit 3)."""
    metrics_run(project, "m.csv", "step,loss\n0,1.0\n1," + "x" * 5_000_000 + "\n")
    refused(project, "runs/r/m.csv:3: not a readable table: field larger than field limit (131072)")


def test_npy_error_does_not_echo_content(project: Project) -> None:
    tensor_run(project, "resid.npy", b"root:*:19000:0:99999:7:::\n")
    refused(project, "runs/r/resid.npy: not a readable .npy file: it does not start with the .npy magic string "
            "(hint: the file may be truncated)")


def test_row_log_step_outside_int64(project: Project) -> None:
    metrics_run(project, "metrics.csv", "epoch,step,loss\n0,1,2.0\n0,18446744073709551615,1.5\n", format="lightning")
    refused(project, "runs/r/metrics.csv:3: step 18446744073709551615 is outside the 64-bit integer range "
            "(hint: steps must fit in int64)")


def test_trainer_state_integer_over_4300_digits(project: Project) -> None:
    metrics_run(project, "trainer_state.json", '{"log_history": [{"step": 1, "loss": ' + "9" * 5000 + "}]}")
    refused(project, "runs/r/trainer_state.json: invalid JSON: an integer has too many digits")


def test_metrics_jsonl_key_not_utf8(project: Project) -> None:
    run = project.runs / "r"
    write_run(run, "r", {"metrics": {"path": "m.jsonl", "kind": "metrics"}})
    (run / "m.jsonl").write_bytes(b'{"step": 0, "loss": 1}\n{"st\xf3p": 1, "loss": 2}\n')
    project.add_claim("claims/loss/final-loss-below-2.yaml")
    refused(project, "runs/r/m.jsonl:2:5: not UTF-8")
