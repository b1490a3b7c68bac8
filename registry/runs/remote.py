"""Run roots in object storage (`s3://bucket/sweep/`, `gs://...`, `file://...`), through fsspec.

A remote root is mirrored into `<project>/.registry-cache/remote/<sha256 of the URL>/` and its runs
are then read like local ones: every object below the root is listed (one listing), and an object
is downloaded only when its ETag, size or modification time differs from the copy's, so the copy
of an unchanged object keeps its bytes and its mtime, and its sha256 comes from the stat-keyed hash
cache — in effect a cache keyed on the object's ETag/size/mtime. Artifact paths stay relative to
their run folder (verdicts record the same relative paths as for a local root, never the cache
path), and an object whose key is not below the root's prefix is refused. Storage options
(endpoint, profile, credentials) come from fsspec's own configuration, or from
`[tool.registry.storage_options]` (for S3: `endpoint_url`, `key`, `secret`, ...). Needs the `s3`
extra for S3 (s3fs); other protocols need their fsspec implementation installed.

Limitation: the whole root is mirrored (every run below it), not streamed artifact by artifact.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from registry.errors import Location, UserError
from registry.files import write_cache_entry


def _filesystem(url: str, storage_options: Mapping[str, Any]) -> tuple[Any, str]:
    try:
        import fsspec
    except ImportError:
        raise UserError(f"run root {url} is a URL: reading it needs fsspec", hint="pip install 'claims-registry[s3]'") from None
    try:
        fs, root = fsspec.core.url_to_fs(url, **dict(storage_options))
    except (ImportError, ValueError) as exc:
        raise UserError(f"cannot open run root {url}: {exc}", hint="pip install 'claims-registry[s3]' for s3://") from None
    return fs, root.rstrip("/")


def _stamp(info: Mapping[str, Any]) -> str:
    """What identifies one version of an object: its ETag (S3, GCS), size and modification time."""
    keys = ("ETag", "etag", "size", "LastModified", "mtime", "updated")
    return json.dumps({k: str(info[k]) for k in keys if k in info}, sort_keys=True)


def mirror(url: str, storage_options: Mapping[str, Any], cache: Path) -> Path:
    """The local copy of the run root `url` (see the module's docstring), brought up to date."""
    fs, root = _filesystem(url, storage_options)
    folder = cache / hashlib.sha256(url.rstrip("/").encode()).hexdigest()[:32]
    index_path = folder.parent / f"{folder.name}.json"
    try:
        index: dict[str, str] = json.loads(index_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        index = {}
    try:
        listing = fs.find(root, detail=True)
    except OSError as exc:
        raise UserError(f"cannot list run root: {exc}", location=Location(url)) from None
    seen: dict[str, str] = {}
    for key, info in sorted(listing.items()):
        if info.get("type") == "directory":
            continue
        if not key.startswith(root + "/"):
            raise UserError(f"object {key!r} is not below the run root's prefix", location=Location(url))
        rel = key[len(root) + 1 :]
        if any(part in ("", ".", "..") for part in rel.split("/")):  # `root/../x` is a key, not a path below root
            raise UserError(f"object {key!r} has a key that would leave the run root", location=Location(url))
        local = folder / rel
        stamp = _stamp(info)
        seen[rel] = stamp
        if index.get(rel) == stamp and local.is_file():
            continue
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = local.with_name(f".{local.name}.{os.getpid()}.part")
        try:
            fs.get_file(key, str(tmp))
        except OSError as exc:
            raise UserError(f"cannot read {rel}: {exc}", location=Location(url)) from None
        os.replace(tmp, local)
    for rel in set(index) - set(seen):  # gone from the store: gone from the copy
        with contextlib.suppress(OSError):
            (folder / rel).unlink()
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # an index that cannot be written only costs downloads next time
        write_cache_entry(cache, index_path.name, json.dumps(seen, sort_keys=True).encode())
    return folder
