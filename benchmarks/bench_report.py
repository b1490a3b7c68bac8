"""`registry report` build time and size (issue 15):

    python benchmarks/bench_report.py [--runs 300] [--claims 20] [--steps 2000] [--long-steps 10000000] [--repeat 3]

1. The shipped repository: `registry report` into an empty folder (every file written), then again
   (nothing changed, nothing rewritten); baseline measured in the same run: `registry status`, which
   gathers the same claims, runs and verdicts. Target: the build within 10 s.
2. Sweep scale: a synthetic project of `--runs` runs (a `--steps`-row loss curve each, one spike) and
   `--claims` claims applying to every run (half `loss.spikes`, half `metric.threshold`), evaluated first;
   then the report: build time, index size, largest claim page.
3. One run with a `--long-steps` curve (parquet): the size of its claim page (target: under ~2 MB).

Every figure is the fastest of `--repeat` runs in a fresh process (benchmarks/measure.py).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import best_of, measure  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = (
    '[project]\nname = "bench"\nversion = "0"\n\n[tool.registry]\nclaims = "claims"\nruns = ["runs"]\nverdicts = "verdicts"\n'
)
SPIKES = """\
id: claim-{k:03d}
title: Generated claim {k}
statement: Each run has exactly one loss spike.
falsified_if: Zero or several.
predictions:
  - id: one-spike
    level: loss
    evaluator: loss.spikes
    params: {{window: 20}}
    expect:
      - {{stat: count, op: "==", value: 1}}
"""
THRESHOLD = """\
id: claim-{k:03d}
title: Generated claim {k}
statement: The final loss is below 2.
falsified_if: It is 2 or more.
predictions:
  - id: final-loss
    level: loss
    evaluator: metric.threshold
    params: {{column: loss, reduce: last}}
    expect:
      - {{stat: value, op: "<", value: 2.0}}
"""


def registry(*args: str) -> list[str]:
    return [sys.executable, "-m", "registry", *args]


def sweep_project(root: Path, runs: int, claims: int, steps: int) -> None:
    rng = np.random.default_rng(0)
    (root / "pyproject.toml").write_text(PYPROJECT)
    for k in range(claims):
        path = root / "claims" / f"claim-{k:03d}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text((SPIKES if k % 2 == 0 else THRESHOLD).format(k=k))
    for r in range(runs):
        folder = root / "runs" / f"run-{r:03d}"
        folder.mkdir(parents=True)
        loss = 3.0 * np.exp(-np.arange(steps) / (steps / 3)) + 1.0 + 0.02 * rng.standard_normal(steps)
        loss[steps // 2 + r % 50] += 2.0
        rows = "\n".join(f"{s},{v:.5f}" for s, v in enumerate(loss))
        (folder / "metrics.csv").write_text("step,loss\n" + rows + "\n")
        (folder / "run.yaml").write_text(f"id: run-{r:03d}\ntags: [sweep]\nartifacts:\n  metrics: {{path: metrics.csv}}\n")


def long_project(root: Path, steps: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "claims").mkdir()
    (root / "claims" / "claim-001.yaml").write_text(THRESHOLD.format(k=1))
    folder = root / "runs" / "long"
    folder.mkdir(parents=True)
    loss = 2.5 * np.exp(-np.arange(steps) / (steps / 5)) + 1.0 + 0.02 * rng.standard_normal(steps)
    pq.write_table(pa.table({"step": np.arange(steps), "loss": loss}), folder / "metrics.parquet")
    (folder / "run.yaml").write_text("id: long\nartifacts:\n  metrics: {path: metrics.parquet}\n")


def shipped(repeat: int) -> None:
    out = Path(tempfile.mkdtemp()) / "site"
    base = best_of(repeat, registry("status"), cwd=str(ROOT))
    cold = measure(registry("report", "--out", str(out)), cwd=str(ROOT))
    warm = best_of(repeat, registry("report", "--out", str(out)), cwd=str(ROOT))
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(
        f"shipped repo: registry status (baseline) {base.seconds:.2f} s; report, first build {cold.seconds:.2f} s, "
        f"rebuild (nothing rewritten) {warm.seconds:.2f} s; site {size / 1e6:.1f} MB "
        f"(plotly.min.js {(out / 'assets' / 'plotly.min.js').stat().st_size / 1e6:.1f} MB)  [target: build <= 10 s]"
    )
    shutil.rmtree(out.parent)


def sweep(runs: int, claims: int, steps: int, repeat: int) -> None:
    root = Path(tempfile.mkdtemp())
    sweep_project(root, runs, claims, steps)
    ev = measure(registry("evaluate"), cwd=str(root))
    base = best_of(repeat, registry("status"), cwd=str(root))
    cold = measure(registry("report", "--out", "site"), cwd=str(root))
    warm = best_of(repeat, registry("report", "--out", "site"), cwd=str(root))
    pages = sorted((root / "site" / "claims").glob("*.html"), key=lambda p: p.stat().st_size)
    print(
        f"sweep {runs} runs x {claims} claims: evaluate {ev.seconds:.1f} s; registry status (baseline) {base.seconds:.2f} s; "
        f"report first build {cold.seconds:.2f} s, rebuild {warm.seconds:.2f} s, peak {cold.peak_rss_mb:.0f} MB; "
        f"index.html {(root / 'site' / 'index.html').stat().st_size / 1e3:.0f} kB; "
        f"largest claim page {pages[-1].stat().st_size / 1e3:.0f} kB"
    )
    shutil.rmtree(root)


def long_curve(steps: int) -> None:
    root = Path(tempfile.mkdtemp())
    long_project(root, steps)
    measure(registry("evaluate"), cwd=str(root))
    built = measure(registry("report", "--out", "site"), cwd=str(root))
    page = root / "site" / "claims" / "claim-001.html"
    print(
        f"one run of {steps:,} steps: report {built.seconds:.2f} s; "
        f"claim page {page.stat().st_size / 1e3:.0f} kB  [target: < 2 MB]"
    )
    shutil.rmtree(root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--claims", type=int, default=20)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--long-steps", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    shipped(args.repeat)
    long_curve(args.long_steps)
    sweep(args.runs, args.claims, args.steps, args.repeat)


if __name__ == "__main__":
    main()
