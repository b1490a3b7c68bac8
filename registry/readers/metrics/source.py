"""Where a metrics table's columns come from: a :class:`ColumnSource` reads named columns of one
artifact (each format's reader is one) and says, per column, at which rows it was written."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


class ColumnSource:
    """Reads named columns of one file; `columns` lists what is there."""

    columns: list[str]
    # Set by a source with no data at all: why a claim cannot measure anything in it.
    empty_reason: str | None = None
    # What a reader wants the user to know about the data it read (e.g. a truncated file).
    notes: tuple[str, ...] = ()

    def read(self, names: Sequence[str]) -> dict[str, Any]:
        raise NotImplementedError

    def read_also(self, names: Sequence[str], also: Sequence[str]) -> dict[str, Any]:  # noqa: ARG002
        """`read(names)`, and the columns `also` where they come at little cost with them (one pass over
        a text log): best effort, so one of them that does not parse is left out, never an error."""
        return self.read(names)

    def present(self, name: str) -> np.ndarray | None:  # noqa: ARG002 (a source where every cell is written)
        """After `read`: a boolean mask of the rows where `name` was written (None: every row)."""
        return None
