"""Generate the planned set of modular-arithmetic runs (see README.md for what each one is for).

    python -m examples.modarith.make_runs --print          # the train commands, one a line
    python -m examples.modarith.make_runs                  # all runs, two at a time, into runs/
    python -m examples.modarith.make_runs --only modarith-p53-wd0.1-seed1 --jobs 1

Every run is deterministic given its arguments (single-threaded torch on CPU, full batch): only
run.yaml's `created`, the timings in run.yaml and train.log differ between regenerations.
"""

from __future__ import annotations

import sys

from examples import runset

STEPS = 7000
COMMON = f"--p 53 --train-frac 0.4 --layers 1 --d-model 128 --heads 4 --lr 3e-3 --steps {STEPS} --threads 1"

# The pilot and the checks below used --seed 0, so its trajectory has been seen: the set uses other seeds
# (a claim written after reading the pilot must not be judged on a replay of it).
SEEDS = range(1, 6)
# run id -> (train.py arguments on top of COMMON, extra tags)
RUNS: dict[str, tuple[str, list[str]]] = {
    **{f"modarith-p53-seed{s}": (f"--eps 1e-12 --weight-decay 0 --seed {s}", ["main"]) for s in SEEDS},
    # weight decay: does it stop the cycles?  Measured before the set (pass 1 only, seed 0, 2,500 steps):
    # no.  wd 0.1 spiked at 1117 and 2359 (as without it, larger drops of train accuracy); wd 1.0 groks by
    # step ~900 and then spikes every 230-340 steps from a 1e-3 floor (9 onsets), too many checkpoints
    # for the size budget, so the arm is 0.1.
    "modarith-p53-wd0.1-seed1": ("--eps 1e-12 --weight-decay 0.1 --seed 1", ["weight-decay"]),
    # a larger eps damps the updates at the loss floor (the note: no spike after step 846 at p 97, eps 1e-6)
    "modarith-p53-eps1e-6-seed1": ("--eps 1e-6 --weight-decay 0 --seed 1", ["control", "control-eps"]),
    # eps between the two: with the main runs, "smaller eps shortens the time between spikes" (the note:
    # first spike at 2600 with 1e-8, 1557 with 1e-12 at p 97).  1e-16 was tried: onsets 1209, 2665 against
    # 1191, 2609 with 1e-12, i.e. no difference below 1e-12, so it is not in the set.
    "modarith-p53-eps1e-8-seed1": ("--eps 1e-8 --weight-decay 0 --seed 1", ["eps-intermediate"]),
}


def command(run_id: str, runs_dir: str) -> list[str]:
    return runset.command("examples.modarith.train", COMMON, RUNS, run_id, runs_dir)


def main(argv: list[str] | None = None) -> int:
    return runset.main(argv, __doc__, "examples.modarith.train", COMMON, RUNS)


if __name__ == "__main__":
    sys.exit(main())
