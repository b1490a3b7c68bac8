"""Content hashes of artifacts (sha256), with a cache for large files."""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

from registry.files import Boundary, contained, write_cache_entry

# Files at least this large have their sha256 cached (smaller ones are cheaper to hash than to look up:
# a look-up costs a stat, a resolve and a small read, ~50 us; sha256 runs at ~1 GB/s).
HASH_CACHE_MIN_BYTES = 256 << 10
HASH_CACHE_ENV = "REGISTRY_HASH_CACHE"  # set to 0 to hash every file every time


def sha256_of(path: Path, boundary: Boundary | None = None) -> str:
    """sha256 of a file, or of a folder as the sorted list of its files' relative paths and hashes:
    of the data a reader reads (a link's target), each file checked by `registry.files.contained`.

    Large files' hashes are cached under the project's `.registry-cache/sha256/` (see `_cached_sha256`).
    """
    boundary = boundary or Boundary.around(path)
    if contained(path, boundary, folder=True).is_dir():
        digest = hashlib.sha256()
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(f"{child.relative_to(path).as_posix()}\0{sha256_of(child, boundary)}\n".encode())
        return digest.hexdigest()
    return _cached_sha256(contained(path, boundary))


def _hash_file(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _hash_cache_dir() -> Path | None:
    folder = cache_dir()
    return folder / "sha256" if folder is not None else None


def cache_dir() -> Path | None:
    """`<project root>/.registry-cache/` (git-ignored): the project whose pyproject.toml has
    [tool.registry] above the working directory; None without one, or when REGISTRY_HASH_CACHE=0."""
    if os.environ.get(HASH_CACHE_ENV, "1").strip() in ("0", "false", "no", "off"):
        return None
    from registry.config import find_pyproject

    pyproject = find_pyproject(Path.cwd())
    if pyproject is None:
        return None
    try:
        st = pyproject.stat()
    except OSError:
        return None
    return _registry_project(str(pyproject), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _registry_project(pyproject: str, size: int, mtime_ns: int) -> Path | None:
    """The cache folder of the project whose pyproject.toml this is, if it has [tool.registry];
    parsed once per version of the file (a sweep hashes thousands of artifacts)."""
    del size, mtime_ns  # the cache key: a changed file is parsed again
    import tomllib

    try:
        tool = tomllib.loads(Path(pyproject).read_text(encoding="utf-8")).get("tool", {})
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(tool, dict) or "registry" not in tool:
        return None
    return Path(pyproject).parent / ".registry-cache"


def _cached_sha256(path: Path) -> str:
    """The file's sha256, from the cache when the file is provably the one hashed before.

    An entry is keyed by (real path, size, mtime_ns, ctime_ns, inode, device): any write to the file
    changes its mtime and ctime (and tools that restore mtime still move ctime, which cannot be set),
    a replaced file has a new inode. The entry stores that key and is used only on an exact match;
    it is written only if the file did not change while being hashed. Entries are small text files,
    written atomically; a cache that cannot be read or written is ignored.
    """
    try:
        st = path.stat()
    except OSError:
        return _hash_file(path)
    folder = _hash_cache_dir() if st.st_size >= HASH_CACHE_MIN_BYTES else None
    if folder is None:
        return _hash_file(path)
    key = f"{path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}\0{st.st_dev}"
    entry = folder / (hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest() + ".txt")
    try:
        stored_key, digest = entry.read_text(encoding="utf-8", errors="surrogateescape").split("\n")[:2]
        if stored_key == key and len(digest) == 64:
            return digest
    except (OSError, ValueError):
        pass
    digest = _hash_file(path)
    try:
        after = path.stat()
        if (after.st_size, after.st_mtime_ns, after.st_ctime_ns, after.st_ino) == (
            st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino
        ):
            write_cache_entry(folder, entry.name, f"{key}\n{digest}\n".encode("utf-8", "surrogateescape"))
    except OSError:
        pass
    return digest
