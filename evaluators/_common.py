"""Pieces shared by the built-in evaluators: step windows and reductions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, Field

if TYPE_CHECKING:
    import numpy as np


def _ordered(window: tuple[int | None, int | None] | None) -> tuple[int | None, int | None] | None:
    if window is not None and window[0] is not None and window[1] is not None and window[0] > window[1]:
        raise ValueError(f"start {window[0]} is after end {window[1]}")
    return window


StepWindow = Annotated[
    tuple[int | None, int | None] | None,
    AfterValidator(_ordered),
    Field(description="Inclusive [start, end] steps; either may be null (open). Default: all steps."),
]

Reduce = Literal["last", "first", "min", "max", "mean", "median"]


def in_window(steps: np.ndarray, window: tuple[int | None, int | None] | None) -> np.ndarray:
    """Boolean mask of the steps inside an inclusive window."""
    import numpy as np

    mask = np.ones(steps.shape, dtype=bool)
    if window is None:
        return mask
    start, end = window
    if start is not None:
        mask &= steps >= start
    if end is not None:
        mask &= steps <= end
    return mask


def window_slice(steps: np.ndarray, window: tuple[int | None, int | None] | None) -> slice:
    """The rows of sorted `steps` inside an inclusive window, as a slice (a view, not a copy)."""
    import numpy as np

    if window is None:
        return slice(0, steps.size)
    start, end = window
    lo = 0 if start is None else int(np.searchsorted(steps, start, side="left"))
    hi = steps.size if end is None else int(np.searchsorted(steps, end, side="right"))
    return slice(lo, max(lo, hi))


def reduce(values: np.ndarray, how: str) -> float:
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
