"""The minGPT run folders are reproducible from the public log, and hold what their manifests say."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = Path(os.environ.get("PUBLIC_RUNS", ROOT.parent / "shared" / "data" / "public-runs"))
RUNS = {"chargpt_english_0.09M": "mingpt-english", "chargpt_shakespeare_2.71M": "mingpt-shakespeare"}


@pytest.mark.skipif(not (PUBLIC / "mingpt_char_logs_with_samples.jsonl").exists(), reason="public-runs data not here")
@pytest.mark.parametrize("source_run", sorted(RUNS))
def test_make_mingpt_runs_reproduces_the_committed_folders(source_run: str, tmp_path: Path) -> None:
    from examples.make_mingpt_runs import build

    out = build(PUBLIC, source_run, out_root=tmp_path)
    for name in ("run.yaml", "metrics.csv", "samples.jsonl"):
        assert (out / name).read_bytes() == (ROOT / "runs" / RUNS[source_run] / name).read_bytes(), name


def test_the_english_log_gap_is_kept() -> None:
    folder = ROOT / "runs" / "mingpt-english"
    steps = [int(line.split(",")[0]) for line in (folder / "metrics.csv").read_text().splitlines()[1:]]
    assert not [s for s in steps if 202 <= s <= 990]
    assert steps[:2] == [0, 2] and steps[-1] == 1270
    samples = [json.loads(line) for line in (folder / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(samples) == 49 and not [s for s in samples if 200 < s["step"] < 1000]
    # `text` is the continuation only: every sample was conditioned on the same prompt.
    assert {s["prompt"] for s in samples} == {samples[0]["prompt"]} and len(samples[0]["prompt"]) == 128
