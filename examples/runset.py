"""Generate a planned set of runs with an example job, a few at a time (shared by the examples' make_runs)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

# run id -> (arguments of the job beyond the common ones, extra tags)
Plan = dict[str, tuple[str, list[str]]]


def command(module: str, common: str, plan: Plan, run_id: str, runs_dir: str) -> list[str]:
    args, tags = plan[run_id]
    cmd = [sys.executable, "-m", module, "--out", os.path.join(runs_dir, run_id), "--force"]
    cmd += common.split() + args.split()
    for t in tags:
        cmd += ["--tag", t]
    return cmd


def main(argv: list[str] | None, doc: str | None, module: str, common: str, plan: Plan) -> int:
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs-dir", default="runs")
    p.add_argument("--jobs", type=int, default=2, help="runs in parallel (each single-threaded)")
    p.add_argument("--only", nargs="*", default=None, choices=sorted(plan))
    p.add_argument("--print", action="store_true", help="print the commands and exit")
    a = p.parse_args(argv)
    todo = [r for r in plan if a.only is None or r in a.only]
    if a.print:
        for r in todo:
            print(" ".join(command(module, common, plan, r, a.runs_dir)))
        return 0
    os.makedirs(a.runs_dir, exist_ok=True)
    running: list[tuple[str, subprocess.Popen, float]] = []
    failed = 0
    while todo or running:
        while todo and len(running) < a.jobs:
            r = todo.pop(0)
            print(f"start {r}", flush=True)
            proc = subprocess.Popen(command(module, common, plan, r, a.runs_dir), stdout=subprocess.DEVNULL)
            running.append((r, proc, time.time()))
        time.sleep(1)
        for item in list(running):
            r, proc, t0 = item
            if proc.poll() is not None:
                running.remove(item)
                failed += proc.returncode != 0
                print(f"done  {r}: exit {proc.returncode} in {time.time() - t0:.0f}s", flush=True)
    return 1 if failed else 0
