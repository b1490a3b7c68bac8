"""Step windows over a text artifact's columns (`Run.text_columns`): which samples each window
holds, with the counts and reasons of `WindowScan`, which streams samples instead."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from registry import CannotMeasure

from .text import Window, empty_reason

if TYPE_CHECKING:
    import numpy as np

    from registry import Run, TextColumns


class ColumnWindows:
    """The samples of each window, as indices in file order; a sample goes to the first window
    that holds it. `None` as a window means every sample (stepped or not); a step window keeps the
    samples whose step is inside it, and those without a step are counted in `unstepped`."""

    def __init__(self, run: Run, artifact: str, windows: Sequence[Window]):
        import numpy as np

        self.columns: TextColumns = run.text_columns(artifact)
        self.windows = list(windows)
        steps, stepped = self.columns.steps, self.columns.stepped
        self.total = len(self.columns)
        self.unstepped = int(self.total - np.count_nonzero(stepped))
        seen = steps[stepped]
        self.min_step = int(seen.min()) if seen.size else None
        self.max_step = int(seen.max()) if seen.size else None
        taken = np.zeros(self.total, dtype=bool)
        self.indices: list[np.ndarray] = []
        for window in self.windows:
            inside = np.ones(self.total, dtype=bool) if window is None else stepped.copy()
            if window is not None and window[0] is not None:
                inside &= steps >= window[0]
            if window is not None and window[1] is not None:
                inside &= steps <= window[1]
            inside &= ~taken
            taken |= inside
            self.indices.append(np.flatnonzero(inside))
        self.counts = [int(ix.size) for ix in self.indices]

    def texts(self, k: int) -> list[str]:
        """The texts of window k, in file order."""
        texts = self.columns.texts
        ix = self.indices[k]
        return texts if ix.size == len(texts) else [texts[i] for i in ix.tolist()]

    def steps(self, k: int) -> np.ndarray:
        """The steps of window k (NO_STEP where a sample has none)."""
        return self.columns.steps[self.indices[k]]  # type: ignore[no-any-return]

    def require(self, k: int, label: str = "the window") -> None:
        if self.counts[k] == 0:
            raise CannotMeasure(empty_reason(self.total, self.min_step, self.max_step, self.windows[k], label))
