"""Calibration of `events.precedes` with `p_value < 0.05`, by seeded simulation through the evaluator.

Design (each replicate is one run of 2,000 steps, all replicates columns of one Parquet table):

- target: 12 events, one flagged row each, at uniformly random steps (no two adjacent);
- signal: 20 background events, independent of the targets (same rule) -- the *null*;
- planted lead (the *effect*): in addition, each target event gets, with probability 0.5, a signal
  event exactly 3 steps before it. That is the effect size: about half the targets are led by 3
  steps, against a chance rate of about 6% (20 signals, a 6-step window `within: [-5, 0]`).

Both series use the `threshold` detector (above 0.5), so the events are exactly the simulated ones
and only the test itself is measured; 1,000 circular shifts per run (the evaluator's default).

Claims checked, with the Monte-Carlo tolerance: with R = 200 null runs the observed false-pass
rate has SE = sqrt(0.05 * 0.95 / 200) = 0.0154, so it must be <= 0.05 + 3 SE = 0.096 (19 of 200);
with 200 planted runs, at least 80% (160) must pass. `benchmarks/bench_calibration.py` runs the
same simulation larger (more runs, more effect sizes, both robust_z and threshold detectors).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ALPHA = 0.05


@dataclass(frozen=True)
class Design:
    steps: int = 2000
    targets: int = 12
    signals: int = 20
    """Background signal events, independent of the targets."""
    lead: int = 3
    planted: float = 0.0
    """Probability that a target event gets a signal event `lead` steps before it (0: the null)."""
    within: tuple[int, int] = (-5, 0)
    noise: float = 0.0
    """0: columns are 0/1 indicators. Otherwise 1 + indicator + N(0, noise²), a loss-like series for
    detectors such as robust_z (the benchmark uses it)."""


def event_train(rng: np.random.Generator, n: int, steps: int) -> np.ndarray:
    """`n` distinct steps, uniformly at random, no two adjacent (so each is its own event)."""
    while True:
        onsets = np.sort(rng.choice(steps, size=n, replace=False))
        if n < 2 or np.diff(onsets).min() >= 2:
            return onsets


def replicate(design: Design, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Target and signal columns (0/1 per step) of one simulated run."""
    target = np.zeros(design.steps)
    signal = np.zeros(design.steps)
    t = event_train(rng, design.targets, design.steps)
    target[t] = 1.0
    signal[event_train(rng, design.signals, design.steps)] = 1.0
    led = t[(rng.random(t.size) < design.planted) & (t - design.lead >= 0)]
    signal[led - design.lead] = 1.0
    if design.noise > 0:
        target = 1.0 + target + rng.normal(0.0, design.noise, design.steps)
        signal = 1.0 + signal + rng.normal(0.0, design.noise, design.steps)
    return target, signal


def simulate(design: Design, runs: int, seed: int, folder: Path, detector: dict[str, Any] | None = None) -> list[float]:
    """p-values of events.precedes on `runs` simulated runs (written once as one Parquet table)."""
    import pandas as pd
    import yaml

    from evaluators.events.precedes import Precedes, PrecedesParams
    from registry.runs.run import load_run

    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {"step": np.arange(design.steps)}
    for r in range(runs):
        columns[f"t{r}"], columns[f"s{r}"] = replicate(design, rng)
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(columns).to_parquet(folder / "metrics.parquet", index=False)
    (folder / "run.yaml").write_text(yaml.safe_dump({"id": "sim", "artifacts": {"metrics": {"path": "metrics.parquet"}}}))
    run = load_run(folder / "run.yaml")
    rule = detector or {"detector": "threshold", "above": 0.5}
    evaluator = Precedes()
    out: list[float] = []
    for r in range(runs):
        params = PrecedesParams.model_validate(
            {
                "target": {"column": f"t{r}", **rule},
                "signal": {"column": f"s{r}", **rule},
                "within": list(design.within),
                "seed": r,
            }
        )
        p = evaluator.evaluate(params, run).statistics["p_value"]
        assert isinstance(p, float)
        out.append(p)
    return out


def pass_rate(p_values: list[float], alpha: float = ALPHA) -> float:
    return sum(p < alpha for p in p_values) / len(p_values)


RUNS = 200
TOLERANCE = 3 * math.sqrt(ALPHA * (1 - ALPHA) / RUNS)


def test_null_runs_pass_at_most_alpha(tmp_path: Path) -> None:
    rate = pass_rate(simulate(Design(planted=0.0), RUNS, seed=20261126, folder=tmp_path / "null"))
    assert rate <= ALPHA + TOLERANCE, f"false-pass rate {rate:.3f} > {ALPHA} + 3 SE"


def test_a_planted_lead_of_three_steps_is_found(tmp_path: Path) -> None:
    rate = pass_rate(simulate(Design(planted=0.5), RUNS, seed=20261127, folder=tmp_path / "planted"))
    assert rate >= 0.80, f"power {rate:.3f} < 0.80"
