"""JSONL metric tables: one JSON object per line (a row), with a `step`; and the one reader of JSON
lines for metric logs (W&B's scan_history() export reads its rows through it too)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.errors import ArtifactError

if TYPE_CHECKING:
    import pandas as pd


def json_objects(path: Path, what: str = "a JSON object") -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a bad line is an ArtifactError at its line and column."""
    try:
        with path.open("rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    # Without its newline, so that an error at the end of the line has that line's column.
                    obj = json.loads(raw.decode("utf-8").rstrip("\r\n"))
                except UnicodeDecodeError as exc:
                    raise ArtifactError(path, "not UTF-8", line=lineno, column=exc.start + 1) from None
                except json.JSONDecodeError as exc:
                    raise ArtifactError(path, f"invalid JSON: {exc.msg}", line=lineno, column=exc.colno) from None
                if not isinstance(obj, dict):
                    raise ArtifactError(path, f"each line must be {what}", line=lineno)
                yield lineno, obj
    except OSError as exc:
        raise ArtifactError(path, f"cannot read: {exc}") from None


def read_jsonl(path: Path) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame.from_records([obj for _, obj in json_objects(path)])
