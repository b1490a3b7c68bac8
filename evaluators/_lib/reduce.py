"""The one reduction: many values to one number (last, first, min, max, mean, median)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import numpy as np

Reduce = Literal["last", "first", "min", "max", "mean", "median"]
Center = Literal["mean", "median"]
Across = Literal["max", "min", "mean", "median"]


def reduce(values: np.ndarray | Sequence[float], how: str) -> float:
    """Reduce a non-empty array of non-missing values."""
    import numpy as np

    if how == "last":
        return float(values[-1])
    if how == "first":
        return float(values[0])
    if how == "min":
        return float(np.min(values))
    if how == "max":
        return float(np.max(values))
    if how == "mean":
        return float(np.mean(values))
    if how == "median":
        return float(median(np.asarray(values)))
    raise ValueError(f"unknown reduce {how!r}")


def reduce_defined(values: np.ndarray | Sequence[float | None], how: str) -> float | None:
    """`reduce` over the values that are not NaN or None; None when there are none."""
    import numpy as np

    if isinstance(values, np.ndarray):
        arr = values.astype(np.float64, copy=False)
    else:
        arr = np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    return reduce(arr, how) if arr.size else None


def reduce_rows(values: np.ndarray, how: Center) -> np.ndarray:
    """The mean or median of each row of a 2-d array (the vectorised form of `reduce`)."""
    import numpy as np

    return np.asarray(median(values) if how == "median" else np.mean(values, axis=1))


def median(values: np.ndarray) -> Any:
    """numpy.median over the last axis, the same numbers computed the same way (a partition, then the
    mean of the middle one or two from +0.0, NaN if any is NaN), without numpy.median's check for masked arrays,
    which imports numpy.ma (40 ms) on first use. An empty last axis is left to numpy.median."""
    import numpy as np

    n = values.shape[-1] if values.ndim else 1
    if n == 0 or values.dtype.kind not in "fiu":
        return np.median(values, axis=-1)
    h = n // 2
    kth = [h - 1, h, n - 1] if n % 2 == 0 else [h, n - 1]
    part = np.partition(values, kth, axis=-1)
    low = part[..., h - 1 if n % 2 == 0 else h].astype(np.float64 if values.dtype.kind in "iu" else values.dtype)
    # numpy's mean sums from +0.0, so a median of -0.0 is +0.0.
    middle = (low + part[..., h] + 0.0) / 2 if n % 2 == 0 else low + 0.0
    if values.dtype.kind == "f":
        last = part[..., -1]
        middle = np.where(np.isnan(last), last, middle)
    return middle[()] if middle.ndim == 0 else middle
