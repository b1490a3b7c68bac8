"""robust_z in many small blocks, with its exact screens (block bounds on the median, relaxed where
candidates are dense; a bound on the z-score from the window's shortest half), equals the row-by-row definition."""

from __future__ import annotations

import numpy as np
import pytest
from test_events import reference_robust_z

from evaluators._lib import robust_z


@pytest.fixture(params=[0.0, 0.01, 2.0])
def small_blocks(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    monkeypatch.setattr(robust_z, "SCAN", 37)  # block quantiles recomputed per scan block, odd sizes
    monkeypatch.setattr(robust_z, "CHUNK", 5)
    monkeypatch.setattr(robust_z, "DENSE", request.param)  # relaxed bounds after the first block, as built, never


def series(rng: np.random.Generator, n: int, shape: int) -> np.ndarray:
    if shape == 0:
        return np.exp(0.06 * rng.standard_t(4, n))  # heavy tails: many candidates, most ruled out
    if shape == 1:
        return np.round(rng.normal(0, 1, n), 1)  # ties, zeros, negatives
    if shape == 2:
        x = rng.normal(3, 0.2, n)
        idx = rng.integers(0, n, 6)
        x[idx[:2]], x[idx[2:4]], x[idx[4]], x[idx[5]] = np.nan, np.inf, -np.inf, 0.0
        return x
    return np.where(rng.random(n) < 0.3, 2.0, rng.lognormal(0, 1, n))  # MAD 0 in some windows


@pytest.mark.parametrize("seed", range(8))
def test_small_blocks_equal_the_definition(seed: int, small_blocks: None) -> None:
    rng = np.random.default_rng(100 + seed)
    for trial in range(6):
        n = int(rng.integers(1, 400))
        window = int(rng.choice([3, 4, 7, 10, 11, 50]))
        x = series(rng, n, (seed + trial) % 4)
        x[rng.integers(0, n, max(1, n // 25))] *= rng.uniform(1, 6)
        z, min_ratio = float(rng.choice([0.5, 3.0, 6.0])), float(rng.choice([0.5, 1.0, 1.15, 2.0, -np.inf]))
        rows, ratios = robust_z.robust_z_rows(x, window, z, min_ratio)
        want_rows, want_ratios = reference_robust_z(x, window, z, min_ratio)
        assert rows.tolist() == want_rows
        assert ratios.tolist() == want_ratios


def test_screens_keep_rows_on_their_boundary() -> None:
    """A row whose z-score or ratio lands exactly on a threshold is decided by the exact stage."""
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0] * 4 + [3.0 + 1.4826 * 1.0 * 2.0, 6.0, 4.5])
    for z in (2.0, np.nextafter(2.0, 0), np.nextafter(2.0, 3)):
        for min_ratio in (1.5, 2.0, np.nextafter(1.5, 0)):
            rows, ratios = robust_z.robust_z_rows(x, 5, z, min_ratio)
            want_rows, want_ratios = reference_robust_z(x, 5, z, min_ratio)
            assert (rows.tolist(), ratios.tolist()) == (want_rows, want_ratios)


def test_selection_network_is_the_kth_smallest() -> None:
    """The block quantiles' selection network gives np.sort's k-th smallest value of each block (ties,
    ±0, ±inf included), and NaN for a block holding a NaN (a NaN bound rules nothing out)."""
    rng = np.random.default_rng(7)
    for b in range(1, robust_z.NETWORK_BLOCK + 1):
        x = rng.choice([-np.inf, -1.0, -0.0, 0.0, 0.5, 1.0, 2.0, np.inf], size=(500, b))
        x[:250] = rng.normal(size=(250, b))
        nan_rows = rng.integers(0, 500, 20)
        with_nan = x.copy()
        with_nan[nan_rows, rng.integers(0, b, 20)] = np.nan
        for k in range(1, b + 1):
            (got,) = robust_z._block_quantiles(x.reshape(-1), b, (k,))
            assert got.tolist() == np.sort(x, axis=1)[:, k - 1].tolist()
            (got,) = robust_z._block_quantiles(with_nan.reshape(-1), b, (k,))
            assert np.isnan(got[nan_rows]).all()
            clean = np.setdiff1d(np.arange(500), nan_rows)
            assert got[clean].tolist() == np.sort(x, axis=1)[clean, k - 1].tolist()


def test_spikes_finds_nonfinite_rows_across_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """loss.spikes counts and lists NaN/±inf rows a block at a time: rows at either end of a block count."""
    from evaluators.loss import spikes

    monkeypatch.setattr(spikes, "_BLOCK", 4)
    x = np.arange(23, dtype=np.float64)
    x[[0, 3, 4, 7, 8, 22]] = [np.nan, np.inf, -np.inf, np.nan, np.nan, np.inf]
    assert spikes._nonfinite_rows(x).tolist() == [0, 3, 4, 7, 8, 22]
    assert spikes._nonfinite_rows(np.ones(9)).tolist() == []
