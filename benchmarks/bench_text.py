"""Throughput and memory of the text evaluators on a large artifact.

    python benchmarks/bench_text.py [--samples 1000000] [--separate]

Generates (once, cached under benchmarks/_data/, which git ignores) a JSONL file of generated-text
samples — by default 1,000,000 samples, about 300 MB — with steps, prompts, ids and free metadata.
Then, in a temporary project whose run holds that file (hard-linked, or copied across file systems):

1. a plain `json.loads` loop over the file, in a subprocess: the floor for any JSON reader;
2. `registry evaluate` (the real CLI, in a subprocess) on a claim with a `text.stats` prediction
   (words, distinct-2, rep-4, an inline vocabulary) and a `text.match_rate` prediction, which share
   one parse of the artifact (`Run.text_columns`); the target is at least 0.5x the floor's throughput;
3. with --separate, each evaluator alone as well.

For each it reports wall time, samples per second, peak RSS (of that subprocess alone, from
wait4) and CPU time (user + system, also from wait4), and the throughput ratio to the floor, with
the load average before and after (the machine may be shared). `registry evaluate` also hashes the
artifact (sha256) for the verdict; that is included.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"

_WORD_TEXT = (
    "the of and to a in that is was he for it with as his on be at by i this had not are but from or have an they "
    "which one you were her all she there would their we him been has when who will more no if out so said what up "
    "its about into than them can only other new some could time these two may then do first any my now such like "
    "our over man me even most made after also did many before must through back years where much your way well down "
    "should because each just those people how too little state good very make world still own see men work long get "
    "here between both life being under never day same another know while last might us great old year off come since "
    "against go came right used take three"
)
WORDS = _WORD_TEXT.split()
PROMPTS = ["Once upon a time", "The model said", "In the beginning", "ROMEO:", "Q: what is 2+2?\nA:"]


def generate(path: Path, samples: int, seed: int = 0) -> None:
    """~300 bytes per line: 32-46 words, some samples looping on a phrase (repetition to find)."""
    rng = random.Random(seed)
    tmp = path.with_suffix(".partial")
    with tmp.open("w", encoding="utf-8", newline="\n") as fh:
        buf = []
        for i in range(samples):
            k = rng.randint(32, 46)
            if rng.random() < 0.1:
                phrase = rng.choices(WORDS, k=4)
                words = (phrase * (k // 4 + 1))[:k]
            else:
                words = rng.choices(WORDS, k=k)
            if rng.random() < 0.05:
                words.insert(rng.randrange(len(words)), "I refuse")
            record = {
                "id": f"s{i:07d}",
                "step": (i // 1000) * 100,
                "prompt": PROMPTS[i % len(PROMPTS)],
                "text": " ".join(words),
                "metadata": {"temperature": 0.8, "seed": i},
            }
            buf.append(json.dumps(record))
            if len(buf) == 10000:
                fh.write("\n".join(buf) + "\n")
                buf.clear()
        if buf:
            fh.write("\n".join(buf) + "\n")
    tmp.replace(path)


def data_file(samples: int) -> Path:
    DATA.mkdir(exist_ok=True)
    path = DATA / f"text_samples_{samples}.jsonl"
    if not path.exists():
        print(f"generating {path} ...", flush=True)
        t = time.perf_counter()
        generate(path, samples)
        print(f"  {path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - t:.1f} s", flush=True)
    return path


CLAIM = """\
id: {id}
title: Benchmark claim
statement: Benchmark only.
falsified_if: Never.
predictions:
{predictions}
"""
STATS = """\
  - id: stats
    level: text
    evaluator: text.stats
    params: {n: 2, repetition_n: 4, vocab: [the, of, and, to, a, in, that, is, was, he], steps: [0, null]}
    expect:
      - {stat: repetition_rate, op: "<", value: 0.5}
"""
MATCH = """\
  - id: match
    level: text
    evaluator: text.match_rate
    params: {pattern: "\\\\bI refuse\\\\b", steps: [0, null]}
    expect:
      - {stat: ci_high, op: "<", value: 0.1}
"""


def project(root: Path, data: Path) -> None:
    (root / "claims").mkdir(parents=True)
    (root / "verdicts").mkdir()
    run = root / "runs" / "bench"
    run.mkdir(parents=True)
    try:
        os.link(data, run / "samples.jsonl")
    except OSError:
        shutil.copyfile(data, run / "samples.jsonl")
    (run / "run.yaml").write_text("id: bench\nartifacts:\n  samples: {path: samples.jsonl, kind: text}\n")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "bench"\nversion = "0"\n\n[tool.registry]\nclaims = "claims"\nruns = ["runs"]\nverdicts = "verdicts"\n'
    )
    for cid, preds in (("bench-both", STATS + MATCH), ("bench-stats", STATS), ("bench-match", MATCH)):
        (root / "claims" / f"{cid}.yaml").write_text(CLAIM.format(id=cid, predictions=preds))


def measure(argv: list[str], cwd: Path) -> tuple[float, float, float, str]:
    """(wall seconds, CPU seconds, peak RSS in MB, stdout) of one subprocess."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=os.environ | {"NO_COLOR": "1"})
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}:\n{out}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out


BASELINE = textwrap.dedent(
    """
    import json, sys
    n = 0
    with open(sys.argv[1], "rb") as fh:
        for line in fh:
            json.loads(line)
            n += 1
    print(n)
    """
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=1_000_000)
    ap.add_argument("--separate", action="store_true", help="also time each evaluator on its own")
    args = ap.parse_args()
    data = data_file(args.samples)
    size_mb = data.stat().st_size / 1e6
    n = args.samples
    print(f"artifact: {data.name}, {n:,} samples, {size_mb:.0f} MB; python {sys.version.split()[0]}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows = []
    with tempfile.TemporaryDirectory(dir=DATA) as tmp:
        root = Path(tmp)
        project(root, data)
        wall, cpu, rss, out = measure([sys.executable, "-c", BASELINE, str(data)], root)
        assert int(out.strip()) == n, out
        rows.append(("json.loads loop (1 pass)", wall, cpu, rss))
        registry = [sys.executable, "-m", "registry", "evaluate", "--force"]
        wall, cpu, rss, out = measure([*registry, "bench-both"], root)
        rows.append(("registry evaluate: text.stats + text.match_rate (1 parse + sha256)", wall, cpu, rss))
        if args.separate:
            for cid, label in (("bench-stats", "text.stats"), ("bench-match", "text.match_rate")):
                wall, cpu, rss, _ = measure([*registry, cid], root)
                rows.append((f"registry evaluate: {label} alone (1 parse + sha256)", wall, cpu, rss))
        verdict = (root / "verdicts" / "bench-both" / "bench.yaml").read_text()
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"\n{'what':72} {'wall s':>7} {'CPU s':>7} {'samples/s':>11} {'peak RSS MB':>12}")
    for label, wall, cpu, rss in rows:
        print(f"{label:72} {wall:7.1f} {cpu:7.1f} {n / wall:11,.0f} {rss:12.0f}")
    floor_wall, floor_cpu = rows[0][1], rows[0][2]
    for label, wall, cpu, _ in rows[1:]:
        what = label.split(": ", 1)[1]
        print(f"vs the floor, {what}: throughput {floor_wall / wall:.2f}x (wall), {floor_cpu / cpu:.2f}x (CPU)")
    import yaml

    print("\nverdict statistics:")
    for pred in yaml.safe_load(verdict)["predictions"]:
        print(f"  {pred['id']}: {pred['outcome']}, n={pred['n']}, {pred['statistics']}")


if __name__ == "__main__":
    main()
