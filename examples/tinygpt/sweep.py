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

CYCLE = "800:3e-2,1000:3e-3,1600:3e-2,1800:3e-3,2400:3e-2,2600:3e-3"
ESCALATE = "500:3e-2,700:3e-3,1000:6e-2,1200:3e-3,1500:1.2e-1,1700:3e-3"

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
    # round 2: memorisable corpus (slingshot-style late spikes), batch 64 (less noise), qk-norm controls
    "r2": {
        "f4-lr3e-3-b2.999-eps1e-12-3k": "--n-files 4 --lr 3e-3 --beta2 0.999 --eps 1e-12 --steps 3000",
        "f4-lr1e-2-b2.99-3k": "--n-files 4 --lr 1e-2 --beta2 0.99 --steps 3000",
        "f5-lr3e-3-b2.999-eps1e-12-3k": "--n-files 5 --lr 3e-3 --beta2 0.999 --eps 1e-12 --steps 3000",
        "bs64-lr1e-2-b2.999-1200": "--lr 1e-2 --beta2 0.999 --batch-size 64 --steps 1200",
        "bs64-lr3e-3-b2.999-eps1e-12-1200": "--lr 3e-3 --beta2 0.999 --eps 1e-12 --batch-size 64 --steps 1200",
        "qk-lr3e-2-b2.99-3k": "--qk-norm --lr 3e-2 --beta2 0.99 --steps 3000",
    },
    # round 3: the edge between the lr that trains (1e-2) and the lr that plateaus (3e-2); bf16
    # attention logits; a deliberate lr jump
    "r3": {
        "lr2e-2-b2.95-3k": "--lr 2e-2 --beta2 0.95 --steps 3000",
        "lr2e-2-b2.99-3k": "--lr 2e-2 --beta2 0.99 --steps 3000",
        "bs64-lr2e-2-b2.99-1200": "--lr 2e-2 --beta2 0.99 --batch-size 64 --steps 1200",
        "bs64-wu100-lr3e-2-b2.999-1200": "--lr 3e-2 --warmup 100 --beta2 0.999 --batch-size 64 --steps 1200",
        "bf16attn-lr1e-2-b2.95-3k": "--attn-dtype bfloat16 --lr 1e-2 --beta2 0.95 --steps 3000",
        "jump-lr3e-3to3e-2@1500-b2.99-3k": "--lr 3e-3 --lr-jumps 1500:3e-2 --beta2 0.99 --steps 3000",
    },
    # round 4: slow lr ramp (long linear warm-up) that crosses the stability threshold while the
    # model is already in a good state
    "r4": {
        "ramp2500-lr5e-2-b2.95-3k": "--lr 5e-2 --warmup 2500 --beta2 0.95 --steps 3000",
        "ramp2500-lr5e-2-b2.999-3k": "--lr 5e-2 --warmup 2500 --beta2 0.999 --steps 3000",
        "qk-ramp2500-lr5e-2-b2.95-3k": "--qk-norm --lr 5e-2 --warmup 2500 --beta2 0.95 --steps 3000",
        "bs64-ramp1000-lr5e-2-b2.99-1200": "--lr 5e-2 --warmup 1000 --beta2 0.99 --batch-size 64 --steps 1200",
    },
    # round 5: lr jumps (does qk-norm prevent the spike? is it reproducible across seeds? repeated?)
    "r5": {
        "qk-jump-lr3e-3to3e-2@1500-b2.99-3k": "--qk-norm --lr 3e-3 --lr-jumps 1500:3e-2 --beta2 0.99 --steps 3000",
        "seed1-jump-lr3e-3to3e-2@1500-b2.99-3k": "--seed 1 --lr 3e-3 --lr-jumps 1500:3e-2 --beta2 0.99 --steps 3000",
        "cycle-lr3e-3-3e-2-b2.99-3k": f"--lr 3e-3 --lr-jumps {CYCLE} --beta2 0.99 --steps 3000",
        "qk-cycle-lr3e-3-3e-2-b2.99-3k": f"--qk-norm --lr 3e-3 --lr-jumps {CYCLE} --beta2 0.99 --steps 3000",
        "shuffle-lr3e-3-b2.99-3k": "--lr 3e-3 --shuffle-steps 700,1400,2100,2800 --beta2 0.99 --steps 3000",
        "jump-lr3e-3to1e-2@1500-b2.99-3k": "--lr 3e-3 --lr-jumps 1500:1e-2 --beta2 0.99 --steps 3000",
    },
    # round 6: escalating lr bursts (each burst to an lr not seen before), 1800 steps
    "r6": {
        "escalate-noqk": f"--lr 3e-3 --lr-jumps {ESCALATE} --beta2 0.99 --steps 1800",
        "escalate-qk": f"--qk-norm --lr 3e-3 --lr-jumps {ESCALATE} --beta2 0.99 --steps 1800",
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
            cmd = [
                sys.executable,
                "-m",
                "examples.tinygpt.train",
                "--out",
                out,
                "--force",
                "--ckpt-every",
                "1000000",
                "--threads",
                "1",
                "--max-seconds",
                "175",
            ] + args.split()
            log = open(out + ".log", "w")  # noqa: SIM115 -- the child process writes to it
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
