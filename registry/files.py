"""The one folder walker, and the one containment check.

Walking: a file or folder whose name starts with `.` (.git, .github, .pre-commit-config.yaml,
.registry-cache) is never walked into or returned. Claim files, run manifests and `registry validate
FOLDER` all find their files through it.

Containment: every file the registry opens for a run goes through :func:`contained` first (the run's
manifest check, each reader, the hashing of artifacts).
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from registry.errors import ArtifactError


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


# --- containment: what a run may read -----------------------------------------------------------


@dataclass(frozen=True)
class Boundary:
    """Where the files of one run may be: below its folder (resolved: the run root itself may be a
    link), or below a storage root that `[tool.registry] allow_outside` lists (labs link checkpoints
    to shared storage)."""

    root: Path
    allowed: tuple[Path, ...] = ()

    @classmethod
    def of(cls, folder: Path, allowed: tuple[Path, ...] = ()) -> Boundary:
        return cls(folder.resolve(), tuple(a.resolve() for a in allowed))

    @classmethod
    def around(cls, path: Path) -> Boundary:
        """For a reader called without a run: the folder that holds `path` (or the folder itself)."""
        absolute = Path(os.path.abspath(path))
        return cls.of(absolute if absolute.is_dir() else absolute.parent)

    def holds(self, real: Path) -> bool:
        return any(real == r or r in real.parents for r in (self.root, *self.allowed))


def contained(path: Path, boundary: Boundary | None = None, *, folder: bool = False) -> Path:
    """The one check before the registry opens a file of a run: `path` resolved (every link followed)
    lies inside the run folder or an allowed storage root, and is a regular file (a FIFO or a device
    could block or never end) — or, with `folder=True`, may also be a folder, whose every member is
    checked the same way. Returns the resolved path. Messages name the path, never the content."""
    return _contained(path, boundary or Boundary.around(path), folder, set())


def _contained(path: Path, boundary: Boundary, folder: bool, seen: set[Path]) -> Path:
    try:
        real = Path(path).resolve(strict=True)
        st = real.stat()
    except OSError as exc:
        raise ArtifactError(path, f"cannot open: {exc.strerror or type(exc).__name__}") from None
    except RuntimeError:  # a symlink loop
        raise ArtifactError(path, "cannot open: symbolic link loop") from None
    if not boundary.holds(real):
        raise ArtifactError(
            path,
            "resolves outside the run folder (a symlink?)",
            hint="copy or move the file into the run folder, or list its storage root under "
            "`allow_outside` in [tool.registry]",
        )
    if stat.S_ISDIR(st.st_mode) and folder:
        if real in seen:  # a link back to a folder already checked (`ckpts/again -> .`)
            return real
        seen.add(real)
        for dirpath, dirnames, filenames in os.walk(path):
            for name in sorted(dirnames + filenames):
                member = Path(dirpath) / name
                if name in dirnames and not member.is_symlink():
                    continue  # walked below; a linked folder is checked here (os.walk does not follow it)
                _contained(member, boundary, True, seen)
        return real
    if not stat.S_ISREG(st.st_mode):
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode) else "not a regular file"
        raise ArtifactError(path, f"is {kind}, not a regular file", hint="artifacts are files (or folders of files)")
    return real


# --- the project's cache ------------------------------------------------------------------------


def write_cache_entry(folder: Path, name: str, data: bytes) -> None:
    """Write `folder/name` (a file of `.registry-cache/<kind>/`) without following a link: the cache
    folder and its kind folder must be real folders (at a link nothing is cached), and the temporary
    file is created new, then renamed. Raises OSError when the cache cannot be written."""
    for d in (folder.parent, folder):
        if d.is_symlink():
            return
        d.mkdir(exist_ok=True)
        if d.is_symlink() or not d.is_dir():
            return
    tmp = folder / f".{name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, folder / name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
