"""Step windows: the one validator of an inclusive [start, end] window, slices of sorted steps, and
how a window is shown in messages."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, Field

if TYPE_CHECKING:
    import numpy as np

Bounds = tuple[int | None, int | None]


def ordered(window: Bounds | None) -> Bounds | None:
    """The window, if its start is not after its end (the one check of every step window)."""
    if window is not None and window[0] is not None and window[1] is not None and window[0] > window[1]:
        raise ValueError(f"start {window[0]} is after end {window[1]}")
    return window


# Offsets from an event's onset: an inclusive [lo, hi] window too.
Offsets = Annotated[
    tuple[int, int],
    AfterValidator(ordered),  # the one window check (offsets are a window too)
    Field(description="Inclusive [lo, hi] step offsets from each target onset ([-10, 0]: up to 10 steps before)."),
]


# An optional window (null: all steps).
StepWindow = Annotated[
    Bounds | None,
    AfterValidator(ordered),
    Field(description="Inclusive [start, end] steps; either may be null (open). Default: all steps."),
]

# A window that must be given (its ends may still be open).
Window = Annotated[
    Bounds,
    AfterValidator(ordered),
    Field(description="Inclusive [start, end] steps; either may be null (open)."),
]


def window_slice(steps: np.ndarray, window: Bounds | None) -> slice:
    """The rows of sorted `steps` inside an inclusive window, as a slice (a view, not a copy)."""
    import numpy as np

    if window is None:
        return slice(0, steps.size)
    start, end = window
    lo = 0 if start is None else int(np.searchsorted(steps, start, side="left"))
    hi = steps.size if end is None else int(np.searchsorted(steps, end, side="right"))
    return slice(lo, max(lo, hi))


def overlap(a: Bounds | None, b: Bounds | None) -> bool:
    """Whether two windows share a step (null: all steps)."""
    if a is None or b is None:
        return True
    lo = max(-math.inf if a[0] is None else a[0], -math.inf if b[0] is None else b[0])
    hi = min(math.inf if a[1] is None else a[1], math.inf if b[1] is None else b[1])
    return lo <= hi


def show_window(window: Bounds | None) -> str:
    """`[a, b]` (open ends as null), or `all steps`."""
    if window is None:
        return "all steps"
    lo, hi = window
    return f"[{'null' if lo is None else lo}, {'null' if hi is None else hi}]"


def window_phrase(window: Bounds | None, label: str = "the window") -> str:
    """' in the window [a, b]' for messages, or '' for all steps."""
    return "" if window is None else f" in {label} {show_window(window)}"


def no_rows(artifact: str, window: Bounds | None, what: str = "rows") -> str:
    """The reason given when a window of an artifact is empty."""
    where = f" with steps in {list(window)}" if window is not None else ""
    return f"artifact {artifact!r} has no {what}{where}"


def outside_data(artifact: str, column: str, window: Bounds, steps: np.ndarray) -> str:
    """The reason given when a window holds none of a column's rows: the rows' own step range."""
    return (
        f"artifact {artifact!r} has no rows of {column!r} with steps in {list(window)}: "
        f"{column!r} has {steps.size} rows, steps {int(steps[0])}..{int(steps[-1])}"
    )
