"""The one reduction: many values to one number (last, first, min, max, mean, median)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

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
        return float(np.median(values))
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

    return np.asarray(np.median(values, axis=1) if how == "median" else np.mean(values, axis=1))
