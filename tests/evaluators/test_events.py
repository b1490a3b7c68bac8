"""The event engine (detectors, event kinds) and events.precedes, on hand-made series.

Detectors are checked against plain reference implementations of their definitions; events.precedes
against a brute-force shift loop, and end to end through the real CLI (claim -> verdict file).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import Project, invoke, write_run, write_table

from evaluators._lib import detectors
from evaluators._lib.events import KINDS, EmaRatioSpec, RobustZSpec, ThresholdSpec, events_from
from evaluators._lib.robust_z import block_scheme, robust_z_rows
from evaluators._lib.shift import shift_test
from evaluators.events.precedes import Precedes, PrecedesParams
from registry import CannotMeasure
from registry.runs.run import load_run

# --- detectors ---------------------------------------------------------------------------------------


def reference_robust_z(x: np.ndarray, window: int, z: float, min_ratio: float) -> tuple[list[int], list[float]]:
    """The loss.spikes definition, row by row, with numpy.median."""
    rows, ratios = [], []
    for t in range(window, x.size):
        if not np.isfinite(x[t]):
            continue
        w = x[t - window : t]
        m = np.median(w) + 0.0
        mad = np.median(np.abs(w - m))
        with np.errstate(all="ignore"):
            score = (x[t] - m) / (1.4826 * mad)
            ratio = x[t] / m
        if mad == 0 and x[t] > m:
            score = np.inf
        if score > z and ratio > min_ratio:
            rows.append(t)
            ratios.append(float(ratio))
    return rows, ratios


@pytest.mark.parametrize("seed", range(6))
def test_robust_z_is_exactly_the_definition(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for trial in range(12):
        n = int(rng.integers(1, 300))
        window = int(rng.integers(3, 60))
        shape = (seed + trial) % 4
        if shape == 0:
            x = np.exp(0.3 * rng.standard_t(2, n))  # heavy tails
        elif shape == 1:
            x = np.round(rng.normal(0, 1, n), 1)  # ties, zeros, negatives
        elif shape == 2:
            x = np.full(n, 2.0)  # constant: MAD = 0
        else:
            x = rng.normal(3, 0.2, n)
            idx = rng.integers(0, n, 5)
            x[idx[:2]], x[idx[2:4]], x[idx[4]] = np.nan, np.inf, -np.inf
        x[rng.integers(0, n, max(1, n // 25))] *= rng.uniform(1, 6)
        z, min_ratio = float(rng.choice([0.5, 3.0, 8.0])), float(rng.choice([0.5, 1.0, 1.15, 2.0]))
        rows, ratios = robust_z_rows(x, window, z, min_ratio)
        want_rows, want_ratios = reference_robust_z(x, window, z, min_ratio)
        assert rows.tolist() == want_rows
        assert ratios.tolist() == want_ratios


@pytest.mark.parametrize("window", [3, 4, 5, 7, 10, 23, 50, 51, 64])
def test_block_bound_never_exceeds_the_median(window: int) -> None:
    """The prefilter's premise: min over whole blocks of their k-th smallest <= the window median."""
    b, k = block_scheme(window)
    rng = np.random.default_rng(window)
    x = rng.normal(size=400)
    q = np.sort(x[: x.size // b * b].reshape(-1, b), axis=1)[:, k - 1]
    for t in range(window, x.size):
        first, last = -(-(t - window) // b), t // b  # whole blocks [first, last)
        assert last > first
        assert q[first:last].min() <= np.median(x[t - window : t])


def test_ema_ratio_uses_ema_of_previous_rows_with_ema0_x0() -> None:
    x = np.array([2.0, 5.0, 2.0, 2.0, 2.0, 9.0, np.nan, 30.0])
    det = detectors.ema_ratio(x, alpha=0.5, ratio=2.0, warmup=0)
    # EMA: 2, 3.5, 2.75, 2.375, 2.1875, 5.59375 (NaN skipped), then 30 / 5.59375 = 5.36.
    assert det.rows.tolist() == [1, 5, 7]
    assert det.ratios is not None
    assert det.ratios.tolist() == pytest.approx([2.5, 9 / 2.1875, 30 / 5.59375])
    assert detectors.ema_ratio(x, alpha=0.5, ratio=2.0, warmup=2).rows.tolist() == [5, 7]


def test_ema_closed_form_matches_the_recursion() -> None:
    rng = np.random.default_rng(0)
    for alpha in (1e-4, 0.05, 0.5, 0.999, 1.0):
        x = rng.lognormal(0, 1, 5000)
        expected = np.empty_like(x)
        e = x[0]
        for i, v in enumerate(x):
            e = alpha * v + (1 - alpha) * e
            expected[i] = e
        assert np.allclose(detectors.ema_of(x, alpha), expected, rtol=1e-12, atol=0)


def test_threshold_and_nonfinite_detectors() -> None:
    x = np.array([1.0, 5.0, np.nan, np.inf, -np.inf, 0.5])
    assert detectors.threshold(x, above=2.0, below=None).rows.tolist() == [1, 3]
    below = detectors.threshold(x, above=None, below=0.8)
    assert below.rows.tolist() == [4, 5] and below.direction == -1
    assert detectors.nonfinite(x).rows.tolist() == [2, 3, 4]


# --- events and their kinds ------------------------------------------------------------------------


def events_of(x: np.ndarray, spec: RobustZSpec | ThresholdSpec | EmaRatioSpec, step: int = 10) -> list[dict]:
    steps = np.arange(x.size, dtype=np.int64) * step
    return events_from(steps, x, spec.detect(x), spec).records()


def flat(n: int) -> np.ndarray:
    return 1.0 + 0.01 * np.sin(np.arange(n))  # a little spread, so MAD > 0


def test_blip_spike_and_divergence() -> None:
    x = flat(300)
    x[60] = 3.0  # back on the next row: blip
    x[100:104] = [3.0, 2.0, 1.5, 1.2]  # back at row 104, 40 steps after the onset: spike
    x[150:156] = [3.0, 2.5, 2.2, 2.0, 1.8, 1.6]  # back at row 200, 500 steps after: too late, divergence
    x[156:200] = 1.5
    x[250:] = 4.0  # never back: divergence
    spec = RobustZSpec(column="loss", detector="robust_z", window=20, recover_within=100)
    got = events_of(x, spec)
    assert [(e["onset"], e["kind"], e["recovery_steps"]) for e in got] == [
        (600, "blip", 10),
        (1000, "spike", 40),
        (1500, "divergence", 500),
        (2500, "divergence", None),
    ]
    assert got[0]["duration"] == 1 and got[0]["peak"] == 600
    assert got[1]["peak_ratio"] == pytest.approx(3.0 / np.median(x[80:100]))


def test_duration_is_rows_and_peak_is_the_largest_row() -> None:
    x = flat(100)
    x[40:44] = [2.0, 5.0, 3.0, 2.5]
    spec = ThresholdSpec(column="loss", detector="threshold", above=1.5, recover_within=1000)
    (event,) = events_of(x, spec, step=100)
    assert event == {
        "onset": 4000,
        "peak": 4100,
        "peak_ratio": pytest.approx(5.0 / np.median(x[:40])),
        "duration": 4,
        "recovery_steps": 400,
        "kind": "spike",
    }


def test_downward_event_recovers_upwards() -> None:
    x = flat(100)
    x[50:53] = [0.2, 0.5, 0.9]
    spec = ThresholdSpec(column="acc", detector="threshold", below=0.6, tolerance=0.05)
    (event,) = events_of(x, spec)
    assert event["peak"] == 500 and event["duration"] == 2
    assert event["recovery_steps"] == 30  # row 53: 0.9 is still below 0.95 x median; 1.0 is back
    assert event["kind"] == "spike"


def test_a_nonfinite_row_makes_a_divergence_even_if_it_recovers() -> None:
    x = flat(100)
    x[50] = np.inf
    spec = ThresholdSpec(column="loss", detector="threshold", above=2.0)
    (event,) = events_of(x, spec)
    assert event["kind"] == "divergence" and event["recovery_steps"] == 10 and event["peak_ratio"] is None


def test_event_at_the_first_row_has_no_baseline_and_never_recovers() -> None:
    x = flat(20)
    x[0] = 5.0
    (event,) = events_of(x, ThresholdSpec(column="loss", detector="threshold", above=2.0))
    assert event["kind"] == "divergence" and event["recovery_steps"] is None


def test_late_recovery_found_past_the_vectorised_horizon() -> None:
    x = flat(20_000)
    x[1000:15_000] = 3.0
    (event,) = events_of(x, ThresholdSpec(column="loss", detector="threshold", above=2.0, recover_within=10**9), step=1)
    assert event["recovery_steps"] == 14_000 and event["kind"] == "spike"


def test_kinds_filter() -> None:
    x = flat(300)
    x[60] = 3.0
    x[250:] = 4.0
    spec = RobustZSpec(column="loss", detector="robust_z", window=20, kinds=("divergence",))
    steps = np.arange(x.size)
    events = events_from(steps, x, spec.detect(x), spec)
    assert [KINDS[k] for k in events.kind] == ["blip", "divergence"]
    assert events.select(spec.kinds).onsets.tolist() == [250]


# --- events.precedes: the shift test ---------------------------------------------------------------


def brute_force(targets, signals, within, first, last, shifts):
    """Fraction preceded, observed and per shift, by direct enumeration."""
    lo, hi = within
    length = last - first + 1

    def frac(sig):
        return sum(any(t + lo <= s <= t + hi for s in sig) for t in targets) / len(targets)

    observed = frac(signals)
    shifted = [frac([(s - first + k) % length + first for s in signals]) for k in shifts]
    return observed, shifted


def test_shift_test_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        first, last = int(rng.integers(0, 50)), int(rng.integers(200, 400))
        targets = np.sort(rng.choice(np.arange(first, last + 1), size=int(rng.integers(1, 15)), replace=False))
        signals = np.sort(rng.choice(np.arange(first, last + 1), size=int(rng.integers(0, 30)), replace=False))
        lo = int(rng.integers(-40, 5))
        within = (lo, lo + int(rng.integers(0, 30)))
        result = shift_test(targets, signals, within, first, last, 50, np.random.default_rng(7))
        shifts = np.random.default_rng(7).integers(1, last - first + 1, size=50)
        observed, shifted = brute_force(targets.tolist(), signals.tolist(), within, first, last, shifts.tolist())
        assert result.fraction == pytest.approx(observed)
        assert result.base_rate == pytest.approx(float(np.mean(shifted)))
        assert result.p_value == pytest.approx((1 + sum(f >= observed - 1e-12 for f in shifted)) / 51)


def train_pair(lead: bool, seed: int = 0, n: int = 20_000, events: int = 60) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    targets = np.sort(rng.choice(np.arange(100, n - 100), size=events, replace=False))
    if lead:
        signals = targets - rng.integers(1, 10, size=events)
    else:
        signals = np.sort(rng.choice(np.arange(0, n), size=events, replace=False))
    return targets, signals


def test_planted_lead_gives_high_fraction_and_small_p() -> None:
    targets, signals = train_pair(lead=True)
    r = shift_test(targets, signals, (-10, 0), 0, 19_999, 1000, np.random.default_rng(0))
    assert r.fraction == 1.0
    assert r.p_value == 1 / 1001
    assert r.base_rate is not None and r.base_rate < 0.1 and r.lift is not None and r.lift > 10
    assert all(-10 <= lead <= -1 for lead in r.leads)


def test_independent_trains_are_not_significant() -> None:
    p_values = []
    for seed in range(10):
        targets, signals = train_pair(lead=False, seed=seed)
        r = shift_test(targets, signals, (-10, 0), 0, 19_999, 200, np.random.default_rng(seed))
        assert r.p_value is not None
        p_values.append(r.p_value)
    assert min(p_values) > 0.01 and np.median(p_values) > 0.2


def test_deterministic_for_a_seed_and_permutations_respected() -> None:
    targets, signals = train_pair(lead=False, seed=1)
    a = shift_test(targets, signals, (-50, 0), 0, 19_999, 37, np.random.default_rng(5))
    b = shift_test(targets, signals, (-50, 0), 0, 19_999, 37, np.random.default_rng(5))
    c = shift_test(targets, signals, (-50, 0), 0, 19_999, 37, np.random.default_rng(6))
    assert (a.fraction, a.base_rate, a.p_value) == (b.fraction, b.base_rate, b.p_value)
    assert a.base_rate != c.base_rate
    assert a.p_value is not None and math.isclose(a.p_value * 38, round(a.p_value * 38))
    assert a.p_value >= 1 / 38


def test_no_signal_events() -> None:
    r = shift_test(np.array([10, 20]), np.array([], dtype=np.int64), (-5, 0), 0, 100, 10, np.random.default_rng(0))
    assert (r.fraction, r.base_rate, r.lift, r.p_value) == (0.0, 0.0, None, 1.0)


# --- events.precedes through the CLI -----------------------------------------------------------------

PRECEDES_CLAIM = """\
id: surges-precede-spikes
title: Grad-norm surges precede loss spikes
statement: Loss spikes have a grad-norm surge in the 10 steps before them.
falsified_if: Fewer than 80% do, or no more often than chance.
predictions:
  - id: precedes
    level: loss
    evaluator: events.precedes
    params:
      target: {column: loss, detector: robust_z, z: 8}
      signal: {column: grad_norm, detector: ema_ratio, ratio: 3, alpha: 0.1}
      within: [-10, 0]
      permutations: 200
    expect:
      - {stat: fraction, op: ">=", value: 0.8}
      - {stat: p_value, op: "<", value: 0.05}
    min_samples: 3
"""


def spiky_run(folder: Path, steps_every: int = 2, rows: int = 3000) -> None:
    rng = np.random.default_rng(0)
    loss = 3.0 + rng.normal(0, 0.01, rows)
    grad = 1.0 + rng.normal(0, 0.02, rows)
    # Irregular onsets: a periodic train would line up with itself under shifts by its period.
    for onset in (200, 500, 730, 1100, 1390, 1520, 1880, 2300, 2560, 2900):
        loss[onset] = 6.0
        grad[onset - 2] = 8.0
    write_table(
        folder / "metrics.csv",
        {"step": list(range(0, rows * steps_every, steps_every)), "loss": loss.tolist(), "grad_norm": grad.tolist()},
    )
    write_run(folder, folder.name, {"metrics": {"path": "metrics.csv"}})


def test_precedes_end_to_end(project: Project) -> None:
    (project.claims / "surges-precede-spikes.yaml").write_text(PRECEDES_CLAIM)
    spiky_run(project.runs / "spiky")
    result = invoke("evaluate")
    assert result.exit_code == 0, result.output
    verdict = yaml.safe_load(project.verdict("surges-precede-spikes", "spiky").read_text())
    (pred,) = verdict["predictions"]
    assert pred["outcome"] == "pass"
    assert pred["evaluator_version"] == "2"
    assert pred["n"] == 10
    assert pred["statistics"]["fraction"] == 1.0
    assert pred["statistics"]["p_value"] == pytest.approx(1 / 201)
    assert pred["evidence"]["target_onsets"][:2] == [400, 1000]
    assert pred["evidence"]["preceded_onsets"] == pred["evidence"]["target_onsets"]
    assert pred["evidence"]["leads"][:2] == [-4, -4]  # 2 rows of 2 steps before


def run_with(tmp_path: Path, columns: dict) -> object:
    folder = tmp_path / "r"
    write_table(folder / "metrics.csv", columns)
    write_run(folder, "r", {"metrics": {"path": "metrics.csv"}})
    return load_run(folder / "run.yaml")


def precedes(**params: object) -> PrecedesParams:
    base = {
        "target": {"column": "loss", "detector": "threshold", "above": 5},
        "signal": {"column": "grad_norm", "detector": "threshold", "above": 5},
        "within": [-10, 0],
    }
    return PrecedesParams.model_validate({**base, **params})


@pytest.mark.parametrize(
    ("columns", "params", "reason"),
    [
        ({"step": [0, 1, 2], "loss": [1.0, 9.0, 1.0]}, {}, "signal grad_norm: metrics.csv has no column 'grad_norm'"),
        (
            {"step": [0, 1, 2], "loss": [1.0, 9.0, 1.0], "grad_norm": [1.0, 1.0, 1.0]},
            {"signal": {"column": "grad_norm", "detector": "nonfinite", "steps": [100, 200]}},
            "signal grad_norm: artifact 'metrics' has no rows of 'grad_norm' with steps in [100, 200]: "
            "'grad_norm' has 3 rows, steps 0..2",
        ),
        (
            {"step": [0, 1, 2, 3], "loss": [1.0, 9.0, 1.0, 1.0], "grad_norm": [1.0, 1.0, 1.0, 1.0]},
            {
                "target": {"column": "loss", "detector": "threshold", "above": 5, "steps": [0, 1]},
                "signal": {"column": "grad_norm", "detector": "threshold", "above": 5, "steps": [2, 3]},
            },
            "the target (loss, steps 0..1) and signal (grad_norm, steps 2..3) series share no steps",
        ),
    ],
)
def test_precedes_cannot_measure(tmp_path: Path, columns: dict, params: dict, reason: str) -> None:
    run = run_with(tmp_path, columns)
    with pytest.raises(CannotMeasure) as exc:
        Precedes().evaluate(precedes(**params), run)  # type: ignore[arg-type]
    assert exc.value.reason == reason


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        # A single row, a constant series, NaN/inf: measured, nothing to explain -> n = 0 (inconclusive).
        ({"step": [0], "loss": [1.0], "grad_norm": [1.0]}, {"n": 0, "fraction": None, "p_value": None}),
        ({"step": [0, 1, 2], "loss": [2.0, 2.0, 2.0], "grad_norm": [9.0, 9.0, 9.0]}, {"n": 0, "fraction": None}),
        (
            {"step": [0, 1, 2, 3], "loss": [1.0, float("nan"), float("inf"), 1.0], "grad_norm": [1.0, 9.0, 1.0, 1.0]},
            {"n": 1, "fraction": 1.0},
        ),
    ],
)
def test_precedes_degenerate_series(tmp_path: Path, columns: dict, expected: dict) -> None:
    m = Precedes().evaluate(precedes(permutations=10), run_with(tmp_path, columns))  # type: ignore[arg-type]
    assert m.n == expected["n"]
    for key in ("fraction", "p_value"):
        if key in expected:
            assert m.statistics[key] == expected[key]


BAD_PARAMS_CLAIM = """\
id: bad-events
title: t
statement: s
falsified_if: f
predictions:
  - id: p
    level: loss
    evaluator: events.precedes
    params:
      target: {column: loss, detector: robust_z, zz: 8}
      signal: {column: grad_norm, detector: ema_ratio, alpha: 2}
      within: [0, -10]
    expect:
      - {stat: fraction, op: ">=", value: 0.8}
  - id: q
    level: loss
    evaluator: events.precedes
    params:
      target: {column: loss, detector: robust_x}
      signal: {column: grad_norm}
      within: [-10, 0]
    expect:
      - {stat: fraction, op: ">=", value: 0.8}
  - id: r
    level: loss
    evaluator: events.precedes
    params:
      target: {column: loss, detector: threshold}
      signal: {column: grad_norm, detector: threshold, above: 1, below: 2, kinds: [spike, blop]}
      within: [-10, 0]
    expect:
      - {stat: fraction, op: ">=", value: 0.8}
"""


def test_bad_detector_params_are_located(project: Project) -> None:
    (project.claims / "bad-events.yaml").write_text(BAD_PARAMS_CLAIM)
    result = invoke("validate")
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    known = "robust_z, ema_ratio, threshold, nonfinite"
    at = "claims/bad-events.yaml:"
    for expected in [
        f"{at}10:50: predictions[0].params.target.zz: unknown key",
        f"{at}11:15: predictions[0].params.signal.ratio: required key is missing",
        f"{at}11:63: predictions[0].params.signal.alpha: Input should be less than or equal to 1, got 2",
        f"{at}12:15: predictions[0].params.within: start 0 is after end -10",
        f"{at}19:40: predictions[1].params.target.detector: unknown detector 'robust_x'; use one of: {known}",
        f"{at}20:15: predictions[1].params.signal.detector: required key is missing: detector (one of: {known})",
        f"{at}28:15: predictions[2].params.target: detector threshold needs exactly one of `above` or `below`",
        f"{at}29:91: predictions[2].params.signal.kinds[1]: Input should be 'blip', 'spike' or 'divergence', got 'blop'",
    ]:
        assert any(line.startswith(expected) for line in lines), (expected, result.output)
