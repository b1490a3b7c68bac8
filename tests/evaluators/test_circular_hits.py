"""circular_hits (one binary search per window) equals counting the offsets in each circular window."""

from __future__ import annotations

import numpy as np

from evaluators._lib.shift import circular_hits


def counted(a: np.ndarray, width: np.ndarray, u: np.ndarray, length: int, shift: np.ndarray) -> np.ndarray:
    """Shifted offsets (u + k) mod length inside [a, a + width), counted one by one."""
    out = np.zeros((shift.size, a.size), dtype=bool)
    for i, k in enumerate(shift.tolist()):
        moved = (u + k) % length
        for j in range(a.size):
            out[i, j] = width[j] > 0 and bool(((moved >= a[j]) & (moved < a[j] + width[j])).any())
    return out


def test_circular_hits_equal_counting() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        length = int(rng.integers(2, 60))
        u = np.unique(rng.integers(0, length, int(rng.integers(0, 8))))
        a = rng.integers(0, length, int(rng.integers(1, 6)))
        width = np.minimum(rng.integers(-2, 12, a.size), length - a)  # windows end inside the range
        shift = rng.integers(0, length, 9)
        got = circular_hits(a, width, np.concatenate((u, u + length)), length, shift)
        assert got.tolist() == counted(a, width, u, length, shift).tolist()
