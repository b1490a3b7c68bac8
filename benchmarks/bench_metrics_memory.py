"""Peak memory of the CSV and metrics-JSONL readers (issue 11): reading `step` and `loss` of a wide
300 MB CSV and a 100 MB JSONL log, beside pandas.read_csv / pandas.read_json(lines=True) of the same file.

    python benchmarks/bench_metrics_memory.py [--csv-mb 300] [--jsonl-mb 100]

Each figure is the peak RSS of a fresh child process above its RSS right after its imports (the
baseline), so the interpreter and libraries do not count. The baseline is taken after the imports and,
for the registry, after one tiny parse that makes Arrow allocate its pools (~8 MB, once per process).
The peak is the process's RSS high-water mark (VmHWM, what getrusage's ru_maxrss reports), reset at
the baseline through /proc/self/clear_refs (Linux only): ru_maxrss itself cannot be used, as a child
created by fork+exec starts with its parent's peak (here the data generator's), which no reset clears.
The target is at most 1.5x the in-memory size of the columns read (step int64 + loss float64 + a presence mask each).
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
    rows = _rows_for(mb, 172)  # bytes a row takes, measured
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
    rows = _rows_for(mb, 181)
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
import sys
from pathlib import Path
kind, path = sys.argv[1], Path(sys.argv[2])
if kind == "registry":
    from registry.readers.metrics.table import MetricsTable
    import numpy, pyarrow as pa, pyarrow.csv, pyarrow.json  # imported before the baseline, as pandas is
    # Arrow allocates its pools on first use (~8 MB, once per process, whatever the file): part of the baseline.
    pyarrow.csv.read_csv(pa.BufferReader(b"a\\n1\\n")); pyarrow.json.read_json(pa.BufferReader(b'{"a": 1}\\n'))
    class Spec:
        format = None; where = {}; columns = {}; run = None; step_pattern = None; aliases = {}; axes = {}
    fmt = "jsonl" if path.suffix == ".jsonl" else "csv"
    Spec.format = fmt
else:
    import pandas as pd
def hwm():
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
# The imports' own peak must not hide the read's: reset the high-water mark (Linux), then take the baseline.
open("/proc/self/clear_refs", "w").write("5")
base = hwm()
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
peak = hwm()
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
