"""Run a command and report its wall time, CPU time (user + system) and peak RSS (of the command and its children).

    python benchmarks/measure.py -- registry evaluate ...

Used by the benchmark scripts so every figure comes from the same measurement.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss_mb: float
    returncode: int
    cpu_seconds: float = 0.0
    """User + system CPU of the command and its children (on a shared machine, steadier than wall time)."""


def measure(cmd: list[str], *, cwd: str | None = None, env: dict[str, str] | None = None) -> Measured:
    """Wall time and peak RSS of `cmd`, measured in a fresh child so earlier runs do not count."""
    probe = (
        "import resource,subprocess,sys,time;"
        "t=time.perf_counter();"
        "r=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL);"
        "dt=time.perf_counter()-t;"
        "u=resource.getrusage(resource.RUSAGE_CHILDREN);"
        "print(dt, u.ru_maxrss, r.returncode, u.ru_utime+u.ru_stime)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, *cmd], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout.split()
    return Measured(float(out[0]), int(out[1]) / 1024, int(out[2]), float(out[3]))


def best_of(n: int, cmd: list[str], **kwargs: object) -> Measured:
    """The fastest of n runs (the least disturbed by other load), with the largest RSS seen."""
    runs = [measure(cmd, **kwargs) for _ in range(n)]  # type: ignore[arg-type]
    fastest = min(runs, key=lambda m: m.seconds)
    return Measured(fastest.seconds, max(m.peak_rss_mb for m in runs), fastest.returncode, fastest.cpu_seconds)


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--":
        args = args[1:]
    m = measure(args)
    print(f"{m.seconds:.3f} s  {m.cpu_seconds:.3f} s CPU  {m.peak_rss_mb:.0f} MB  exit {m.returncode}")
