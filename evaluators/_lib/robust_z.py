"""Robust-z spike flags (the `loss.spikes` definition), computed exactly but only where a spike is possible.

Definition. Row t (t >= window) is flagged when x_t is finite and

    (x_t - m) / (1.4826 * MAD) > z    and    x_t / m > min_ratio,

m and MAD being the median and the median absolute deviation of the `window` rows before t
(MAD = 0 counts as an infinite z when x_t > m; a median of ±0 counts as +0, so x_t / m = +inf for
x_t > 0; a window holding a NaN has a NaN median and flags nothing). Non-finite rows are never flagged.

How it stays fast. A flag needs x_t > m (z > 0) and, when m > 0, x_t > min_ratio * m. So any cheap
lower bound L <= m rules rows out: x_t <= L, or L > 0 and x_t <= min_ratio * L. We take L from
order statistics of aligned blocks: split the rows into blocks of b and keep each block's k-th
smallest value q. A window [t - w, t) contains F whole blocks and w - F*b other rows; at most
F*(k-1) + (w - F*b) of its values are below min(q over its whole blocks). With k chosen so that this
is at most h - 1 (h = ceil(w/2)), at most h - 1 values lie below the bound, so the h-th smallest
value -- and hence the median -- is at least the bound. For w = 50 this is b = 10, k = 4: the
minimum of four or five "4th of 10" values, much closer to the median than the window minimum.
Where candidates are dense (a heavy-tailed grad-norm column: one row in ten), one block of each
window may be bounded by a higher order statistic within the same budget (`_relaxed_bounds`),
which leaves a third fewer. The rows that pass get an exact median (a SIMD sort of their window:
cheaper than counting first which of them could pass, unless most could not); where the ratio test
passes, a bound on the z-score from the shortest span of h sorted values (`_z_may_exceed`) spares
most of them their exact MAD. Memory stays bounded: everything runs in blocks of rows.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# Candidate rows whose windows are sorted per block: bounds memory to CHUNK × window floats.
# Small blocks stay in the CPU's cache and reuse freed memory (fresh memory costs page faults):
# 1,024 windows of 50 are 400 KB (2,048 measured slower, 512 pays more per-call overhead).
CHUNK = 1_024
# Rows screened per block by the lower bound (its block quantiles are computed per block too):
# 128Ki rows keep temporaries near 1 MB while a block's hundred-odd numpy calls cost little per row.
SCAN = 1 << 17


def block_scheme(window: int) -> tuple[int, int]:
    """(b, k): blocks of b rows whose k-th smallest values bound a `window`-row median from below.

    b ≈ window/5 works best in practice (fewer, tighter order statistics win over many loose ones);
    b = 1, k = 1 -- the window minimum -- is always valid and is the fallback for tiny windows.
    """
    h = (window + 1) // 2
    b = max(2, round(window / 5))
    whole = (window - b + 1) // b  # the fewest whole blocks any window of `window` rows contains
    if whole >= 1:
        slack = h - 1 - (window - whole * b)  # values below the bound the whole blocks may hold
        if slack >= 0:
            return b, 1 + slack // whole
    return 1, 1


def _block_quantiles(x: np.ndarray, b: int, ks: tuple[int, ...]) -> list[np.ndarray]:
    """For each k in ks, q[j] = the k-th smallest of rows j*b .. j*b+b-1, for every whole block j;
    NaN where a block holds a NaN when b <= NETWORK_BLOCK (a NaN bound rules nothing out)."""
    import numpy as np

    nb = x.size // b
    qs = [np.empty(nb, dtype=np.float64) for _ in ks]
    blocks = x[: nb * b].reshape(nb, b)
    step = max(1, SCAN // b)
    plan = _selection_network(b, ks) if b <= NETWORK_BLOCK else None
    for start in range(0, nb, step):
        part = blocks[start : start + step]
        if plan is None:
            ranked = np.sort(part, axis=1)
            picked = [ranked[:, k - 1] for k in ks]
        else:  # one column per position in the block: each comparator is two whole-array operations
            picked = _select(list(part.T.copy()), plan, ks)
        for q, values in zip(qs, picked, strict=True):
            q[start : start + step] = values
    return qs


# Blocks up to this size take their order statistic from a selection network: for b = 10, 27
# comparators on columns cost half a row-wise sort of 10 values (np.sort's per-row overhead).
NETWORK_BLOCK = 12


@functools.cache
def _selection_network(b: int, ks: tuple[int, ...]) -> tuple[tuple[int, int, bool, bool], ...]:
    """The comparators (i, j, min needed, max needed) of Batcher's odd-even merge sort of b values
    (padded to a power of two: comparators with a padding wire, +inf, do nothing) that the k-th
    outputs (k in ks) depend on, in order. Every input is among them: a k-th smallest depends on all."""
    n = 1 << max(0, (b - 1).bit_length())
    sort: list[tuple[int, int]] = []
    p = 1
    while p < n:
        d = p
        while d >= 1:
            for j in range(d % p, n - d, 2 * d):
                sort += [(i + j, i + j + d) for i in range(min(d, n - j - d)) if (i + j) // (2 * p) == (i + j + d) // (2 * p)]
            d //= 2
        p *= 2
    needed, plan = {k - 1 for k in ks}, []
    for i, j in reversed([c for c in sort if c[1] < b]):
        if i in needed or j in needed:
            plan.append((i, j, i in needed, j in needed))
            needed |= {i, j}
    return tuple(reversed(plan))


def _select(columns: list[np.ndarray], plan: tuple[tuple[int, int, bool, bool], ...], ks: tuple[int, ...]) -> list[np.ndarray]:
    """The k-th smallest across `columns` (k in ks), elementwise, through a selection network (columns are
    overwritten). np.minimum/np.maximum return a NaN operand, and every input reaches the output
    through needed comparators: a NaN anywhere makes the result NaN, never a wrong value."""
    import numpy as np

    spare = np.empty_like(columns[0])
    for i, j, low, high in plan:
        a, b = columns[i], columns[j]
        if low and high:
            np.minimum(a, b, out=spare)
            np.maximum(a, b, out=b)
            columns[i], spare = spare, a
        elif low:
            np.minimum(a, b, out=a)
        else:
            np.maximum(a, b, out=b)
    return [columns[k - 1] for k in ks]


def _residue_groups(window: int, b: int) -> list[tuple[int, int, int]]:
    """Rows t = j*b + r see the n_r = (window - r) // b whole blocks j-n_r .. j-1: [(n_r, r_first, r_end)]."""
    groups: list[tuple[int, int, int]] = []
    for r in range(b):
        n_r = (window - r) // b
        if groups and groups[-1][0] == n_r:
            groups[-1] = (n_r, groups[-1][1], r + 1)
        else:
            groups.append((n_r, r, r + 1))
    return groups


def _lower_bounds(q: np.ndarray, n: int, start: int, stop: int) -> np.ndarray:
    """min(q[j-n : j]) for block indices j in [start, stop); -inf where j < n."""
    import numpy as np

    out = np.full(stop - start, -np.inf)
    first = max(start, n)
    if first < stop:
        acc = q[first - n : stop - n].copy()
        for i in range(1, n):
            np.minimum(acc, q[first - n + i : stop - n + i], out=acc)
        out[first - start :] = acc
    return out


def _relaxed_rank(window: int, b: int, k: int, n: int) -> int:
    """The largest k2 <= b with (n-1)*(k-1) + (k2-1) + (window - n*b) <= h - 1: one of a window's n
    whole blocks may be bounded by its k2-th value instead of its k-th (k when no larger one fits)."""
    h = (window + 1) // 2
    return max(k, min(b, h - (window - n * b) - (k - 1) * (n - 1)))


def _relaxed_bounds(q: np.ndarray, q2: np.ndarray, n: int, start: int, stop: int) -> np.ndarray:
    """max over the n blocks j* of min(q2[j*], q[j] for the other blocks j), for block indices in
    [start, stop); -inf where j < n. At or above `_lower_bounds` (every choice of j* is), and still a
    bound: fewer than k2 values of block j* and fewer than k of each other block lie below it."""
    import numpy as np

    out = np.full(stop - start, -np.inf)
    first = max(start, n)
    if first < stop:
        low = [q[first - n + i : stop - n + i] for i in range(n)]
        high = [q2[first - n + i : stop - n + i] for i in range(n)]
        before, after = [low[0]], [low[-1]]  # running minima from either end
        for i in range(1, n - 1):
            before.append(np.minimum(before[-1], low[i]))
            after.append(np.minimum(after[-1], low[n - 1 - i]))
        after.reverse()  # after[i] = min(low[i + 1 :])
        best = np.minimum(high[0], after[0]) if n > 1 else high[0].copy()
        for i in range(1, n):
            others = before[i - 1] if i == n - 1 else np.minimum(before[i - 1], after[i])
            np.maximum(best, np.minimum(high[i], others), out=best)
        out[first - start :] = best
    return out


# Candidates per row above which the next scan block takes the tighter `_relaxed_bounds` (a dozen
# more operations per block of rows; in a heavy-tailed grad-norm column, a third fewer candidates).
DENSE = 0.01


def candidate_blocks(x: np.ndarray, window: int, min_ratio: float) -> Iterator[np.ndarray]:
    """Rows t >= window that the lower bound cannot rule out (a superset of the flagged rows), in
    ascending blocks of at most SCAN rows' worth, so they are never all held at once."""
    import numpy as np

    n = x.size
    b, k = block_scheme(window)
    groups = _residue_groups(window, b)
    reach = groups[0][0]  # the most whole blocks a window looks back over (residue 0's)
    relaxed = {n_r: _relaxed_rank(window, b, k, n_r) for n_r, _, _ in groups}
    factor = max(1.0, min_ratio)
    nb = n // b
    step = max(1, SCAN // b)
    dense = False  # the last scan block left many candidates: bound this one more tightly
    with np.errstate(invalid="ignore", over="ignore"):
        for start in range(0, nb, step):
            stop = min(nb, start + step)
            # Quantiles of this block's blocks and of the `reach` before them, indexed from `first`:
            # first = 0, or start - first = reach >= every n_r, so local indices give the same bounds.
            first = max(0, start - reach)
            ranks = tuple(sorted({k, *relaxed.values()})) if dense else (k,)
            qs = dict(zip(ranks, _block_quantiles(x[first * b : stop * b], b, ranks), strict=True))
            # Each row's threshold, laid out like the rows, so that one comparison covers the block.
            thr = np.empty((stop - start, b))
            for n_r, r0, r1 in groups:
                if relaxed[n_r] in qs and relaxed[n_r] > k:
                    bound = _relaxed_bounds(qs[k], qs[relaxed[n_r]], n_r, start - first, stop - first)
                else:
                    bound = _lower_bounds(qs[k], n_r, start - first, stop - first)
                thr[:, r0:r1] = bound[:, None]
            # x <= L rules out the z test, x <= min_ratio*L (L > 0) the ratio test; a NaN L rules out
            # nothing. NaN rows fail `>`; infinite ones pass here and are dropped by the exact stage.
            np.multiply(thr, factor, out=thr, where=thr > 0)
            thr[np.isnan(thr)] = -np.inf
            rows = np.flatnonzero(x[start * b : stop * b] > thr.reshape(-1)) + start * b
            dense = rows.size > DENSE * thr.size
            if start * b < window:
                rows = rows[rows >= window]
            if rows.size:
                yield rows
        tail = _tail_candidates(x, window, b, k, groups, factor)
        if tail.size:
            yield tail


def _tail_candidates(
    x: np.ndarray, window: int, b: int, k: int, groups: list[tuple[int, int, int]], factor: float
) -> np.ndarray:
    """`candidate_blocks` for the rows after the last whole block (fewer than b)."""
    import numpy as np

    n = x.size
    nb = n // b
    first = max(0, nb - groups[0][0])
    (q,) = _block_quantiles(x[first * b : nb * b], b, (k,))
    tail = []
    for t in range(max(nb * b, window), n):
        r = t - nb * b
        n_r = next(n_r for n_r, r0, r1 in groups if r0 <= r < r1)
        bound = float(_lower_bounds(q, n_r, nb - first, nb - first + 1)[0])
        limit = factor * bound if bound > 0 else bound
        if not x[t] <= limit:  # NaN x fails the exact stage; so does ±inf
            tail.append(t)
    return np.array(tail, dtype=np.int64)


def _middle(sorted_rows: np.ndarray) -> np.ndarray:
    """Row medians of row-sorted values, as numpy.median computes them."""
    w = sorted_rows.shape[1]
    # `+ 0.0` turns a median of -0.0 into +0.0, so x_t / m does not depend on how ties of ±0 sort.
    if w % 2:
        middle: np.ndarray = sorted_rows[:, w // 2] + 0.0
    else:
        middle = (sorted_rows[:, w // 2 - 1] + sorted_rows[:, w // 2]) / 2 + 0.0
    return middle


# Relative slack of the z-score bound: far above the rounding of the few operations on either side.
_BOUND_SLACK = 1e-9


def _z_may_exceed(sorted_rows: np.ndarray, excess: np.ndarray, z: float) -> np.ndarray:
    """Rows whose robust z-score may exceed z; the others are ruled out without computing their MAD.

    The h = ceil(w/2) values nearest the median m lie within d_h <= MAD of it, and are h consecutive
    values of the sorted window; so 2 * MAD >= the shortest span of h consecutive sorted values, and
    (x_t - m) / (1.4826 * span / 2) bounds the z-score from above. NaN bounds (infinite values) rule
    nothing out."""
    import numpy as np

    w = sorted_rows.shape[1]
    h = (w + 1) // 2
    span = np.min(sorted_rows[:, h - 1 :] - sorted_rows[:, : w - h + 1], axis=1)
    bound = excess / (1.4826 * 0.5 * span)
    ruled_out: np.ndarray = bound * (1.0 + _BOUND_SLACK) <= z
    return ~ruled_out


def robust_z_rows(x: np.ndarray, window: int, z: float, min_ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """(rows, ratios): the flagged rows (sorted, int64) and x_t / m at each of them."""
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view

    x = np.asarray(x, dtype=np.float64)
    if x.size <= window:
        return np.empty(0, dtype=np.int64), np.empty(0)
    view = sliding_window_view(x, window)  # view[i] = x[i : i + window]
    out_rows: list[np.ndarray] = []
    out_ratios: list[np.ndarray] = []
    chunks = (c[i : i + CHUNK] for c in candidate_blocks(x, window, min_ratio) for i in range(0, c.size, CHUNK))
    with np.errstate(divide="ignore", invalid="ignore"):
        for candidates in chunks:
            t = candidates
            rows = view[t - window]  # a copy: the window before each row
            rows.sort(axis=1)  # NaN sorts last
            m = _middle(rows)
            m[np.isnan(rows[:, -1])] = np.nan
            xt = x[t]
            ratio = xt / m
            maybe = np.flatnonzero((ratio > min_ratio) & (xt > m) & np.isfinite(xt))
            if maybe.size:
                maybe = maybe[_z_may_exceed(rows[maybe], xt[maybe] - m[maybe], z)]
            if maybe.size == 0:
                continue
            mm = m[maybe]
            dev = np.abs(rows[maybe] - mm[:, None])
            dev.sort(axis=1)
            mad = _middle(dev)
            xm = xt[maybe]
            zscore = (xm - mm) / (1.4826 * mad)
            zscore = np.where((mad == 0) & (xm > mm), np.inf, zscore)
            hit = zscore > z
            out_rows.append(t[maybe[hit]])
            out_ratios.append(ratio[maybe[hit]])
    if not out_rows:
        return np.empty(0, dtype=np.int64), np.empty(0)
    return np.concatenate(out_rows).astype(np.int64, copy=False), np.concatenate(out_ratios)


def runs_of_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximal runs of consecutive row indices in a sorted array: (first rows, last rows)."""
    import numpy as np

    if rows.size == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    breaks = np.flatnonzero(np.diff(rows) != 1)
    firsts = rows[np.concatenate(([0], breaks + 1))]
    lasts = rows[np.concatenate((breaks, [rows.size - 1]))]
    return firsts.astype(np.int64, copy=False), lasts.astype(np.int64, copy=False)
