"""`transform:` of a series before it is measured: `log` (natural) or `log10`, for losses that span
decades (a loss near the float32 floor that jumps by orders of magnitude is looked at on a log axis).

Values <= 0 (including -inf) have no logarithm: they are left out of the series and counted
(`nonpositive`, a statistic of every evaluator that takes a series, and a note in the evidence), never
dropped silently. A logged NaN stays NaN (a non-finite value), +inf stays +inf.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from registry import Stat

if TYPE_CHECKING:
    import numpy as np

Transform = Literal["none", "log", "log10"]
TRANSFORM_FIELD: Any = Field(
    "none", description="Measure log(x) (`log`) or log10(x) (`log10`) instead of x; values <= 0 are left out and counted."
)

NONPOSITIVE = Stat(
    "nonpositive", "Values <= 0 left out by a log `transform` (0 without one).", range=(0, math.inf), type=int
)


def apply_transform(steps: np.ndarray, values: np.ndarray, transform: str) -> tuple[np.ndarray, np.ndarray, int]:
    """(steps, transformed values, number of values <= 0 left out)."""
    import numpy as np

    if transform == "none":
        return steps, values, 0
    bad = values <= 0  # NaN compares False: a logged NaN is kept (as NaN)
    keep = ~bad
    kept = values[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(kept) if transform == "log" else np.log10(kept)
    return steps[keep], out, int(bad.sum())


def log_base(transform: str) -> float | None:
    """The base of a log transform (None without one): ratio tests use it to stay on the original scale."""
    return {"log": math.e, "log10": 10.0}.get(transform)


def with_nonpositive(statistics: tuple[Stat, ...], transform: str) -> tuple[Stat, ...]:
    """An evaluator's statistics, with `nonpositive` when a log transform is asked for."""
    return statistics if transform == "none" else (*statistics, NONPOSITIVE)


def transform_evidence(transform: str, nonpositive: int) -> dict[str, Any]:
    """The evidence of a transformed measurement: what was measured, and what was left out."""
    if transform == "none":
        return {}
    note = f"{nonpositive} value(s) <= 0 left out (no logarithm)" if nonpositive else "no value <= 0"
    return {"transform": {"name": transform, "nonpositive": nonpositive, "note": note}}
