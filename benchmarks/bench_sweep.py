"""Sweeps at scale: N runs (20,000-step CSV logs) x M claims, against a floor that reads each run's CSV once.

    python benchmarks/bench_sweep.py [--runs 300] [--claims 20] [--steps 20000] [--repeat 3] [--jobs 1 2]
                                     [--warm] [--dask]

Every figure is a whole process (`registry evaluate` through the CLI, in a fresh subprocess), the
median of `--repeat` runs (wall time, and the CPU time of that process and its children: on a shared
machine CPU is the steadier figure; Dask workers' CPU is not the client's and is not counted), printed
beside the floor measured in the same invocation and as a ratio, with the load average before and after:

- floor: `python -c` that imports pandas and reads every run's CSV once (`pandas.read_csv`);
- cold: `registry evaluate --force --jobs J` for each J in `--jobs` (every pair measured);
- warm (`--warm`): `registry evaluate` again with nothing changed (every pair current, skipped);
- dask (`--dask`): `--executor dask` against a LocalCluster of 2 worker processes started by this
  script (its start-up reported apart), without Dask's default MALLOC_TRIM_THRESHOLD_ (see README).

The claims cycle through metric.trend, metric.threshold and metric.compare on columns `loss` and
`grad_norm`. Data is generated once under benchmarks/_data/ (git-ignored) and copied into a temporary
project per invocation.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from measure import Measured, measure

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"

_PREDICTIONS = (
    "  - {{id: p, level: loss, evaluator: metric.trend, params: {{column: {col}, steps: [{lo}, null]}},"
    " expect: [{{stat: slope, op: '<', value: 0}}]}}\n",
    "  - {{id: p, level: loss, evaluator: metric.threshold, params: {{column: {col}, steps: [{lo}, null], reduce: median}},"
    " expect: [{{stat: value, op: '<', value: 3}}]}}\n",
    "  - {{id: p, level: loss, evaluator: metric.compare, params: {{a: {{column: {col}, steps: [0, {lo}]}},"
    " b: {{column: {col}, steps: [{lo}, null]}}, reduce: mean}}, expect: [{{stat: difference, op: '>', value: 0}}]}}\n",
)


def runs_folder(n: int, steps: int) -> Path:
    """N run folders, each a run.yaml and a metrics.csv of `steps` rows (step, loss, grad_norm); deterministic."""
    folder = DATA / f"sweep_{n}x{steps}"
    if (folder / ".complete").exists():
        return folder
    import numpy as np

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for i in range(n):
        rng = np.random.default_rng(i)
        s = np.arange(steps)
        loss = 2.0 + 8.0 / np.sqrt(1 + s / 1000) + rng.normal(0, 0.02, steps)
        grad = np.abs(rng.normal(1.0, 0.1, steps))
        run = folder / f"run-{i:04d}"
        run.mkdir()
        lines = ["step,loss,grad_norm"] + [f"{a},{b:.6f},{c:.6f}" for a, b, c in zip(s, loss, grad, strict=True)]
        (run / "metrics.csv").write_text("\n".join(lines) + "\n")
        (run / "run.yaml").write_text(f"id: run-{i:04d}\ntags: [sweep]\nartifacts:\n  metrics: {{path: metrics.csv}}\n")
    (folder / ".complete").write_text("")
    return folder


def project(root: Path, runs: Path, m: int) -> None:
    (root / "pyproject.toml").write_text('[tool.registry]\nclaims = "claims"\nruns = ["runs"]\nverdicts = "verdicts"\n')
    shutil.copytree(runs, root / "runs", ignore=shutil.ignore_patterns(".complete"))
    claims = root / "claims"
    claims.mkdir()
    for j in range(m):
        body = _PREDICTIONS[j % 3].format(col=("loss", "grad_norm")[j % 2], lo=100 * (j + 1))
        (claims / f"c{j:03d}.yaml").write_text(
            f"id: c{j:03d}\ntitle: t\nstatement: s\nfalsified_if: f\napplies_to: {{tags: [sweep]}}\npredictions:\n{body}"
        )


def median_of(n: int, cmd: list[str], cwd: str) -> Measured:
    runs = [measure(cmd, cwd=cwd) for _ in range(n)]
    assert all(r.returncode in (0, 1) for r in runs), f"{cmd} exited {[r.returncode for r in runs]}"
    return Measured(
        statistics.median(r.seconds for r in runs),
        max(r.peak_rss_mb for r in runs),
        runs[0].returncode,
        statistics.median(r.cpu_seconds for r in runs),
    )


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--claims", type=int, default=20)
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--jobs", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--warm", action="store_true")
    ap.add_argument("--dask", action="store_true")
    args = ap.parse_args()
    registry = shutil.which("registry") or sys.exit("registry is not installed (pip install -e .)")
    runs = runs_folder(args.runs, args.steps)
    pairs = args.runs * args.claims
    with tempfile.TemporaryDirectory() as tmp:
        project(Path(tmp), runs, args.claims)
        read_all = "import glob,pandas\nfor f in sorted(glob.glob('runs/*/metrics.csv')): pandas.read_csv(f)"
        floor = median_of(args.repeat, [sys.executable, "-c", read_all], tmp)
        print(f"N={args.runs} x M={args.claims} ({pairs:,} pairs), {args.steps:,}-step CSV logs, median of {args.repeat}")
        print(f"  {load()} ({os.cpu_count()} CPUs)")
        print(
            f"  floor (read each CSV once)      {floor.seconds:7.2f} s  {floor.peak_rss_mb:5.0f} MB"
            f"  CPU {floor.cpu_seconds:6.2f} s"
        )
        cold: dict[int, float] = {}
        for jobs in args.jobs:
            m = median_of(args.repeat, [registry, "evaluate", "--force", "--quiet", "--jobs", str(jobs)], tmp)
            cold[jobs] = m.seconds
            print(
                f"  cold --jobs {jobs:<3}                {m.seconds:7.2f} s  {m.peak_rss_mb:5.0f} MB  CPU {m.cpu_seconds:6.2f} s"
                f"  {m.seconds / floor.seconds:5.2f}x floor (CPU {m.cpu_seconds / floor.cpu_seconds:5.2f}x)"
                f"  {1000 * m.seconds / pairs:.2f} ms/pair ({1000 * m.cpu_seconds / pairs:.2f} ms CPU)"
                + (f"  {cold[args.jobs[0]] / m.seconds:.2f}x faster than --jobs {args.jobs[0]}" if jobs != args.jobs[0] else "")
            )
        if args.warm:
            m = median_of(args.repeat, [registry, "evaluate", "--quiet"], tmp)
            ratio = m.seconds / floor.seconds
            print(f"  warm (nothing changed)          {m.seconds:7.2f} s  {m.peak_rss_mb:5.0f} MB  {ratio:5.2f}x floor")
        if args.dask:
            dask_rows(registry, tmp, args.repeat, floor, cold)
        print(f"  {load()}")


def dask_rows(registry: str, cwd: str, repeat: int, floor: Measured, cold: dict[int, float]) -> None:
    import dask
    from distributed import LocalCluster

    # As README recommends: Dask's default MALLOC_TRIM_THRESHOLD_ makes numpy's large temporaries
    # mmap/munmap on every operation (about 2.4x the CPU per run).
    dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None})
    os.chdir(cwd)  # the workers' working directory: the project's, as for `registry evaluate` (its caches)
    t = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None) as cluster:
        start = time.perf_counter() - t
        cmd = [registry, "evaluate", "--force", "--quiet", "--executor", "dask", "--scheduler", cluster.scheduler_address]
        m = median_of(repeat, cmd, cwd)
    versus = f"  {m.seconds / cold[2]:.2f}x --jobs 2" if 2 in cold else ""
    print(
        f"  dask LocalCluster (2 workers)   {m.seconds:7.2f} s  {m.peak_rss_mb:5.0f} MB  CPU {m.cpu_seconds:6.2f} s (client)"
        f"  {m.seconds / floor.seconds:5.2f}x floor  cluster start-up {start:.2f} s apart{versus}"
    )


if __name__ == "__main__":
    main()
