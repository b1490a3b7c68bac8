"""Calibration of `events.precedes` (`p_value < 0.05`), larger than tests/test_calibration.py.

    python benchmarks/bench_calibration.py [--runs 2000] [--effects 0.2 0.3 0.4 0.5] [--targets 12 30]

The simulation is the test's (tests/test_calibration.py: 2,000-step runs, independent event trains,
a signal event planted 3 steps before each target with probability `effect`, `within: [-5, 0]`,
1,000 circular shifts), run through the real evaluator for each number of target events and two
detectors: `threshold` on 0/1 indicators, and `robust_z` (window 50, z 8) on loss-like series
1 + indicator + N(0, 0.02²), where the detector's own false alarms join the events.

For each cell it prints the pass rate with its Monte-Carlo standard error: the null row is the
false-pass rate (target: at most 0.05), the others the power at that effect size.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_calibration import ALPHA, Design, pass_rate, simulate  # noqa: E402

DETECTORS = {
    "threshold": ({"detector": "threshold", "above": 0.5}, 0.0),
    "robust_z": ({"detector": "robust_z", "window": 50, "z": 8.0}, 0.02),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--effects", type=float, nargs="+", default=[0.2, 0.3, 0.4, 0.5])
    parser.add_argument("--targets", type=int, nargs="+", default=[12, 30])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"events.precedes, p_value < {ALPHA}, {args.runs} runs per cell, 2,000 steps, lead 3, within [-5, 0]")
    print(f"{'detector':<10} {'targets':>7} {'effect':>7} {'pass rate':>9} {'± 3 SE':>7} {'seconds':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (rule, noise) in DETECTORS.items():
            for targets in args.targets:
                for effect in [0.0, *args.effects]:
                    design = Design(targets=targets, planted=effect, noise=noise)
                    start = time.perf_counter()
                    folder = Path(tmp) / f"{name}-{targets}-{effect}"
                    p_values = simulate(design, args.runs, seed=args.seed, folder=folder, detector=rule)
                    seconds = time.perf_counter() - start
                    rate = pass_rate(p_values)
                    se = math.sqrt(max(rate * (1 - rate), ALPHA * (1 - ALPHA) if effect == 0 else 0) / args.runs)
                    label = "null" if effect == 0 else f"{effect:.2f}"
                    print(f"{name:<10} {targets:>7} {label:>7} {rate:>9.3f} {3 * se:>7.3f} {seconds:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
