"""Kendall's tau-b of a series against its (strictly increasing) steps, with the normal approximation.

With x = steps there are no ties in x, so for values y (ties allowed):

    S     = n_c - n_d = n0 - n2 - 2*n_d          n0 = n(n-1)/2, n2 = sum over tie groups u(u-1)/2
    tau_b = S / sqrt(n0 * (n0 - n2))             (undefined when y is constant)
    var S = (n(n-1)(2n+5) - sum u(u-1)(2u+5)) / 18
    z     = S / sqrt(var S)                      (no continuity correction)

n_d, the number of pairs i < j with y_i > y_j, is counted by the C extension `_kendall` (built from
_kendall.c by `pip install`, optional) in one merge sort of the values, whose sorted copy gives the
tie groups: 20,000 values take about 0.3 ms of CPU in all. Without the extension (no C compiler at
install), numpy counts the same integer bit by bit of the dense ranks (a wavelet tree): a pair is
counted at the highest bit where its two ranks differ, as a 1 before a 0 among the elements that
agree on every higher bit; one stable radix sort per bit, about 3.5 ms for 20,000 values with
np.unique's ranks (most of a sweep's time, issue 14). Every number is the same either way. This is
scipy.stats.kendalltau(x, y, method="asymptotic") without scipy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np

native_sort_count: Callable[[object, object, object], tuple[int, int] | None] | None
try:  # the compiled kernel; without it (no compiler at install) numpy counts the same integers, slower
    from ._kendall import sort_count as native_sort_count
except ImportError:
    native_sort_count = None


@dataclass(frozen=True)
class Tau:
    tau: float | None  # None when the values are constant
    p_value: float | None
    z: float | None


def inversions(ranks: np.ndarray) -> int:
    """Number of pairs i < j with ranks[i] > ranks[j] (ranks: non-negative integers < len)."""
    import numpy as np

    a = np.asarray(ranks, dtype=np.int64).reshape(-1)
    n = a.size
    if n < 2:
        return 0
    top = int(a.max()).bit_length()
    # Ranks in the narrowest unsigned type: 16-bit keys are sorted by radix (linear), and gathers move less.
    width: type[np.unsignedinteger[Any]] = np.uint16 if top <= 16 else np.uint32 if top <= 32 else np.uint64
    small = a.astype(width)
    starts_flag = np.empty(n, dtype=bool)
    starts_flag[0] = True
    total = 0
    for b in range(top - 1, -1, -1):
        # Elements grouped by the bits above b, each group in its original order.
        ordered = small[np.argsort(small >> (b + 1), kind="stable")]
        bit = (ordered >> b) & 1
        ones_before = np.cumsum(bit, dtype=np.int64)
        ones_before -= bit
        grouped = ordered >> (b + 1)
        np.not_equal(grouped[1:], grouped[:-1], out=starts_flag[1:])
        starts = np.flatnonzero(starts_flag)
        ones_at_start = ones_before[starts]
        zeros_per_group = np.diff(starts - ones_at_start, append=n - int(bit.sum()))
        # Ones before each zero, less those of earlier groups. Integer sums: exact, and no BLAS.
        total += int((ones_before * (bit ^ 1)).sum()) - int((ones_at_start * zeros_per_group).sum())
    return total


def tie_counts_and_inversions(y: np.ndarray) -> tuple[np.ndarray, int]:
    """Sizes of the groups of equal values in ascending order of value (np.unique's counts), and the
    number of pairs i < j with y[i] > y[j] (y: float64, C-contiguous)."""
    import numpy as np

    if native_sort_count is not None and y.size:
        sizes = np.empty(y.size, dtype=np.int64)
        counted = native_sort_count(y, np.empty(y.size, dtype=np.float64), sizes)
        if counted is not None:  # else a NaN: np.unique's grouping of NaNs below
            n_d, groups = counted
            return sizes[:groups], n_d
    _, dense, counts = np.unique(y, return_inverse=True, return_counts=True)
    return counts, inversions(dense)


# Up to this n the tie sums below are sums of integers under 2**53 (n(n-1)(2n+5) < 2**53): exact in any
# order, so the groups of one value, whose terms are 0, can be left out without changing a bit.
EXACT_TIE_SUMS = 150_000


def tie_sizes(counts: np.ndarray, n: int) -> np.ndarray:
    """The group sizes the tie sums need, as float64: those over 1 where that changes no bit of the sums."""
    import numpy as np

    return (counts if n > EXACT_TIE_SUMS else counts[counts > 1]).astype(np.float64)


def kendall_tau(y: np.ndarray, alternative: str = "two-sided") -> Tau:
    """tau-b of y against its index order, and its p-value (two-sided, 'increasing' or 'decreasing')."""
    import numpy as np

    y = np.ascontiguousarray(y, dtype=np.float64).reshape(-1)
    n = int(y.size)
    if n < 2:
        return Tau(None, None, None)
    counts, n_d = tie_counts_and_inversions(y)
    if counts.size == 1:
        return Tau(None, None, None)
    u = tie_sizes(counts, n)
    n0 = n * (n - 1) / 2
    n2 = float((u * (u - 1) / 2).sum())
    s = n0 - n2 - 2.0 * n_d
    tau = s / math.sqrt(n0 * (n0 - n2))
    var = (n * (n - 1) * (2 * n + 5) - float((u * (u - 1) * (2 * u + 5)).sum())) / 18.0
    z = s / math.sqrt(var)
    if alternative == "increasing":
        p = 0.5 * math.erfc(z / math.sqrt(2))
    elif alternative == "decreasing":
        p = 0.5 * math.erfc(-z / math.sqrt(2))
    else:
        p = math.erfc(abs(z) / math.sqrt(2))
    return Tau(max(-1.0, min(1.0, tau)), min(1.0, p), z)
