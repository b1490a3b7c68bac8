"""Peak memory of the CSV and metrics-JSONL readers (issue 11): reading `step` and `loss` of a wide
300 MB CSV and a 100 MB JSONL log, beside pandas.read_csv / pandas.read_json(lines=True) of the same file.

    python benchmarks/bench_metrics_memory.py [--csv-mb 300] [--jsonl-mb 100]

Each figure is the peak RSS of a fresh child process (resource.getrusage ru_maxrss) above its RSS right
after its imports (the baseline), so the interpreter and libraries do not count; the target is at most
1.5x the in-memory size of the columns read (step int64 + loss float64 + a presence mask each).
Data is generated once under benchmarks/_data/ (git-ignored).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"
EXTRA = 20  # metric columns besides step and loss: a wide log, as real ones are


def _rows_for(mb: int, bytes_per_row: int) -> int:
    return max(1000, mb * 1_000_000 // bytes_per_row)


def make_csv(mb: int) -> tuple[Path, int]:
    """step, loss, and EXTRA metric columns; loss is empty on every 10th row (a validation row)."""
    import numpy as np

    path = DATA / f"metrics_{mb}mb.csv"
    rows = _rows_for(mb, 14 + 9 * (EXTRA + 1))
    if not path.exists():
        DATA.mkdir(exist_ok=True)
        rng = np.random.default_rng(0)
        with path.open("w") as fh:
            fh.write(",".join(["step", "loss", *[f"m{i}" for i in range(EXTRA)]]) + "\n")
            for start in range(0, rows, 100_000):
                n = min(100_000, rows - start)
                block = np.round(rng.random((n, EXTRA + 1)) * 4, 5).astype(str)
                block[np.arange(start, start + n) % 10 == 9, 0] = ""
                steps = np.arange(start, start + n).astype(str)[:, None]
                fh.write("\n".join(",".join(r) for r in np.hstack([steps, block])) + "\n")
    return path, rows


def make_jsonl(mb: int) -> tuple[Path, int]:
    import json

    import numpy as np

    path = DATA / f"metrics_{mb}mb.jsonl"
    rows = _rows_for(mb, 24 + 17 * (EXTRA // 2 + 1))
    if not path.exists():
        DATA.mkdir(exist_ok=True)
        rng = np.random.default_rng(0)
        with path.open("w") as fh:
            for step in range(rows):
                row: dict[str, float | int] = {"step": step}
                if step % 10 != 9:
                    row["loss"] = round(float(rng.random() * 4), 5)
                row.update({f"m{i}": round(float(v), 5) for i, v in enumerate(rng.random(EXTRA // 2))})
                fh.write(json.dumps(row) + "\n")
    return path, rows


PROBE = """
import resource, sys
from pathlib import Path
kind, path = sys.argv[1], Path(sys.argv[2])
if kind == "registry":
    from registry.readers.metrics.table import MetricsTable
    import numpy, pyarrow.csv  # imported before the baseline, as pandas is for the pandas lines
    class Spec:
        format = None; where = {}; columns = {}; run = None; step_pattern = None; aliases = {}; axes = {}
    fmt = "jsonl" if path.suffix == ".jsonl" else "csv"
    Spec.format = fmt
else:
    import pandas as pd
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if kind == "registry":
    table = MetricsTable(path, Spec())
    steps, loss, present = table.steps, table.column("loss"), table.present("loss")
    rows = int(steps.size)
elif path.suffix == ".jsonl":
    frame = pd.read_json(path, lines=True)[["step", "loss"]]
    rows = len(frame)
else:
    frame = pd.read_csv(path, usecols=None)[["step", "loss"]]
    rows = len(frame)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(base, peak, rows)
"""


def probe(kind: str, path: Path) -> tuple[float, int]:
    out = subprocess.run([sys.executable, "-c", PROBE, kind, str(path)], check=True, capture_output=True, text=True)
    base, peak, rows = out.stdout.split()
    return (int(peak) - int(base)) / 1024, int(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv-mb", type=int, default=300)
    parser.add_argument("--jsonl-mb", type=int, default=100)
    args = parser.parse_args()
    for label, (path, rows) in (("CSV", make_csv(args.csv_mb)), ("JSONL", make_jsonl(args.jsonl_mb))):
        needed = rows * (8 + 8 + 1 + 1) / 2**20  # step int64, loss float64, a presence byte each
        ours, n = probe("registry", path)
        baseline, _ = probe("pandas", path)
        size = path.stat().st_size / 2**20
        print(
            f"{label} {size:.0f} MiB, {n:,} rows: registry {ours:.0f} MiB above baseline "
            f"({ours / needed:.2f}x the {needed:.0f} MiB of the columns read; target <= 1.5x), "
            f"pandas {baseline:.0f} MiB ({baseline / max(ours, 1e-9):.1f}x ours)"
        )


if __name__ == "__main__":
    main()
