"""Robust-z spike flags, computed exactly but only where a spike is possible.

A flag needs x_t / m > min_ratio with m the median of the previous `window` rows. When those rows
are all positive, m >= their minimum, so a row with x_t <= min_ratio · rolling_min cannot be
flagged: the exact median and MAD are computed only for the few rows that pass that cheap test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# Candidate rows processed per block: bounds memory to CHUNK × window floats.
CHUNK = 65_536


def _rolling_min_before(x: np.ndarray, window: int) -> np.ndarray:
    """min(x[t-window:t]) for t = window..len(x)-1 (NaN-propagating)."""
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view

    out = np.empty(x.size - window, dtype=np.float64)
    for start in range(0, out.size, CHUNK * 4):
        stop = min(out.size, start + CHUNK * 4)
        view = sliding_window_view(x[start : stop + window - 1], window)
        out[start:stop] = view.min(axis=1)
    return out


def robust_z_flags(x: np.ndarray, window: int, z: float, min_ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """(flags, ratios): flags[t] per the loss.spikes definition; ratios[t] = x_t / m where computed."""
    import numpy as np

    n = x.size
    flags = np.zeros(n, dtype=bool)
    ratios = np.full(n, np.nan)
    if n <= window:
        return flags, ratios
    candidates = np.arange(window, n)
    if min_ratio >= 1.0:
        lo = _rolling_min_before(x, window)
        with np.errstate(invalid="ignore"):
            # Where the window is all positive, x_t <= min_ratio*min rules a flag out; NaN windows stay
            # candidates (their median is NaN, so they are not flagged below either).
            possible = ~((lo > 0) & (x[window:] <= min_ratio * lo))
        candidates = candidates[possible & np.isfinite(x[window:])]
    offsets = np.arange(-window, 0)
    for start in range(0, candidates.size, CHUNK):
        t = candidates[start : start + CHUNK]
        rows = x[t[:, None] + offsets]
        m = np.median(rows, axis=1)
        mad = np.median(np.abs(rows - m[:, None]), axis=1)
        xt = x[t]
        with np.errstate(divide="ignore", invalid="ignore"):
            zscore = (xt - m) / (1.4826 * mad)
            ratio = xt / m
        zscore = np.where((mad == 0) & (xt > m), np.inf, zscore)
        hit = (zscore > z) & (ratio > min_ratio)
        flags[t] = hit
        ratios[t] = ratio
    return flags, ratios


def runs_of(flags: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of True as (first, last) row indices, inclusive."""
    import numpy as np

    if not flags.any():
        return []
    padded = np.concatenate(([False], flags, [False])).astype(np.int8)
    edges = np.diff(padded)
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))
