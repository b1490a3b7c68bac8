"""Streaming statistics over tensors of any size: one pass, bounded memory, float64 accumulators."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# Elements per block read from a (memory-mapped) tensor: 4 Mi float32 = 16 MiB at a time.
BLOCK = 1 << 22


@dataclass
class Moments:
    """Power sums of the finite values seen, plus counts; combine with `+`."""

    count: int = 0
    nonfinite: int = 0
    s1: float = 0.0
    s2: float = 0.0
    s3: float = 0.0
    s4: float = 0.0
    sum_abs: float = 0.0
    max_abs: float = 0.0
    above: int = 0

    def add(self, block: np.ndarray, threshold: float | None = None) -> None:
        import numpy as np

        x = np.asarray(block, dtype=np.float64).ravel()
        finite = np.isfinite(x)
        if not finite.all():
            self.nonfinite += int(x.size - finite.sum())
            x = x[finite]
        if x.size == 0:
            return
        x2 = x * x
        self.count += int(x.size)
        self.s1 += float(x.sum())
        self.s2 += float(x2.sum())
        self.s3 += float((x2 * x).sum())
        self.s4 += float((x2 * x2).sum())
        ax = np.abs(x)
        self.sum_abs += float(ax.sum())
        self.max_abs = max(self.max_abs, float(ax.max()))
        if threshold is not None:
            self.above += int((x > threshold).sum())

    def __add__(self, other: Moments) -> Moments:
        return Moments(
            self.count + other.count,
            self.nonfinite + other.nonfinite,
            self.s1 + other.s1,
            self.s2 + other.s2,
            self.s3 + other.s3,
            self.s4 + other.s4,
            self.sum_abs + other.sum_abs,
            max(self.max_abs, other.max_abs),
            self.above + other.above,
        )

    def stat(self, name: str) -> float | None:
        """mean | mean_abs | rms | max_abs | std | kurtosis (excess) | frac_above; None if undefined."""
        n = self.count
        if n == 0:
            return None
        mean = self.s1 / n
        if name == "mean":
            return mean
        if name == "mean_abs":
            return self.sum_abs / n
        if name == "rms":
            return math.sqrt(self.s2 / n)
        if name == "max_abs":
            return self.max_abs
        if name == "frac_above":
            return self.above / n
        var = max(self.s2 / n - mean * mean, 0.0)
        if name == "std":
            return math.sqrt(var)
        if name == "kurtosis":
            if var == 0:
                return None
            m4 = self.s4 / n - 4 * mean * self.s3 / n + 6 * mean * mean * self.s2 / n - 3 * mean**4
            return m4 / (var * var) - 3.0
        raise ValueError(f"unknown statistic {name!r}")


def moments_of(array: np.ndarray, threshold: float | None = None) -> Moments:
    """Moments of every element of `array`, read in blocks of BLOCK elements."""
    flat = array.reshape(-1)
    acc = Moments()
    for start in range(0, flat.size, BLOCK):
        acc.add(flat[start : start + BLOCK], threshold)
    return acc
