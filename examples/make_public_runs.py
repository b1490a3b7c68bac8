"""Build run folders under runs/ from the public training logs (real data, provenance in each run.yaml).

    python examples/make_public_runs.py PATH/TO/public-runs

- runs/llmc-gpt2-124m/                 llm.c GPT-2 124M (train every step, val every 250)
- runs/modded-nanogpt-1p5b/<run_id>/   three 1.5B runs sharing data order
- runs/modded-nanogpt-124m-valueembed/<run_id>/   38 repeats, same init and data order
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent / "runs"
SOURCE = "KellerJordan/modded-nanogpt"


def write_run(folder: Path, frame: pd.DataFrame, manifest: dict[str, object]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "metrics.csv", index=False)
    text = yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True, width=100)
    (folder / "run.yaml").write_text(text, encoding="utf-8")


def split_artifacts() -> dict[str, object]:
    return {
        "metrics": {"path": "metrics.csv", "where": {"split": "train"}},
        "val": {"path": "metrics.csv", "where": {"split": "val"}},
    }


def llmc(src: Path) -> None:
    frame = pd.read_csv(src / "llmc_gpt2_124m_train_log.csv")
    write_run(
        ROOT / "llmc-gpt2-124m",
        frame,
        {
            "id": "llmc-gpt2-124m",
            "description": "llm.c GPT-2 124M, 19,560 steps on 8xH100: train loss, lr and grad norm every step "
            f"(global batch mean), val loss every 250 steps. Source: {SOURCE} "
            "records/track_1_short/2024-10-13_llmc/main.log.",
            "tags": ["transformer", "gpt2", "llm.c", "public-log"],
            # The record's date in the source path; no time of day is known.
            "created": "2024-10-13",
            "config": {"model": "gpt2-124m", "steps": 19560, "optimizer": "AdamW"},
            "artifacts": split_artifacts(),
        },
    )


def scaleup(src: Path) -> None:
    frame = pd.read_csv(src / "modded_nanogpt_1p5b_scaleup_3runs.csv")
    for run_id, rows in frame.groupby("run_id", sort=True):
        first = rows.iloc[0]
        optimizer = str(first["optimizer"])
        tag = "muon" if optimizer.startswith("Muon") else "adamw"
        write_run(
            ROOT / "modded-nanogpt-1p5b" / f"nanogpt-1p5b-{run_id}",
            rows[["step", "split", "loss", "train_time_ms"]],
            {
                "id": f"nanogpt-1p5b-{run_id}",
                "description": f"modded-nanogpt 1.5B (52 layers, d=1536), {optimizer}, "
                f"{int(first['num_iterations'])} steps. The train loss is rank 0's last micro-batch, so "
                f"one-step blips are frequent. Same data order as the other 1.5B runs. Source: {SOURCE} "
                "records/track_1_short/2024-10-20_ScaleUp1B.",
                "tags": ["transformer", "gpt2", "modded-nanogpt", "nanogpt-1p5b", tag, "public-log"],
                "created": "2024-10-20",
                "config": {
                    "optimizer": optimizer,
                    "num_iterations": int(first["num_iterations"]),
                    "device_batch_size": int(first["device_batch_size"]),
                },
                "artifacts": split_artifacts(),
            },
        )


def valueembed(src: Path) -> None:
    frame = pd.read_csv(src / "modded_nanogpt_124m_valueembed_multirun.csv")
    for run_id, rows in frame.groupby("run_id", sort=True):
        write_run(
            ROOT / "modded-nanogpt-124m-valueembed" / f"valueembed-{run_id}",
            rows[["step", "split", "loss", "train_time_ms"]],
            {
                "id": f"valueembed-{run_id}",
                "description": "modded-nanogpt 124M ValueEmbed record run, 1,530 steps; one of 38 repeats with the "
                "same initialisation and data order. Train loss is one micro-batch on one rank. "
                f"Source: {SOURCE} records/track_1_short/2024-12-04_ValueEmbed.",
                "tags": ["transformer", "gpt2", "modded-nanogpt", "valueembed-124m", "public-log"],
                "created": "2024-12-04",
                "config": {"model": "gpt2-124m", "steps": 1530},
                "artifacts": split_artifacts(),
            },
        )


if __name__ == "__main__":
    source = Path(sys.argv[1])
    llmc(source)
    scaleup(source)
    valueembed(source)
