"""JSONL metric tables: one JSON object per line (a row), with a `step`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from registry.errors import ArtifactError

if TYPE_CHECKING:
    import pandas as pd



def read_jsonl(path: Path) -> pd.DataFrame:
    import json

    import pandas as pd

    rows = []
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
                raise ArtifactError(path, "each line must be a JSON object", line=lineno)
            rows.append(obj)
    return pd.DataFrame.from_records(rows)
