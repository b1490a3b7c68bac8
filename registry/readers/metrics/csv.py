"""CSV and TSV metric tables."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from registry.errors import ArtifactError

if TYPE_CHECKING:
    import pandas as pd



def read_csv(sep: str) -> Callable[[Path], pd.DataFrame]:
    def load(path: Path) -> pd.DataFrame:
        import pandas as pd

        try:
            return pd.read_csv(path, sep=sep, low_memory=False)
        except pd.errors.EmptyDataError:
            raise ArtifactError(path, "file is empty", hint="a header row with a 'step' column is expected") from None
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
            raise ArtifactError(path, f"not a readable table: {str(exc).strip()}") from None

    return load
