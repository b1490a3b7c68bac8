"""Build runs/mingpt-english and runs/mingpt-shakespeare from the public minGPT char-level logs.

    python examples/make_mingpt_runs.py PATH/TO/public-runs

Source: `mingpt_char_logs_with_samples.jsonl` (console logs of two minGPT `chargpt` runs published
in cccbook/py2gpt, 04b-MinGpt/md/chargpt_{english,shakespeare}.md): training loss records
`{"run", "iter", "type": "loss", "train_loss", "iter_dt_ms"}` and generated samples
`{"run", "iter", "type": "sample", "text"}`. Each run folder gets

- metrics.csv — `step, loss, iter_dt_ms`, one row per logged iteration (the English log has no
  rows for iterations 202-990: the gap is left as it is, not filled);
- samples.jsonl — one sample per checkpoint: `step`, `id`, `prompt` (the conditioning text every
  sample of the run starts with) and `text` (the generated continuation only, so that statistics
  are not diluted by the identical prompt); the log line's full length is kept in `metadata`;
- run.yaml — id, description with provenance, tags, config.

The output is deterministic: running the script again rewrites identical bytes.
"""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "runs"
SOURCE = "mingpt_char_logs_with_samples.jsonl"


@dataclass(frozen=True)
class RunInfo:
    id: str
    prompt_chars: int
    description: str
    config: dict[str, object]
    tags: list[str]


RUNS = {
    "chargpt_english_0.09M": RunInfo(
        id="mingpt-english",
        # The first 128 characters of the training text: minGPT conditions every sample on them.
        prompt_chars=128,
        description=(
            "minGPT char-level GPT (chargpt, 0.09M parameters) trained on a toy English grammar of a dozen "
            "words ('every white cat bite every black pig'). Training loss every 2 iterations and a generated "
            "sample every 10, from the console log published in cccbook/py2gpt "
            "(04b-MinGpt/md/chargpt_english.md), via mingpt_char_logs_with_samples.jsonl; built by "
            "examples/make_mingpt_runs.py. The published log skips iterations 202-990: metrics.csv has no rows "
            "and samples.jsonl no samples there. Each sample is conditioned on the first 128 characters of the "
            "training text (`prompt`); `text` is the 500-character continuation (499 where the log lost a "
            "trailing newline)."
        ),
        config={
            "model": "chargpt",
            "params": "0.09M",
            "dataset": "toy English grammar",
            "iterations": 1270,
            "log_gap": [202, 990],
            "source": "cccbook/py2gpt 04b-MinGpt/md/chargpt_english.md",
        },
        tags=["transformer", "char-level", "mingpt", "public-log", "toy-grammar"],
    ),
    "chargpt_shakespeare_2.71M": RunInfo(
        id="mingpt-shakespeare",
        # minGPT's chargpt demo conditions its samples on "O God, O God!".
        prompt_chars=len("O God, O God!"),
        description=(
            "minGPT char-level GPT (chargpt, 2.71M parameters) trained on tiny-shakespeare for 800 iterations. "
            "Training loss every 10 iterations and a generated sample every 50, from the console log published "
            "in cccbook/py2gpt (04b-MinGpt/md/chargpt_shakespeare.md), via "
            "mingpt_char_logs_with_samples.jsonl; built by examples/make_mingpt_runs.py. Each sample is "
            "conditioned on 'O God, O God!' (`prompt`); `text` is the 500-character continuation (499 where "
            "the log lost a trailing newline)."
        ),
        config={
            "model": "chargpt",
            "params": "2.71M",
            "dataset": "tiny-shakespeare",
            "iterations": 800,
            "source": "cccbook/py2gpt 04b-MinGpt/md/chargpt_shakespeare.md",
        },
        tags=["transformer", "char-level", "mingpt", "public-log", "shakespeare"],
    ),
}


def _yaml_scalar(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def build(src: Path, source_run: str, out_root: Path = ROOT) -> Path:
    meta = RUNS[source_run]
    rows = [json.loads(line) for line in (src / SOURCE).open(encoding="utf-8") if line.strip()]
    rows = [r for r in rows if r["run"] == source_run]
    losses = sorted((r for r in rows if r["type"] == "loss"), key=lambda r: r["iter"])
    samples = sorted((r for r in rows if r["type"] == "sample"), key=lambda r: r["iter"])
    n = meta.prompt_chars
    prompt = samples[0]["text"][:n]
    for r in samples:
        if not r["text"].startswith(prompt):
            raise SystemExit(f"{source_run} sample at iteration {r['iter']} does not start with the prompt")

    out = out_root / meta.id
    out.mkdir(parents=True, exist_ok=True)
    with (out / "metrics.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["step", "loss", "iter_dt_ms"])
        for r in losses:
            w.writerow([r["iter"], r["train_loss"], r["iter_dt_ms"]])
    with (out / "samples.jsonl").open("w", encoding="utf-8", newline="\n") as fh:
        for r in samples:
            record = {
                "id": f"{meta.id}-step{r['iter']:04d}",
                "step": r["iter"],
                "prompt": prompt,
                "text": r["text"][n:],
                "metadata": {"source_run": source_run, "logged_chars": len(r["text"])},
            }
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    config = "\n".join(f"  {k}: {_yaml_scalar(v)}" for k, v in meta.config.items())
    (out / "run.yaml").write_text(
        f"id: {meta.id}\n"
        f"description: {_yaml_scalar(meta.description)}\n"
        f"tags: [{', '.join(meta.tags)}]\n"
        f"config:\n{config}\n"
        "artifacts:\n"
        "  metrics: {path: metrics.csv}\n"
        "  samples: {path: samples.jsonl, kind: text}\n",
        encoding="utf-8",
    )
    return out


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit(__doc__)
    src = Path(argv[0])
    if not (src / SOURCE).is_file():
        raise SystemExit(f"{src / SOURCE} not found")
    for source_run in RUNS:
        print(build(src, source_run))


if __name__ == "__main__":
    main(sys.argv[1:])
