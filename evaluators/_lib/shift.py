"""Circular-shift tests of event onsets: how often events of one train fall near events of another,
against the same trains shifted circularly over their shared range of steps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


def circular_hits(a: np.ndarray, width: np.ndarray, doubled: np.ndarray, length: int, shift: np.ndarray) -> np.ndarray:
    """(shifts, windows) bool: a shifted event falls in the window [a, a + width) (width <= 0: never).

    `doubled` is the other train's sorted offsets u in [0, length) followed by u + length; a shift by
    k moves each u to (u + k) mod length, so the window holds a shifted event exactly when the
    circular interval [a - k, a - k + width) holds an unshifted one: when the first offset in
    `doubled` at or after its start is at or before its end (one binary search).
    """
    import numpy as np

    if doubled.size == 0:
        return np.zeros((shift.size, a.size), dtype=bool)
    start = (a[None, :] - shift[:, None]) % length
    first = np.searchsorted(doubled, start, side="left")
    nearest = doubled[np.minimum(first, doubled.size - 1)]
    hit: np.ndarray = (first < doubled.size) & (nearest <= start + (width[None, :] - 1)) & (width[None, :] > 0)
    return hit


@dataclass(frozen=True)
class ShiftTest:
    fraction: float | None
    base_rate: float | None
    lift: float | None
    p_value: float | None
    preceded: np.ndarray  # bool per target
    leads: list[int]  # for each preceded target: latest signal onset in its window minus its onset


# Target × shift pairs evaluated per block: bounds memory.
_PAIRS = 1 << 16


@dataclass(frozen=True)
class ShiftCounts:
    """One train pair on its own range: which targets are preceded, and how many under each shift."""

    targets: int
    observed: np.ndarray  # bool per target
    leads: list[int]
    null: np.ndarray | None  # preceded targets per shift; None when the range cannot be shifted (L < 2)


def shift_counts(
    targets: np.ndarray,
    signals: np.ndarray,
    within: tuple[int, int],
    first: int,
    last: int,
    shifts: np.ndarray | None,
) -> ShiftCounts:
    """Which targets have a signal onset in [t + lo, t + hi], and how many do under each shift.

    Everything happens on offsets from `first` in [0, L), L = last - first + 1. A target's window is
    clipped to [0, L). A shift by k moves each signal u to (u + k) mod L; the number of shifted
    signals in a window [a, b] is then the number of unshifted ones in the circular interval
    [a - k, b - k] mod L, counted by two binary searches in the sorted signals doubled (u, u + L).
    """
    import numpy as np

    lo, hi = within
    length = last - first + 1
    t = np.asarray(targets, dtype=np.int64) - first
    # np.unique, but without its check for masked arrays, which imports numpy.ma (40 ms) on first use.
    u = np.sort(np.asarray(signals, dtype=np.int64) - first)
    u = u[np.concatenate(([True], u[1:] != u[:-1]))] if u.size else u
    a = np.maximum(t + lo, 0)
    b = np.minimum(t + hi, length - 1)
    width = b - a + 1  # <= 0: the window lies outside the range
    doubled = np.concatenate((u, u + length))

    def hits(shift: np.ndarray) -> np.ndarray:
        return circular_hits(a, width, doubled, length, shift)

    observed = hits(np.zeros(1, dtype=np.int64))[0] if t.size else np.zeros(0, dtype=bool)
    # Latest signal at or before each window's end, for the evidence.
    leads: list[int] = []
    if observed.any() and u.size:
        last_in = np.searchsorted(u, b[observed], side="right") - 1
        leads = (u[last_in] - t[observed]).tolist()
    if shifts is None or length < 2:
        return ShiftCounts(int(t.size), observed, leads, None)
    counts = np.zeros(shifts.size, dtype=np.int64)
    if t.size:
        per_block = max(1, _PAIRS // t.size)
        for start in range(0, shifts.size, per_block):
            k = shifts[start : start + per_block]
            counts[start : start + k.size] = hits(k).sum(axis=1)
    return ShiftCounts(int(t.size), observed, leads, counts)


def summarize(preceded: int, targets: int, null: np.ndarray | None, permutations: int) -> tuple[
    float | None, float | None, float | None, float | None
]:
    """(fraction, base_rate, lift, p_value) of `preceded` of `targets`, against the null counts."""
    if targets == 0:
        return None, None, None, None
    fraction = preceded / targets
    if null is None:
        return fraction, None, None, None
    base_rate = float(null.mean()) / targets
    p_value = (1 + int((null >= preceded).sum())) / (1 + permutations)
    lift = fraction / base_rate if base_rate > 0 else None
    return fraction, base_rate, lift, p_value


def shift_test(
    targets: np.ndarray,
    signals: np.ndarray,
    within: tuple[int, int],
    first: int,
    last: int,
    permutations: int,
    rng: np.random.Generator,
) -> ShiftTest:
    """Which targets have a signal onset in [t + lo, t + hi], and the same under circular shifts of
    the signals by k uniform on 1..L-1 (see `shift_counts`)."""
    import numpy as np

    if len(targets) == 0:
        return ShiftTest(None, None, None, None, np.zeros(0, dtype=bool), [])
    length = last - first + 1
    shifts = rng.integers(1, length, size=permutations) if length >= 2 else None
    c = shift_counts(targets, signals, within, first, last, shifts)
    fraction, base_rate, lift, p_value = summarize(int(c.observed.sum()), c.targets, c.null, permutations)
    return ShiftTest(fraction, base_rate, lift, p_value, c.observed, c.leads)
