"""Core speed (issue: the core registry): CLI start-up, validating 1,000 claims, and loss.spikes on a
10,000,000-row Parquet metrics file end to end, each beside a baseline measured in the same run.

    python benchmarks/bench_core.py [--rows 10000000]

Data is generated once under benchmarks/_data/ (git-ignored).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from measure import best_of

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"


def metrics_parquet(rows: int) -> Path:
    """step, loss, grad_norm with a few injected spikes; deterministic."""
    path = DATA / f"metrics_{rows}.parquet"
    if path.exists():
        return path
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    DATA.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    steps = np.arange(rows, dtype=np.int64)
    loss = (2.0 + 8.0 / np.sqrt(1 + steps / 1000) + rng.normal(0, 0.02, rows)).astype(np.float64)
    grad = np.abs(rng.normal(1.0, 0.1, rows))
    spikes = rng.choice(rows - 100, size=max(1, rows // 100_000), replace=False) + 100
    loss[spikes] *= 1.6
    grad[spikes - 3] *= 5
    pq.write_table(pa.table({"step": steps, "loss": loss, "grad_norm": grad}), path)
    return path


def project(root: Path, parquet: Path) -> None:
    (root / "pyproject.toml").write_text('[tool.registry]\nclaims = "claims"\nruns = ["runs"]\nverdicts = "verdicts"\n')
    run = root / "runs" / "big"
    run.mkdir(parents=True)
    shutil.copyfile(parquet, run / "metrics.parquet")
    (run / "run.yaml").write_text("id: big\ntags: [bench]\nartifacts:\n  metrics: {path: metrics.parquet}\n")
    c = root / "claims" / "bench"
    c.mkdir(parents=True)
    (c / "spikes.yaml").write_text(
        "id: spikes\ntitle: t\nstatement: s\nfalsified_if: f\npredictions:\n"
        "  - {id: p, level: loss, evaluator: loss.spikes, params: {column: loss}, expect: [{stat: count, op: '>=', value: 1}]}\n"
    )


def many_claims(root: Path, n: int) -> Path:
    folder = root / "claims"
    for i in range(n):
        area = folder / f"area{i % 10}"
        area.mkdir(parents=True, exist_ok=True)
        (area / f"claim-{i:04d}.yaml").write_text(
            f"""id: claim-{i:04d}
title: Generated claim {i}
statement: >
  Generated for the validation benchmark.
falsified_if: >
  Never; it is a benchmark.
status: registered
authors: [bench]
tags: [bench]
references:
  - {{title: "A paper", url: "https://example.org/{i}"}}
applies_to: {{tags: [transformer]}}
predictions:
  - id: final-loss
    level: loss
    evaluator: metric.threshold
    params: {{column: loss, steps: [100, null], reduce: median}}
    expect:
      - {{stat: value, op: "<", value: 3.5}}
    min_samples: 10
  - id: spikes
    level: loss
    evaluator: loss.spikes
    params: {{column: loss, window: 50, z: 8}}
    expect:
      - {{stat: count, op: "==", value: 0}}
"""
        )
    return folder


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    args = ap.parse_args()
    registry = shutil.which("registry") or sys.exit("registry is not installed (pip install -e .)")
    py = sys.executable
    rows: list[tuple[str, str, str]] = []

    m = best_of(5, [registry, "--help"])
    base = best_of(5, [py, "-c", "pass"])
    rows.append(("registry --help", f"{m.seconds:.3f} s", f"python -c pass: {base.seconds:.3f} s"))

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "pyproject.toml").write_text('[tool.registry]\nclaims = "claims"\n')
        many_claims(root, 1000)
        m = best_of(3, [registry, "validate"], cwd=tmp)
        assert m.returncode == 0, "validate failed"
        rows.append(("registry validate, 1,000 claims", f"{m.seconds:.3f} s", f"peak RSS {m.peak_rss_mb:.0f} MB"))

    parquet = metrics_parquet(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        project(Path(tmp), parquet)
        m = best_of(3, [registry, "evaluate", "--force"], cwd=tmp)
        assert m.returncode == 0, "evaluate failed"
        read = best_of(3, [py, "-c", f"import pandas; pandas.read_parquet({str(parquet)!r})"])
        rows.append(
            (
                f"loss.spikes, {args.rows:,} rows, registry evaluate",
                f"{m.seconds:.3f} s, {m.peak_rss_mb:.0f} MB",
                f"pandas.read_parquet alone: {read.seconds:.3f} s, {read.peak_rss_mb:.0f} MB",
            )
        )
    width = max(len(r[0]) for r in rows)
    for name, value, baseline in rows:
        print(f"{name:<{width}}  {value:<22}  {baseline}")


if __name__ == "__main__":
    main()
