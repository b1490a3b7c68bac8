"""The one permutation test: is center(first) - center(second) larger than relabelling explains?

Labels are exchanged over the pooled values `first + second` (in that order). When there are at
most `permutations` relabellings and `exact` is set, all C(n, |first|) of them are enumerated and p
is exact; otherwise `permutations` random relabellings are drawn from
`numpy.random.default_rng(seed)` -- one shuffle of the pooled values per relabelling, in batches
(`Generator.permuted` row by row, which draws exactly as `Generator.permutation` once per
relabelling) -- and p = (1 + #{as extreme}) / (1 + permutations) (Phipson & Smyth 2010), never 0.
A relabelled difference within 1e-9 x max(1, max |value|) of the observed one counts as extreme.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .reduce import Center, reduce_rows

if TYPE_CHECKING:
    import numpy as np

Alternative = Literal["two-sided", "greater", "less"]
# Relabellings evaluated at once: bounds memory to this many pooled values.
_CELLS = 4_000_000


@dataclass(frozen=True)
class Permutation:
    p_value: float
    used: int  # relabellings behind the p-value
    exact: bool


def permutation_test(
    first: np.ndarray,
    second: np.ndarray,
    how: Center,
    *,
    alternative: Alternative = "two-sided",
    permutations: int = 10_000,
    seed: int = 0,
    exact: bool = True,
) -> Permutation:
    """p-value of center(first) - center(second); `greater`: first is larger. Both must be non-empty."""
    import numpy as np

    pooled = np.concatenate([np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)])
    k = int(np.asarray(first).size)
    observed = float(reduce_rows(pooled[None, :k], how)[0] - reduce_rows(pooled[None, k:], how)[0])
    eps = 1e-9 * max(1.0, float(np.max(np.abs(pooled))))

    def extreme(diffs: np.ndarray) -> int:
        if alternative == "greater":
            return int(np.count_nonzero(diffs >= observed - eps))
        if alternative == "less":
            return int(np.count_nonzero(diffs <= observed + eps))
        return int(np.count_nonzero(np.abs(diffs) >= abs(observed) - eps))

    total = math.comb(pooled.size, k)
    if exact and total <= permutations:
        hits = 0
        for rows in _relabellings(pooled.size, k, total):
            chosen = pooled[rows[:, :k]]
            rest = pooled[rows[:, k:]]
            hits += extreme(reduce_rows(chosen, how) - reduce_rows(rest, how))
        return Permutation(hits / total, total, True)
    rng = np.random.default_rng(seed)
    hits = 0
    chunk = max(1, min(permutations, _CELLS // pooled.size))
    done = 0
    while done < permutations:
        size = min(chunk, permutations - done)
        shuffled = rng.permuted(np.broadcast_to(pooled, (size, pooled.size)), axis=1)
        hits += extreme(reduce_rows(shuffled[:, :k], how) - reduce_rows(shuffled[:, k:], how))
        done += size
    return Permutation((hits + 1) / (permutations + 1), permutations, False)


def _relabellings(n: int, k: int, total: int) -> Iterator[np.ndarray]:
    """Every split of range(n) into k chosen indices then the rest, as rows of index arrays, block by block."""
    import numpy as np

    per_block = max(1, _CELLS // max(n, 1))
    combos = itertools.combinations(range(n), k)
    for _ in range(0, total, per_block):
        rows = []
        for chosen in itertools.islice(combos, per_block):
            mask = np.zeros(n, dtype=bool)
            mask[list(chosen)] = True
            rows.append(np.concatenate([np.flatnonzero(mask), np.flatnonzero(~mask)]))
        yield np.asarray(rows, dtype=np.int64).reshape(len(rows), n)
