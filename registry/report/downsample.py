"""Long curves, shortened for a page: min/max-preserving LTTB (tsdownsample), every flagged step kept.

A 10M-step loss curve becomes a few thousand points whose envelope still shows each spike, and the
steps the verdict's evidence names (events) are always among them, so no marker floats off its curve."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

# Points kept per curve: enough to look continuous at full width and to zoom into a spike region.
POINTS = 4000


def downsample(
    steps: np.ndarray, values: np.ndarray, keep: Iterable[int] = (), points: int = POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) without NaN, at most about `points` + len(keep) of them, sorted by step."""
    ok = np.isfinite(values)
    x, y = np.asarray(steps)[ok], np.asarray(values, dtype=np.float64)[ok]
    if x.size <= points:
        return x, y
    from tsdownsample import MinMaxLTTBDownsampler

    sampler = MinMaxLTTBDownsampler()  # type: ignore[no-untyped-call]
    index = sampler.downsample(x.astype(np.float64), y, n_out=points).astype(np.int64)
    wanted = np.fromiter(keep, dtype=np.int64)
    if wanted.size:
        at = np.searchsorted(x, wanted)
        at = at[at < x.size]
        index = np.union1d(index, at[np.isin(x[at], wanted)])
    return x[index], y[index]
