"""Where a metrics table's columns come from: a :class:`ColumnSource` reads named columns of one
artifact (each format's reader is one), and a source over a pandas frame for the small text formats."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd



class ColumnSource:
    """Reads named columns of one file; `columns` lists what is there."""

    columns: list[str]
    # Set by a source with no data at all: why a claim cannot measure anything in it.
    empty_reason: str | None = None
    # What a reader wants the user to know about the data it read (e.g. a truncated file).
    notes: tuple[str, ...] = ()

    def read(self, names: Sequence[str]) -> dict[str, Any]:
        raise NotImplementedError


class FrameSource(ColumnSource):
    """Formats that can only be read whole: read once, then serve columns from the frame."""

    def __init__(self, path: Path, load: Callable[[Path], pd.DataFrame]):
        self.path = path
        self._frame = load(path)
        self.columns = [str(c) for c in self._frame.columns]

    def read(self, names: Sequence[str]) -> dict[str, Any]:
        return {n: self._frame[n] for n in names}
