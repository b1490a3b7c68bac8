"""Small statistical tools shared by evaluators: permutation tests with a recorded seed."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

Statistic = Callable[[Sequence[float], Sequence[float]], float]


def permutation_p_value(
    a: Sequence[float],
    b: Sequence[float],
    statistic: Statistic,
    *,
    alternative: str = "two-sided",
    permutations: int = 10_000,
    seed: int = 0,
) -> tuple[float, int]:
    """p-value of statistic(a, b) under exchangeable labels, and the number of relabellings used.

    All C(n, |a|) relabellings are enumerated when there are at most `permutations` of them (exact
    p); otherwise `permutations` random relabellings from `numpy.random.default_rng(seed)` are
    drawn, with the +1 correction so that p is never 0.
    """
    import numpy as np

    pooled = np.asarray(list(a) + list(b), dtype=np.float64)
    n, k = pooled.size, len(a)
    observed = statistic(a, b)

    def extreme(value: float) -> bool:
        tol = 1e-12 * max(1.0, abs(observed))
        if alternative == "greater":
            return value >= observed - tol
        if alternative == "less":
            return value <= observed + tol
        return abs(value) >= abs(observed) - tol

    total = math.comb(n, k)
    if total <= permutations:
        hits = 0
        for chosen in itertools.combinations(range(n), k):
            mask = np.zeros(n, dtype=bool)
            mask[list(chosen)] = True
            hits += extreme(statistic(pooled[mask].tolist(), pooled[~mask].tolist()))
        return hits / total, total
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(permutations):
        perm = rng.permutation(n)
        hits += extreme(statistic(pooled[perm[:k]].tolist(), pooled[perm[k:]].tolist()))
    return (1 + hits) / (1 + permutations), permutations
