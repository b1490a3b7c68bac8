"""Event detectors: which rows of a step-indexed series are abnormal.

Each detector maps an array of values (rows in step order, NaN where missing) to a `Detection`: the
flagged rows and whether the events they form are excursions upwards (a spike, a surge) or
downwards. Grouping flagged rows into events, their peak and their recovery are the event engine's
job (evaluators/_lib/events.py); the detectors only decide which rows are abnormal.

- robust_z  -- exactly the `loss.spikes` definition (evaluators/_lib/robust_z.py).
- ema_ratio -- x_t / EMA_{t-1} > ratio, with EMA_0 = x_0 and EMA_t = alpha*x_t + (1-alpha)*EMA_{t-1};
               non-finite rows are skipped by the EMA (it carries over) and never flagged; a row is
               flagged only when EMA_{t-1} > 0 and t >= max(1, warmup).
- threshold -- x_t > above, or x_t < below (NaN never; +inf is above anything, -inf below).
- nonfinite -- x_t is NaN or ±inf.

Under a log `transform` (`log_base` given) x holds log values, and the ratio conditions keep their
meaning on the original scale: x_t / m > min_ratio becomes base^(x_t - m) > min_ratio (the same test,
as the median commutes with the logarithm), likewise x_t / EMA_{t-1} for ema_ratio, and the ratios
reported are on the original scale. The z-score is on the log values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .robust_z import robust_z_rows

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Detection:
    rows: np.ndarray  # flagged rows, sorted, int64
    # +1: events are excursions upwards (their peak is their largest value); -1: downwards.
    direction: int
    # Rows the detector could have flagged (e.g. rows with a full window before them).
    examined: int
    # The detector's own ratio at each flagged row (robust_z: x_t / m; ema_ratio: x_t / EMA_{t-1}).
    ratios: np.ndarray | None = None


def robust_z(x: np.ndarray, window: int, z: float, min_ratio: float, log_base: float | None = None) -> Detection:
    examined = max(0, int(x.size) - window)
    if log_base is None:
        rows, ratios = robust_z_rows(x, window, z, min_ratio)
        return Detection(rows=rows, direction=1, examined=examined, ratios=ratios)
    import numpy as np

    rows, _ = robust_z_rows(x, window, z, -math.inf)  # the z test alone, then the ratio on the original scale
    m = np.asarray([np.median(x[r - window : r]) for r in rows.tolist()], dtype=np.float64)  # few rows
    with np.errstate(over="ignore"):
        ratios = np.power(log_base, x[rows] - m) if rows.size else np.empty(0)
    keep = ratios > min_ratio
    return Detection(rows=rows[keep], direction=1, examined=examined, ratios=ratios[keep])


def threshold(x: np.ndarray, above: float | None, below: float | None) -> Detection:
    import numpy as np

    if above is not None:
        return Detection(rows=np.flatnonzero(x > above), direction=1, examined=int(x.size))
    assert below is not None
    return Detection(rows=np.flatnonzero(x < below), direction=-1, examined=int(x.size))


def nonfinite(x: np.ndarray) -> Detection:
    import numpy as np

    return Detection(rows=np.flatnonzero(~np.isfinite(x)), direction=1, examined=int(x.size))


def ema_ratio(x: np.ndarray, alpha: float, ratio: float, warmup: int, log_base: float | None = None) -> Detection:
    import numpy as np

    n = int(x.size)
    finite = np.isfinite(x)
    kept = np.flatnonzero(finite)
    if kept.size < 2:
        return Detection(rows=np.empty(0, dtype=np.int64), direction=1, examined=max(0, n - max(1, warmup)))
    ema = ema_of(x[kept], alpha)
    # For each finite row after the first finite one, the EMA of the finite rows before it.
    rows = kept[1:]
    prev = ema[:-1]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = x[rows] / prev if log_base is None else np.power(log_base, x[rows] - prev)
    positive = prev > 0 if log_base is None else np.ones(prev.size, dtype=bool)
    hit = positive & (r > ratio) & (rows >= max(1, warmup))
    return Detection(rows=rows[hit], direction=1, examined=max(0, n - max(1, warmup)), ratios=r[hit])


# Rows per block of the closed-form EMA; see `ema_of`.
_EMA_BLOCK = 64


def ema_of(x: np.ndarray, alpha: float) -> np.ndarray:
    """The EMA of finite values x: e_0 = x_0, e_t = alpha*x_t + (1-alpha)*e_{t-1}.

    The recursion is solved in closed form per block of rows (a scaled cumulative sum), and the
    blocks' carries by the same method one level up, so 10^7 rows take a few numpy passes rather
    than a Python loop. It agrees with the sequential recursion to ~1e-13 relative.
    """
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    if alpha >= 1.0:
        return x.copy()
    return _linear_recurrence(alpha * x, 1.0 - alpha, float(x[0]))


def _linear_recurrence(u: np.ndarray, c: float, e0: float) -> np.ndarray:
    """e_t = c*e_{t-1} + u_t for t >= 0, with e_{-1} = e0 (0 < c < 1)."""
    import numpy as np

    n = u.size
    if c <= 0.0:
        return u.copy()
    # c^-(B-1) must stay far from overflow.
    block = max(2, min(_EMA_BLOCK, int(300 / -math.log10(c))))
    if n <= block:
        out = np.empty(n)
        e = e0
        for i in range(n):
            e = c * e + float(u[i])
            out[i] = e
        return out
    nb = -(-n // block)
    padded = np.zeros(nb * block)
    padded[:n] = u
    grid = padded.reshape(nb, block)
    j = np.arange(block, dtype=np.float64)
    up = c ** (-j)  # c^-j
    down = c**j  # c^j
    # Zero-carry solution inside each block: local[b, j] = sum_{i<=j} c^(j-i) u[b, i].
    local = np.cumsum(grid * up, axis=1) * down
    # Block ends obey E_b = c^B E_{b-1} + local[b, -1]: the same recurrence, one level up.
    ends = _linear_recurrence(local[:, -1].copy(), c**block, e0)
    carry_in = np.concatenate(([e0], ends[:-1]))
    out = local + carry_in[:, None] * (c * down)[None, :]
    return out.reshape(-1)[:n]
