"""Build the small example runs under runs/ from public training logs (provenance in each run.yaml).

    python examples/make_example_runs.py PATH/TO/public-runs

Real data: the loss curves and generated samples. The activation file of the minGPT example is
synthetic (a fixed random two-layer network applied to the samples' characters) and says so:
it only shows the activation path end to end until runs from a real training job ship.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent / "runs"


def mingpt(src: Path) -> None:
    out = ROOT / "example-mingpt-shakespeare"
    out.mkdir(parents=True, exist_ok=True)
    rows = [json.loads(line) for line in (src / "mingpt_char_logs_with_samples.jsonl").open()]
    rows = [r for r in rows if r["run"] == "chargpt_shakespeare_2.71M"]
    with (out / "metrics.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["step", "loss", "iter_dt_ms"])
        for r in rows:
            if r["type"] == "loss":
                w.writerow([r["iter"], r["train_loss"], r["iter_dt_ms"]])
    samples = [r for r in rows if r["type"] == "sample"]
    with (out / "samples.jsonl").open("w") as fh:
        for r in samples:
            fh.write(json.dumps({"step": r["iter"], "text": r["text"]}, ensure_ascii=False) + "\n")

    # Synthetic activations: one fixed random network, the characters of each checkpoint's sample.
    rng = np.random.default_rng(0)
    vocab = sorted({c for r in samples for c in r["text"]})
    emb = rng.normal(0, 1, (len(vocab), 32)).astype(np.float32)
    w1 = rng.normal(0, 1 / np.sqrt(32), (32, 32)).astype(np.float32)
    tensors = {}
    for r in samples[-4:]:
        ids = np.array([vocab.index(c) for c in r["text"][:64]])
        x = emb[ids]
        tensors[f"step_{r['iter']:04d}.resid_pre"] = x
        tensors[f"step_{r['iter']:04d}.resid_post"] = x + np.tanh(x @ w1)
    from safetensors.numpy import save_file

    axes = {k: ["pos", "d_model"] for k in tensors}
    save_file(tensors, str(out / "activations.safetensors"), metadata={"axes": json.dumps(axes, sort_keys=True)})


def llmc(src: Path) -> None:
    out = ROOT / "example-llmc-gpt2-124m"
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.csv").write_bytes((src / "llmc_gpt2_124m_train_log.csv").read_bytes())


if __name__ == "__main__":
    source = Path(sys.argv[1])
    mingpt(source)
    llmc(source)
