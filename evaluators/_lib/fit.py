"""Least-squares slope of y against x without BLAS.

`np.dot` on float64 vectors goes through OpenBLAS, which wakes its thread pool even for a
20,000-element vector: under load that costs hundreds of microseconds per call instead of a few
(issue 14's profile: 28% of a sweep's time). Elementwise products reduced by `ndarray.sum`
(numpy's own pairwise summation, single-threaded) give the same value to well within the
12 significant digits a verdict keeps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


def slope(x: np.ndarray, y: np.ndarray) -> tuple[float, float, np.ndarray]:
    """(slope, mean of y, x centred): the least-squares fit y ≈ mean + slope * (x - mean(x))."""
    xc = x - x.mean()
    mean = float(y.mean())
    return float((xc * (y - mean)).sum() / (xc * xc).sum()), mean, xc
