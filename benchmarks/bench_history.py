"""History and diff on a repository with thousands of commits (issue 6, "Fast on a repository with
thousands of commits"):

    python benchmarks/bench_history.py [--commits 3000] [--claims 10] [--runs 20] [--repeat 3]

Builds, in a temporary folder and with `git fast-import` (seconds, not minutes), a project with
`--claims` registered claims, `--runs` small runs, and `--commits` commits after the first, each
rewriting one verdict file (real `registry` v2 verdicts, the statistic drifting, the outcome
flipping now and then). Half of the commits touch `claim-000`, the rest spread over the others.
Then times, each the fastest of `--repeat` runs in a fresh process (benchmarks/measure.py):

- `registry history claim-000` (about commits/2 entries) and `--run run-003`;
- `registry diff <first commit> HEAD` (every verdict file changed) and `registry diff` (HEAD vs the
  working tree, nothing changed) and `--format markdown`;
- `registry validate`, which also reads every committed verdict's fingerprint (the amendment check);
- `registry status` (registration levels: one `git log` per claim file and per artifact).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import best_of  # noqa: E402

CLAIM = """\
id: claim-{k:03d}
title: Generated claim {k}
statement: The final loss of every run is below 3.
falsified_if: A run ends at 3 or above.
status: registered
predictions:
  - id: final-loss
    level: loss
    evaluator: metric.threshold
    params: {{column: loss, reduce: last}}
    expect:
      - {{stat: value, op: "<", value: 3.0}}
"""


def verdict_text(claim_id: str, fingerprint: str, run: str, value: float, artifact_sha: str) -> str:
    from registry import __version__
    from registry.language.judge import Decision
    from registry.verdicts.file import render
    from registry.verdicts.model import (
        ArtifactRef,
        ClaimRef,
        ExpectResult,
        PredictionVerdict,
        Registration,
        RunRef,
        ToolRef,
        Verdict,
    )

    holds = value < 3.0
    outcome = "pass" if holds else "fail"
    return render(
        Verdict(
            claim=ClaimRef(id=claim_id, fingerprint=fingerprint, status="registered"),
            run=RunRef(id=run, artifacts={"metrics": ArtifactRef(path="metrics.csv", sha256=artifact_sha)}),
            combine="all",
            outcome=outcome,
            predictions=[
                PredictionVerdict(
                    id="final-loss",
                    level="loss",
                    evaluator="metric.threshold",
                    evaluator_version="1",
                    outcome=outcome,
                    n=100,
                    min_samples=1,
                    statistics={"value": value, "missing": 0},
                    expect=[ExpectResult(stat="value", op="<", value=3.0, observed=value, holds=holds)],
                    evidence={"first_step": 0, "last_step": 990},
                    artifacts=["metrics"],
                )
            ],
            tool=ToolRef(version=__version__),
            decision=Decision(rule="intersection-union", alpha=0.05, tests=0, per_test_alpha=0.05),
            registration=Registration(level="postregistered", reason="synthetic"),
        )
    )


def build(root: Path, commits: int, claims: int, runs: int) -> str:
    """The repository; returns the first commit's sha."""
    import hashlib

    from registry.language.fingerprint import claim_from_text, fingerprint

    files: dict[str, bytes] = {
        "pyproject.toml": b'[tool.registry]\nclaims = "claims"\nruns = ["runs"]\nverdicts = "verdicts"\n',
    }
    metrics = "step,loss\n" + "".join(f"{s},{3.5 - s / 1000:.4f}\n" for s in range(0, 1000, 10))
    artifact_sha = hashlib.sha256(metrics.encode()).hexdigest()
    for j in range(runs):
        files[f"runs/run-{j:03d}/run.yaml"] = f"id: run-{j:03d}\nartifacts:\n  metrics: {{path: metrics.csv}}\n".encode()
        files[f"runs/run-{j:03d}/metrics.csv"] = metrics.encode()
    fingerprints = {}
    for k in range(claims):
        text = CLAIM.format(k=k)
        files[f"claims/loss/claim-{k:03d}.yaml"] = text.encode()
        claim = claim_from_text(text)
        assert claim is not None
        fingerprints[k] = fingerprint(claim)
    for k in range(claims):
        for j in range(runs):
            files[f"verdicts/claim-{k:03d}/run-{j:03d}.yaml"] = verdict_text(
                f"claim-{k:03d}", fingerprints[k], f"run-{j:03d}", 2.5, artifact_sha
            ).encode()

    def data(payload: bytes) -> bytes:
        return b"data %d\n" % len(payload) + payload + b"\n"

    t0 = 1_767_225_600  # 2026-01-01
    stream = bytearray()
    stream += b"commit refs/heads/main\nmark :1\ncommitter Bench <bench@example.org> %d +0000\n" % t0
    stream += data(b"project")
    for path, payload in sorted(files.items()):
        stream += b"M 100644 inline " + path.encode() + b"\n" + data(payload)
    for i in range(1, commits + 1):
        k = 0 if i % 2 == 0 else 1 + (i // 2) % max(1, claims - 1)
        j = (i // 2) % runs
        value = 2.5 + 0.6 * ((i * 7919) % 100) / 100  # drifts across 3.0 now and then
        text = verdict_text(f"claim-{k:03d}", fingerprints[k], f"run-{j:03d}", round(value, 4), artifact_sha)
        stream += b"commit refs/heads/main\nmark :%d\ncommitter Bench <bench@example.org> %d +0000\n" % (i + 1, t0 + 3600 * i)
        stream += data(b"evaluate %d" % i)
        stream += b"from :%d\n" % i
        stream += b"M 100644 inline verdicts/claim-%03d/run-%03d.yaml\n" % (k, j) + data(text.encode())
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True, env=env)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=bytes(stream), check=True, env=env)
    subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=root, check=True, env=env)
    first = subprocess.run(["git", "rev-list", "--max-parents=0", "HEAD"], cwd=root, capture_output=True, text=True, env=env)
    return first.stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--commits", type=int, default=3000)
    ap.add_argument("--claims", type=int, default=10)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    registry = shutil.which("registry") or sys.exit("registry is not installed (pip install -e .)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        import time

        start = time.perf_counter()
        first = build(root, args.commits, args.claims, args.runs)
        built = time.perf_counter() - start
        print(f"built {args.commits + 1} commits ({args.claims} claims × {args.runs} runs) in {built:.1f} s")
        cases = [
            ("registry history claim-000", ["history", "claim-000"]),
            ("registry history claim-000 --run run-003", ["history", "claim-000", "--run", "run-003"]),
            ("registry history claim-000 --format json", ["history", "claim-000", "--format", "json"]),
            ("registry diff <first> HEAD", ["diff", first, "HEAD"]),
            ("registry diff <first> HEAD --format markdown", ["diff", first, "HEAD", "--format", "markdown"]),
            ("registry diff (HEAD vs working tree)", ["diff"]),
            ("registry validate", ["validate"]),
            ("registry status", ["status"]),
        ]
        env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
        print(f"{'command':<48} {'wall s':>7} {'peak RSS MB':>12}")
        for label, cmd in cases:
            m = best_of(args.repeat, [registry, *cmd], cwd=str(root), env=env)
            status = "" if m.returncode == 0 else f"  (exit {m.returncode})"
            print(f"{label:<48} {m.seconds:>7.3f} {m.peak_rss_mb:>12.0f}{status}")


if __name__ == "__main__":
    main()
