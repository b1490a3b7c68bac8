"""The one folder walker, with one rule for hidden entries: a file or folder whose name starts with
`.` (.git, .github, .pre-commit-config.yaml, .registry-cache) is never walked into or returned.
Claim files, run manifests and `registry validate FOLDER` all find their files through it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path


def walk(root: Path, descend: Callable[[Path], bool] | None = None) -> Iterator[Path]:
    """Every file below `root` (a folder), in sorted order per folder, hidden entries left out.

    `descend(folder)`, when given, is asked after a folder's files are listed: False stops the walk
    below that folder (e.g. a run folder's own sub-folders are its artifacts, not more runs)."""
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield here / name
        if descend is not None and not descend(here):
            dirnames[:] = []
