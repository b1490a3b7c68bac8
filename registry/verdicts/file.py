"""Verdict files: canonical YAML, byte-stable, written atomically, and read back — in full (a
validated :class:`Verdict`) or header-only (schema version and the `claim:` block, for history and
amendments, which read thousands of committed versions).

One file per (claim, run) at `verdicts/<claim-id>/<run-id>.yaml`, rewritten on each evaluation,
so `git log -p` of the file is that verdict's history. The file holds no wall-clock time and no
absolute path: the same inputs give the same bytes.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import time
from collections.abc import Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from registry.errors import Location, UserError, display_path
from registry.language.judge import Decision
from registry.verdicts import emit
from registry.verdicts.dumper import FastDumper, PureDumper
from registry.verdicts.model import (
    ACROSS_RUNS,
    SCHEMA_VERSION,
    ArtifactRef,
    ClaimRef,
    ExpectResult,
    PredictionVerdict,
    Registration,
    RunRef,
    ToolRef,
    Verdict,
    canonical,
)
from registry.yamlsource import load_yaml, validation_errors

HEADER = "# Written by `registry evaluate`; do not edit by hand. Its git history is this verdict's history.\n"


# Keys that exist only for one kind of verdict (per run / across runs): left out when empty.
_OPTIONAL_KEYS = ("run", "runs", "groups")



# Keys of one schema version only (v1: claim.sha256; v2: the rest), and keys that are only set
# sometimes (registration details, `resolved` on `value: alpha` lines): left out when null.
_VERSIONED_KEYS = {
    "": ("decision", "registration"),
    "claim": ("fingerprint", "sha256", "status"),
    "registration": ("claim_commit", "claim_committed", "run_started", "run_started_from", "run_commit"),
    "expect": ("resolved",),
}


def _drop(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if not (k in keys and v is None)}


def _drop_unset(data: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in data.items() if not (k in _OPTIONAL_KEYS and v is None)}
    out = _drop(out, _VERSIONED_KEYS[""])
    for key in ("claim", "registration"):
        if isinstance(out.get(key), dict):
            out[key] = _drop(out[key], _VERSIONED_KEYS[key])
    for ref in [out.get("run"), *(out.get("runs") or [])]:
        if isinstance(ref, dict) and isinstance(ref.get("artifacts"), dict):
            ref["artifacts"] = {
                n: {k: v for k, v in a.items() if not (k == "reader" and v is None)} for n, a in ref["artifacts"].items()
            }
    if "predictions" in out:
        out["predictions"] = [{k: v for k, v in p.items() if not (k in _OPTIONAL_KEYS and v is None)} for p in out["predictions"]]
        for p in out["predictions"]:
            if isinstance(p.get("expect"), list):
                p["expect"] = [_drop(e, _VERSIONED_KEYS["expect"]) for e in p["expect"]]
    return out


# The same rules by model class, for the direct writer (registry/verdicts/emit.py), which reads the
# models without dumping them; it writes no model of another class.
UNSET_BY_MODEL: dict[type[BaseModel], tuple[str, ...]] = {
    Verdict: (*_OPTIONAL_KEYS, *_VERSIONED_KEYS[""]),
    ClaimRef: _VERSIONED_KEYS["claim"],
    Registration: _VERSIONED_KEYS["registration"],
    RunRef: (),
    ArtifactRef: ("reader",),
    PredictionVerdict: _OPTIONAL_KEYS,
    ExpectResult: _VERSIONED_KEYS["expect"],
    ToolRef: (),
    Decision: (),
}


def render(verdict: Verdict, *, pure_python: bool = False) -> str:
    """The verdict file's text: written directly when `emit.dump` covers the verdict (any typical one),
    else through libyaml's emitter; `pure_python` uses PyYAML's own (the reference: same bytes, slower)."""
    if not pure_python:
        text = emit.dump(verdict, UNSET_BY_MODEL)
        if text is not None:
            return HEADER + text
    return dumped(verdict, PureDumper if pure_python else FastDumper)


def dumped(verdict: Verdict, dumper: type[yaml.SafeDumper]) -> str:
    """The verdict file's text through a PyYAML dumper, from the verdict's plain data."""
    data = canonical(_drop_unset(verdict.model_dump(mode="python")))
    body = yaml.dump(data, Dumper=dumper, sort_keys=True, allow_unicode=True, default_flow_style=False, width=emit.WIDTH)
    return HEADER + body


@dataclass(frozen=True)
class Rendered:
    """A verdict and its file's text, rendered where it was measured (in a worker, with --jobs or Dask)."""

    verdict: Verdict
    text: str


def rendered(verdict: Verdict) -> Rendered:
    return Rendered(verdict, render(verdict))


def verdict_path(folder: Path, claim_id: str, run_id: str | None) -> Path:
    """`verdicts/<claim>/<run>.yaml`, or `verdicts/<claim>/_across-runs.yaml` for a cross-run verdict."""
    return folder / claim_id / f"{run_id or ACROSS_RUNS}.yaml"


# Temporary files of `write_atomic_many`: `.<name>.<pid>.<random>.tmp` beside the file (ignored by git:
# the project's .gitignore has `verdicts/**/.*.tmp`). One left by a killed process is removed later.
_TMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$")
# A temporary file older than this is stale even if its pid is in use (another host, a reused pid).
_STALE_SECONDS = 3600


def _refuse_link(path: Path, what: str) -> None:
    if path.is_symlink():
        raise UserError(
            f"{what} is a symbolic link; verdicts are written only inside the verdicts folder",
            location=Location(display_path(path)),
            hint="replace the link with a real folder or file",
        )


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _bytes_of(path: Path) -> bytes | None:
    """The verdict file's bytes (None: none to read); a file that is a symbolic link is refused (a located
    UserError). One open that does not follow a link, not a check and then a read (issue 14)."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except OSError:
        _refuse_link(path, f"verdict file {path.name!r}")  # the link is why (ELOOP, or EMLINK on BSD)
        return None
    with os.fdopen(fd, "rb") as fh:
        try:
            return fh.read()
        except OSError:  # e.g. a folder by the file's name: replacing it fails later, located
            return None


def remove_stale_temps(folder: Path) -> None:
    """Remove temporary files of ours that a killed `evaluate` left in `folder` (a claim's verdict folder):
    those whose process is gone, or that are older than an hour."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    now = time.time()
    for entry in entries:
        m = _TMP.match(entry.name)
        if m is None or not entry.is_file(follow_symlinks=False):
            continue
        with contextlib.suppress(OSError):
            if not _alive(int(m.group("pid"))) or now - entry.stat(follow_symlinks=False).st_mtime > _STALE_SECONDS:
                os.unlink(entry.path)


def remove_stale_temps_below(root: Path) -> None:
    """`remove_stale_temps` in every claim folder of the verdicts folder (an incremental run may write
    nothing in the folder where a killed run left one)."""
    try:
        folders = [Path(e.path) for e in os.scandir(root) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return
    for folder in folders:
        remove_stale_temps(folder)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def holds(path: Path, text: str) -> bool:
    """Whether the verdict file `path` (not a link) already holds `text`: then writing it changes nothing."""
    try:
        return _bytes_of(path) == text.encode("utf-8")
    except UserError:  # a link: refused when written
        return False


def write_atomic_many(items: list[tuple[Path, str]], unchanged: Set[Path] = frozenset()) -> list[Path]:
    """Write files atomically, each only when its text changed: the changed ones are written to
    temporary files and fsynced concurrently (an fsync costs milliseconds, and the file system commits concurrent ones together),
    then renamed into place one by one in the given order. Returns the paths that changed.

    `unchanged`: paths found (by `holds`, while the verdicts were measured) to hold their text already."""
    from concurrent.futures import ThreadPoolExecutor

    # A claim folder or verdict file that is a link out of verdicts/ is refused before anything is written.
    folders = sorted({path.parent for path, _ in items})
    for folder in folders:
        _refuse_link(folder, f"verdict folder {folder.name!r}")
    if not _NOFOLLOW:  # no O_NOFOLLOW (Windows): look before reading
        for path, _ in items:
            _refuse_link(path, f"verdict file {path.name!r}")
    changed: list[tuple[Path, bytes]] = []
    for path, text in items:
        if path in unchanged:
            continue
        data = text.encode("utf-8")
        if _bytes_of(path) != data:
            changed.append((path, data))
    for folder in folders:
        remove_stale_temps(folder)
    with ThreadPoolExecutor(max_workers=16) as pool:
        temps = list(pool.map(lambda item: _temporary(*item), changed))
    try:
        for (path, _), tmp in zip(changed, temps, strict=True):
            os.replace(tmp, path)
    except BaseException:
        for tmp in temps:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
    return [path for path, _ in changed]


def _temporary(path: Path, data: bytes) -> str:
    """`data` in a new temporary file beside `path`, flushed to disk; returns its name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _refuse_link(path.parent, f"verdict folder {path.parent.name!r}")
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o666)  # umask applies
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return str(tmp)


def read_verdict(path: Path, *, text: str | None = None) -> Verdict:
    """A verdict file, validated (any schema version up to this tool's), through the one YAML loader;
    `text`: its content when it does not come from `path` (a version of the file in git)."""
    doc = load_yaml(path, text=text)
    version = doc.data.get("schema_version")
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise UserError(
            f"verdict schema version {version} is newer than this tool reads ({SCHEMA_VERSION})",
            location=Location(display_path(path)),
            hint="upgrade claims-registry",
        )
    try:
        return Verdict.model_validate(doc.data)
    except ValidationError as exc:
        first = validation_errors(exc, doc)[0]
        raise UserError(f"not a valid verdict file: {first.message}", location=first.location) from None


def read_verdicts(folder: Path, claim_id: str) -> list[Verdict]:
    d = folder / claim_id
    if not d.is_dir():
        return []
    return [read_verdict(p) for p in sorted(d.glob("*.yaml"))]


@dataclass(frozen=True)
class VerdictHeader:
    """What a verdict file says about the claim it judged, read without parsing the rest."""

    schema_version: int
    fingerprint: str
    """v2 `claim.fingerprint`, or v1 `claim.sha256`."""
    status: str | None
    """The claim's status when judged (v2)."""


def read_header(text: bytes) -> VerdictHeader | None:
    """The header of a verdict file (`schema_version` and the `claim:` block), by a scan of the bytes:
    verdict files are canonical (written by `render`), and history and amendments read thousands of
    committed versions. None when the text does not have that shape."""
    claim: dict[str, str] = {}
    start = text.find(b"\nclaim:\n")
    if start >= 0:
        for line in text[start + 8 :].split(b"\n"):
            if not line.startswith(b"  "):
                break
            key, _, value = line.strip().partition(b": ")
            claim[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace").strip("'\"")
    version_at = text.find(b"\nschema_version: ")
    version = text[version_at + 17 :].split(b"\n", 1)[0] if version_at >= 0 else b""
    fp = claim.get("fingerprint") or claim.get("sha256")
    if not fp or not version.isdigit():
        return None
    return VerdictHeader(int(version), fp, claim.get("status"))
