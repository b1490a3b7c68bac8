"""Rendering verdict files: the direct writer (`render`) against the libyaml path it replaced and PyYAML's own.

    python benchmarks/bench_render.py [FOLDER] [--repeat 7]

Reads every verdict file below FOLDER (default: this repository's verdicts/; for a sweep's, run
`registry evaluate` in a project made by bench_sweep.py's `project()`), then renders all of them
again and again in this process and prints the CPU time per verdict (median of `--repeat` passes;
the first pass of `render`, with its per-string caches empty, apart), and checks that every text is
the file's bytes.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from registry.verdicts.dumper import FastDumper, PureDumper
from registry.verdicts.file import dumped, read_verdict, render
from registry.verdicts.model import Verdict

REPO = Path(__file__).resolve().parents[1]


def per_verdict(call: Callable[[Verdict], str], verdicts: list[Verdict], repeat: int) -> tuple[float, float]:
    """CPU microseconds per verdict: the first pass, and the median of `repeat` passes."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        for verdict in verdicts:
            call(verdict)
        times.append(time.process_time() - start)
    return 1e6 * times[0] / len(verdicts), 1e6 * statistics.median(times) / len(verdicts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", nargs="?", type=Path, default=REPO / "verdicts")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    paths = sorted(args.folder.rglob("*.yaml"))
    verdicts = [read_verdict(p) for p in paths]
    for name, call in [
        ("render (direct writer)", render),
        ("libyaml (the former render)", lambda v: dumped(v, FastDumper)),
        ("PyYAML pure (the reference)", lambda v: dumped(v, PureDumper)),
    ]:
        repeat = args.repeat if "pure" not in name else max(1, args.repeat // 3)
        first, median = per_verdict(call, verdicts, repeat)
        print(f"  {name:30} {median:8.1f} us/verdict CPU (first pass {first:.1f})")
    same = sum(render(v).encode("utf-8") == p.read_bytes() for v, p in zip(verdicts, paths, strict=True))
    print(f"{len(verdicts):,} verdicts in {args.folder}; {same:,} rendered as their file's bytes")


if __name__ == "__main__":
    main()
