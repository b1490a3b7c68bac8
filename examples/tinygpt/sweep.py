"""The exploration sweep behind the table in README.md (what was tried in search of loss spikes).

    python -m examples.tinygpt.sweep r1 [--jobs 2] [--out /tmp/tinygpt-sweep]
    python -m examples.tinygpt.spikes /tmp/tinygpt-sweep/*

Each entry is a name and the train.py arguments; exploration runs record only the first and last
checkpoints (--ckpt-every larger than --steps).  Runs go to --out (not runs/): they are not shipped.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

ROUNDS: dict[str, dict[str, str]] = {
    # round 1: the notes' untried directions, ~3000 steps at batch 16 or ~1500 at batch 64
    "r1": {
        "lr1e-2-b2.95-3k": "--lr 1e-2 --beta2 0.95 --steps 3000",
        "lr1e-2-b2.999-3k": "--lr 1e-2 --beta2 0.999 --steps 3000",
        "lr3e-3-b2.999-eps1e-12-3k": "--lr 3e-3 --beta2 0.999 --eps 1e-12 --steps 3000",
        "wu200-lr3e-2-b2.99-3k": "--lr 3e-2 --warmup 200 --beta2 0.99 --steps 3000",
        "bs64-lr1e-2-b2.99-1500": "--lr 1e-2 --beta2 0.99 --batch-size 64 --steps 1500",
        "bs64-wu100-lr3e-2-b2.999-1500": "--lr 3e-2 --warmup 100 --beta2 0.999 --batch-size 64 --steps 1500",
        "qk-lr3e-2-b2.99-3k": "--qk-norm --lr 3e-2 --beta2 0.99 --steps 3000",
        "qk-wu200-lr1e-1-b2.99-3k": "--qk-norm --lr 1e-1 --warmup 200 --beta2 0.99 --steps 3000",
    },
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("round", choices=sorted(ROUNDS))
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", default="/tmp/tinygpt-sweep")
    p.add_argument("--only", nargs="*", default=None)
    a = p.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    todo = [(n, args) for n, args in ROUNDS[a.round].items() if a.only is None or n in a.only]
    running: list[tuple[str, subprocess.Popen, float]] = []
    while todo or running:
        while todo and len(running) < a.jobs:
            name, args = todo.pop(0)
            out = os.path.join(a.out, f"{a.round}-{name}")
            cmd = [sys.executable, "-m", "examples.tinygpt.train", "--out", out, "--force",
                   "--ckpt-every", "1000000", "--threads", "1"] + args.split()
            log = open(out + ".log", "w")
            running.append((name, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), time.time()))
        time.sleep(1)
        for item in list(running):
            name, proc, t0 = item
            if proc.poll() is not None:
                running.remove(item)
                print(f"{name}: exit {proc.returncode} in {time.time() - t0:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
