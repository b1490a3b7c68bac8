"""The shape of an event on its series: its pre-event level, its peak, and when it recovers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .reduce import median

if TYPE_CHECKING:
    import numpy as np

# Events whose baselines are gathered at once: bounds memory to this × baseline rows.
_EVENT_CHUNK = 1_024


def pre_event_median(x: np.ndarray, onset: np.ndarray, rows: int) -> np.ndarray:
    """Median of the finite values among the `rows` rows before each onset (NaN if none)."""
    import numpy as np

    out = np.full(onset.size, np.nan)
    offsets = np.arange(-rows, 0)
    for start in range(0, onset.size, _EVENT_CHUNK):
        o = onset[start : start + _EVENT_CHUNK]
        idx = o[:, None] + offsets
        vals = x[np.maximum(idx, 0)]
        vals[(idx < 0) | ~np.isfinite(vals)] = np.nan
        missing = np.isnan(vals)
        full = ~missing.any(axis=1)
        some = ~full & ~missing.all(axis=1)
        part = out[start : start + o.size]
        part[full] = median(vals[full])  # the usual case, much faster than nanmedian
        if some.any():
            part[some] = np.nanmedian(vals[some], axis=1)
    return out


def peaks(x: np.ndarray, rows: np.ndarray, first: np.ndarray, last: np.ndarray, direction: int) -> np.ndarray:
    """Row of the most extreme value of each event (its first such row; the onset if all are NaN)."""
    import numpy as np

    peak = first.copy()
    multi = np.flatnonzero(last > first)
    if multi.size == 0:
        return peak
    vals = x[rows] * direction
    seg = np.searchsorted(rows, first)
    best = np.fmax.reduceat(vals, seg)  # NaN-ignoring
    lengths = (last - first + 1).astype(np.int64)
    is_best = vals == np.repeat(best, lengths)
    hits = np.flatnonzero(is_best)
    pos = np.searchsorted(hits, seg)  # first hit at or after each event's first flagged row
    ok = pos < hits.size
    ok[ok] &= hits[pos[ok]] <= seg[ok] + lengths[ok] - 1
    peak[ok] = rows[hits[pos[ok]]]
    return peak


# Rows checked for every event at once before the block search.
_HORIZON = 64
# Rows per block of the block minima used to find late recoveries.
_BLOCK = 4096


def first_recovery(x: np.ndarray, start: np.ndarray, limit: np.ndarray, direction: int) -> np.ndarray:
    """For each event, the first row r >= start with x_r finite and x_r <= limit (direction +1) or
    x_r >= limit (direction -1); -1 if there is none (or the limit is NaN)."""
    import numpy as np

    n = x.size
    e = start.size
    out = np.full(e, -1, dtype=np.int64)
    if e == 0 or n == 0:
        return out
    sx = x if direction > 0 else -x
    lim = limit if direction > 0 else -limit
    # 1. The next _HORIZON rows of every event, vectorised (most events recover quickly).
    pending = np.flatnonzero(np.isfinite(lim) & (start < n))
    for begin in range(0, pending.size, _EVENT_CHUNK):
        ev = pending[begin : begin + _EVENT_CHUNK]
        idx = start[ev, None] + np.arange(_HORIZON)
        inside = idx < n
        vals = sx[np.minimum(idx, n - 1)]
        with np.errstate(invalid="ignore"):
            ok = inside & np.isfinite(vals) & (vals <= lim[ev, None])
        found = ok.any(axis=1)
        out[ev[found]] = idx[found, ok[found].argmax(axis=1)]
    late = pending[(out[pending] < 0) & (start[pending] + _HORIZON < n)]
    if late.size == 0:
        return out
    # 2. The rest: block minima (NaN-ignoring) point at the blocks that may hold a recovery.
    with np.errstate(invalid="ignore"):
        mins = np.fmin.reduceat(sx, np.arange(0, n, _BLOCK))
    for i in late.tolist():
        s = int(start[i]) + _HORIZON
        c = float(lim[i])
        b = s // _BLOCK
        r = _scan(sx, s, min(n, (b + 1) * _BLOCK), c)
        if r < 0:
            for blk in (np.flatnonzero(mins[b + 1 :] <= c) + b + 1).tolist():
                r = _scan(sx, blk * _BLOCK, min(n, (blk + 1) * _BLOCK), c)
                if r >= 0:
                    break
        out[i] = r
    return out


def _scan(sx: np.ndarray, a: int, b: int, c: float) -> int:
    import numpy as np

    seg = sx[a:b]
    with np.errstate(invalid="ignore"):
        hit = np.flatnonzero(np.isfinite(seg) & (seg <= c))
    return a + int(hit[0]) if hit.size else -1
