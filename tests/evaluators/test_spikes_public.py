"""loss.spikes against an independent, deliberately plain implementation of its definition.

The definition (issue 2): row t is flagged when it has `window` earlier rows and
(x_t - m) / (1.4826 * MAD) > z and x_t / m > min_ratio, with m and MAD the median and median absolute
deviation of the `window` rows before t; MAD = 0 counts as an infinite z when x_t > m. An event is a
maximal run of consecutive flagged rows. Non-finite rows are never flagged, and a window holding a
NaN flags nothing. The evaluator computes this with a fast lower-bound screen; the reference below
is a loop with `statistics.median`, so the two share no code.

The real data is the train loss of three modded-nanogpt 1.5B runs (public logs kept in
../shared/data/public-runs beside the repository); each run is copied into its own run folder.
"""

from __future__ import annotations

import csv
import math
import random
import shutil
import statistics
from pathlib import Path
from typing import Any

import pytest
from conftest import write_run

from registry import EvaluatorRegistry
from registry.runs.run import load_run

PUBLIC_RUNS = Path(__file__).resolve().parents[3] / "shared" / "data" / "public-runs"
SCALEUP = PUBLIC_RUNS / "modded_nanogpt_1p5b_scaleup_3runs.csv"
RUN_IDS = ("87bd51fd", "ad8d7ae5", "c0078066")
SETTINGS = [
    pytest.param({}, id="defaults"),
    pytest.param({"window": 25, "z": 4.0, "min_ratio": 1.05}, id="window25-z4-ratio1.05"),
]
DEFAULTS = {"window": 50, "z": 8.0, "min_ratio": 1.15}


def reference_events(values: list[float], window: int, z: float, min_ratio: float) -> tuple[list[int], list[float]]:
    """Row indices where each event starts, and x_t / m at every flagged row."""
    flagged: list[bool] = []
    ratios: list[float] = []
    for t, x in enumerate(values):
        before = values[t - window : t] if t >= window else []
        if len(before) < window or not math.isfinite(x) or any(math.isnan(v) for v in before):
            flagged.append(False)
            continue
        m = statistics.median(before)
        mad = statistics.median([abs(v - m) for v in before])
        # MAD = 0: an infinite z when x > m (and no spike otherwise); m = 0: the ratio is ±inf.
        robust_z = (math.inf if x > m else 0.0) if mad == 0 else (x - m) / (1.4826 * mad)
        ratio = (math.inf if x > 0 else -math.inf) if m == 0 else x / m
        hit = robust_z > z and ratio > min_ratio
        flagged.append(hit)
        if hit:
            ratios.append(ratio)
    starts = [t for t, f in enumerate(flagged) if f and (t == 0 or not flagged[t - 1])]
    return starts, ratios


def measure(evaluators: EvaluatorRegistry, run_yaml: Path, params: dict[str, Any]) -> Any:
    evaluator = evaluators.get("loss.spikes")
    return evaluator.evaluate(evaluator.Params.model_validate(params), load_run(run_yaml))


@pytest.fixture(scope="module")
def evaluators() -> EvaluatorRegistry:
    return EvaluatorRegistry()


@pytest.fixture(scope="module")
def scaleup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[int], list[float]]]:
    """Each of the three runs in its own run folder (a copy of the CSV, filtered by `where`),
    with its train rows as plain lists in step order for the reference."""
    if not SCALEUP.is_file():
        pytest.skip(f"public run logs not found at {SCALEUP} (the shared/ folder belongs beside the repository)")
    rows: dict[str, list[tuple[int, float]]] = {r: [] for r in RUN_IDS}
    with SCALEUP.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row["split"] == "train":
                rows[row["run_id"]].append((int(row["step"]), float(row["loss"])))
    out = {}
    for run_id in RUN_IDS:
        folder = tmp_path_factory.mktemp(f"run-{run_id}")
        shutil.copyfile(SCALEUP, folder / "metrics.csv")
        metrics = {"path": "metrics.csv", "where": {"run_id": run_id, "split": "train"}}
        manifest = write_run(folder, f"modded-nanogpt-1p5b-{run_id}", {"metrics": metrics})
        series = sorted(rows[run_id])
        out[run_id] = (manifest, [s for s, _ in series], [v for _, v in series])
    return out


@pytest.mark.parametrize("params", SETTINGS)
@pytest.mark.parametrize("run_id", RUN_IDS)
def test_matches_reference_on_public_runs(
    scaleup: dict[str, tuple[Path, list[int], list[float]]], evaluators: EvaluatorRegistry, run_id: str, params: dict[str, Any]
) -> None:
    manifest, steps, values = scaleup[run_id]
    p = DEFAULTS | params
    starts, ratios = reference_events(values, p["window"], p["z"], p["min_ratio"])
    assert len(starts) >= 10  # the comparison is only worth something if there is something to find
    m = measure(evaluators, manifest, params)
    assert m.n == len(values) - p["window"]
    assert m.statistics["count"] == len(starts)
    assert m.evidence["event_steps"] == [steps[t] for t in starts]
    assert m.statistics["max_ratio"] == pytest.approx(max(ratios), rel=1e-12)
    assert m.statistics["nonfinite"] == 0
    span = steps[-1] - steps[p["window"]] + 1
    assert m.statistics["rate_per_1k_steps"] == pytest.approx(1000 * len(starts) / span)


def _random_series(rng: random.Random, n: int) -> list[float]:
    kind = rng.choice(["noise", "plateaus", "signed", "gaps"])
    out: list[float] = []
    level = rng.uniform(0.5, 5.0)
    for _ in range(n):
        if kind == "plateaus":  # many ties: MAD = 0 windows
            x = round(level + rng.choice([0, 0, 0, 0.5, 1]), 1)
        elif kind == "signed":  # medians near, at and below zero
            x = rng.gauss(0.0, 1.0)
        else:
            x = level * math.exp(rng.gauss(0, 0.05))
        r = rng.random()
        if r < 0.03:
            x *= rng.uniform(1.5, 20)  # spikes, sometimes on consecutive rows
        elif kind == "gaps" and r < 0.05:
            x = rng.choice([math.nan, math.inf, -math.inf])
        out.append(x)
        level *= 0.999
    return out


@pytest.mark.parametrize("seed", range(24))
def test_matches_reference_on_random_series(evaluators: EvaluatorRegistry, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    values = _random_series(rng, rng.randint(40, 400))
    window = rng.choice([3, 4, 5, 7, 10, 16, 25, 50])
    z = rng.choice([2.0, 4.0, 8.0])
    min_ratio = rng.choice([0.5, 1.0, 1.05, 1.15, 2.0])
    steps = sorted(rng.sample(range(10 * len(values)), len(values)))
    lines = ["step,loss"] + [f"{s},{v!r}" for s, v in zip(steps, values, strict=True)]
    (tmp_path / "metrics.csv").write_text("\n".join(lines) + "\n")
    manifest = write_run(tmp_path, "random", {"metrics": {"path": "metrics.csv"}})
    starts, ratios = reference_events(values, window, z, min_ratio)
    m = measure(evaluators, manifest, {"window": window, "z": z, "min_ratio": min_ratio})
    assert m.evidence["event_steps"] == [steps[t] for t in starts]
    assert m.statistics["count"] == len(starts)
    assert m.n == max(0, len(values) - window)
    assert m.statistics["nonfinite"] == sum(not math.isfinite(v) for v in values)
    if ratios:
        assert m.statistics["max_ratio"] == pytest.approx(max(ratios), rel=1e-12)
    else:
        assert m.statistics["max_ratio"] is None
