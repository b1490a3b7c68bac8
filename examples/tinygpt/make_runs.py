"""Regenerate exactly the run folders shipped under runs/ (see README.md for what each one shows).

    python -m examples.tinygpt.make_runs            # all shipped runs, two at a time, into runs/
    python -m examples.tinygpt.make_runs --only tinygpt-lr3e-2-noqk-seed0 --jobs 1
    python -m examples.tinygpt.train --all          # same as the first line

Every run is deterministic given its arguments (single-threaded torch on CPU; the batch order is
seeded by --seed): only run.yaml's `created` and train.log's timings differ between regenerations.
"""

from __future__ import annotations

import sys

from examples import runset

STEPS = 1800
COMMON = f"--steps {STEPS} --ckpt-every 100 --beta2 0.99 --threads 1"
# "lr bursts": lr 3e-3, with 200-step (150 for the last) bursts to an lr not seen before:
# 3e-2 from step 500, 6e-2 from 1000, 1.2e-1 from 1500 (sweep round r6 "escalate").
BURSTS = "500:3e-2,700:3e-3,1000:6e-2,1200:3e-3,1500:1.2e-1,1700:3e-3"
BURST_CKPTS = "503,1003,1503"  # just after each burst starts (steps 500/1000/1500 are regular checkpoints)
# injected anomalous batches: the characters of every sequence permuted at these steps
SHUFFLE = "360,720,1080,1440"
SHUFFLE_CKPTS = ",".join(str(s + 1) for s in map(int, SHUFFLE.split(",")))

# run id -> (train.py arguments, extra tags)
RUNS: dict[str, tuple[str, list[str]]] = {
    "tinygpt-lr3e-3-noqk-seed0": ("--lr 3e-3 --no-qk-norm --seed 0", ["lr-low"]),
    "tinygpt-lr3e-3-qk-seed0": ("--lr 3e-3 --qk-norm --seed 0", ["lr-low"]),
    "tinygpt-lr3e-2-noqk-seed0": ("--lr 3e-2 --no-qk-norm --seed 0", ["lr-high"]),
    "tinygpt-lr3e-2-qk-seed0": ("--lr 3e-2 --qk-norm --seed 0", ["lr-high"]),
    "tinygpt-lr3e-2-noqk-seed1": ("--lr 3e-2 --no-qk-norm --seed 1", ["lr-high"]),
    "tinygpt-lr3e-2-qk-seed1": ("--lr 3e-2 --qk-norm --seed 1", ["lr-high"]),
    "tinygpt-lrbursts-noqk-seed0": (
        f"--lr 3e-3 --lr-jumps {BURSTS} --extra-ckpts {BURST_CKPTS} --no-qk-norm --seed 0",
        ["lr-bursts"],
    ),
    "tinygpt-lrbursts-qk-seed0": (f"--lr 3e-3 --lr-jumps {BURSTS} --extra-ckpts {BURST_CKPTS} --qk-norm --seed 0", ["lr-bursts"]),
    "tinygpt-shuffled-noqk-seed0": (
        f"--lr 3e-3 --shuffle-steps {SHUFFLE} --extra-ckpts {SHUFFLE_CKPTS} --no-qk-norm --seed 0",
        ["lr-low"],
    ),
}


def command(run_id: str, runs_dir: str) -> list[str]:
    return runset.command("examples.tinygpt.train", COMMON, RUNS, run_id, runs_dir)


def main(argv: list[str] | None = None) -> int:
    return runset.main(argv, __doc__, "examples.tinygpt.train", COMMON, RUNS)


if __name__ == "__main__":
    sys.exit(main())
