"""History read from git: file logs (following renames), blobs, trees and diffs, through the `git`
command (no library). One `Git` per repository and invocation; every log it reads is cached, so a
claim file or a run folder costs one `git log` however many verdicts ask about it.

Only the committed history of HEAD is read (a detached HEAD is fine). A shallow clone is flagged:
its history is cut off, so what it says about "first committed" cannot be trusted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from registry.errors import UserError
from registry.files import write_cache_entry

# Settings that would change git's output: signatures in logs, colour, quoted paths, pagers.
_CONFIG = ("-c", "log.showSignature=false", "-c", "core.quotepath=off", "-c", "color.ui=never")
_NULL = "0" * 40
_RS, _US = "\x1e", "\x1f"
# %G? is git's own verification of the commit's signature (what `git verify-commit` checks).
_FORMAT = f"--format={_RS}%H{_US}%ct{_US}%an{_US}%G?{_US}%s"
_SIGNATURE = {"G": "signed", "U": "signed", "X": "signed", "Y": "signed", "B": "bad signature", "R": "signed (revoked key)"}


class GitUnavailable(UserError):
    """No usable git history: not a repository, git missing, or the history is cut off."""


@dataclass(frozen=True)
class Commit:
    sha: str
    time: int
    """Committer time, seconds since the epoch (git's own record; see README on what it proves)."""
    author: str
    subject: str
    signature: str = "N"
    """git's %G?: G good, B bad, U good of unknown validity, X/Y expired, R revoked key, E cannot be
    checked (e.g. no gpg or unknown key), N unsigned."""

    @property
    def signed(self) -> str:
        """`signed`, `unsigned`, `bad signature` or `signature not checked`, from git's own verification."""
        if self.signature == "N":
            return "unsigned"
        return _SIGNATURE.get(self.signature, "signature not checked")

    @property
    def short(self) -> str:
        return self.sha[:12]

    @property
    def iso(self) -> str:
        return iso_utc(self.time)

    @property
    def day(self) -> str:
        return self.iso[:10]


@dataclass(frozen=True)
class Change:
    """One file changed by one commit (from `git log --raw` or `git diff --raw`)."""

    commit: Commit | None
    status: str
    """A, M, D, R (renamed), C, T ..."""
    path: str
    """Path after the change, relative to the repository root."""
    old_path: str
    old_blob: str | None
    """None when the file did not exist before."""
    new_blob: str | None
    """None when deleted, or (git diff against the working tree) not hashed: read the file."""


def iso_utc(seconds: int | float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _blob(sha: str) -> str | None:
    return None if sha == _NULL else sha


def _parse_raw_line(line: str, commit: Commit | None) -> Change | None:
    # :100644 100644 <old> <new> M\tpath   or   ... R095\told\tnew
    if not line.startswith(":"):
        return None
    meta, _, paths = line.partition("\t")
    fields = meta[1:].split()
    if len(fields) < 5:
        return None
    parts = paths.split("\t")
    old_path, new_path = (parts[0], parts[1]) if len(parts) > 1 else (parts[0], parts[0])
    return Change(
        commit=commit,
        status=fields[4][:1],
        path=new_path,
        old_path=old_path,
        old_blob=_blob(fields[2]),
        new_blob=None if fields[4].startswith("D") else _blob(fields[3]),
    )


class Git:
    """A git repository (its top level); discovered with `Git.find` or `Git.at`."""

    def __init__(self, root: Path, shallow: bool):
        self.root = root
        self.shallow = shallow
        self._histories: dict[str, list[Change]] = {}
        self._blobs: dict[str, bytes] = {}
        self.cache: Path | None = None
        """Where `prefetch_histories` keeps file histories between invocations (None: nowhere)."""

    # --- discovery -----------------------------------------------------------------------------

    @classmethod
    def find(cls, start: Path) -> tuple[Git | None, str]:
        """The repository holding `start`, or None and why there is none."""
        while not start.is_dir() and start != start.parent:
            start = start.parent
        try:
            out = _git(start, "rev-parse", "--show-toplevel", "--is-shallow-repository")
        except FileNotFoundError:
            return None, "git is not installed"
        except subprocess.CalledProcessError as exc:
            message = _stderr(exc)
            if "not a git repository" in message:
                return None, "not a git repository"
            return None, f"git cannot read the repository: {message}"
        lines = out.decode("utf-8", "replace").splitlines()
        if len(lines) < 2:
            return None, "git cannot read the repository"
        return cls(Path(lines[0]).resolve(), lines[1].strip() == "true"), ""

    @classmethod
    def at(cls, start: Path, purpose: str) -> Git:
        """Like `find`, but a missing repository is bad input naming `purpose` (e.g. "history")."""
        git, why = cls.find(start)
        if git is None:
            raise GitUnavailable(
                f"{purpose} is read from git, and {start} is {why}" if why == "not a git repository" else f"{purpose}: {why}",
                hint="run it inside the project's git checkout" if "not a git" in why else "install git",
            )
        return git

    # --- plumbing --------------------------------------------------------------------------------

    def run(self, *args: str, input: bytes | None = None) -> bytes:
        return _git(self.root, *args, input=input)

    def rel(self, path: Path) -> str | None:
        """`path` relative to the repository root (posix), or None when outside it."""
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return None

    @cached_property
    def head(self) -> str | None:
        """HEAD's commit, or None in a repository without commits."""
        try:
            return self.run("rev-parse", "--verify", "-q", "HEAD^{commit}").decode().strip() or None
        except subprocess.CalledProcessError:
            return None

    @cached_property
    def branch(self) -> str | None:
        """The checked-out branch, or None when HEAD is detached."""
        try:
            return self.run("symbolic-ref", "-q", "--short", "HEAD").decode().strip() or None
        except subprocess.CalledProcessError:
            return None

    def resolve(self, rev: str) -> str:
        """The commit `rev` names; bad input when it names none."""
        try:
            return self.run("rev-parse", "--verify", "-q", "--end-of-options", f"{rev}^{{commit}}").decode().strip()
        except subprocess.CalledProcessError:
            raise UserError(
                f"unknown revision {rev!r}",
                hint="a commit, branch or tag, e.g. HEAD~1 or main"
                + (" (this is a shallow clone: older commits are missing)" if self.shallow else ""),
            ) from None

    # --- logs --------------------------------------------------------------------------------------

    def log(self, paths: Sequence[str], *, follow: bool = False, rev: str = "HEAD", reverse: bool = False) -> list[Change]:
        """Changes to `paths` in the history of `rev`, newest first (oldest first with `reverse`)."""
        if self.head is None:
            return []
        args = ["log", "--no-color", "--no-abbrev", "--raw", "--no-renames", _FORMAT]
        if follow:
            args = ["log", "--no-color", "--no-abbrev", "--raw", "--follow", "-M", _FORMAT]
        if reverse:
            args.append("--reverse")
        out = self.run(*args, rev, "--", *paths).decode("utf-8", "replace")
        changes: list[Change] = []
        for record in out.split(_RS)[1:]:
            header, _, body = record.partition("\n")
            sha, ct, author, signature, subject = (header.split(_US) + ["", "", "", ""])[:5]
            commit = Commit(sha=sha, time=int(ct or 0), author=author, subject=subject, signature=signature or "N")
            for line in body.splitlines():
                change = _parse_raw_line(line, commit)
                if change is not None:
                    changes.append(change)
        return changes

    def file_history(self, rel: str) -> list[Change]:
        """Every committed version of one file, newest first, following renames (cached)."""
        if rel not in self._histories:
            self._histories[rel] = self.log([rel], follow=True)
        return self._histories[rel]

    def prefetch_histories(self, rels: Sequence[str]) -> None:
        """Read the histories of many files at once, and their blobs with one `git cat-file`.

        With `self.cache` (a `.registry-cache/<kind>/` folder), histories read at this HEAD are kept in
        `cache/histories.json` for the next invocation: a file's history up to a commit never
        changes, so the key is HEAD alone (a new commit starts the file afresh)."""
        cache = self.cache
        saved = self._load_histories(cache)
        missing = [r for r in rels if r not in self._histories and r not in saved]
        self._histories.update({r: saved[r] for r in rels if r in saved and r not in self._histories})
        for rel in missing:
            self.file_history(rel)
        if cache is not None and self.head is not None and missing:
            saved.update({r: self._histories[r] for r in missing})
            data = {"head": self.head, "histories": {r: [dataclasses.asdict(c) for c in cs] for r, cs in sorted(saved.items())}}
            with contextlib.suppress(OSError):
                write_cache_entry(cache, "histories.json", json.dumps(data, separators=(",", ":")).encode())
        self.blobs([c.new_blob for r in rels for c in self._histories[r] if c.new_blob])

    def _load_histories(self, cache: Path | None) -> dict[str, list[Change]]:
        if cache is None or self.head is None:
            return {}
        try:
            data = json.loads((cache / "histories.json").read_bytes())
            if data.get("head") != self.head:
                return {}
            return {
                rel: [Change(**{**c, "commit": Commit(**c["commit"]) if c["commit"] else None}) for c in changes]
                for rel, changes in data["histories"].items()
            }
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return {}  # unreadable or of another layout: read from git again

    # --- contents ------------------------------------------------------------------------------------

    def blobs(self, shas: Iterable[str]) -> dict[str, bytes]:
        """Contents of the given blobs, read with one `git cat-file --batch` (cached)."""
        wanted = sorted({s for s in shas if s and s not in self._blobs})
        if wanted:
            out = self.run("cat-file", "--batch", input=("\n".join(wanted) + "\n").encode())
            pos = 0
            for sha in wanted:
                end = out.index(b"\n", pos)
                header = out[pos:end].split()
                pos = end + 1
                if len(header) < 3 or header[1] == b"missing":
                    self._blobs[sha] = b""
                    continue
                size = int(header[2])
                self._blobs[sha] = out[pos : pos + size]
                pos += size + 1
        return {s: self._blobs.get(s, b"") for s in shas if s}

    def diff(self, a: str, b: str | None, under: str) -> list[Change]:
        """Files below `under` that differ between commits `a` and `b` (None: the working tree,
        untracked files included as added)."""
        args = ["diff", "--no-color", "--no-abbrev", "--raw", "--no-renames", "--no-ext-diff", a]
        if b is not None:
            args.append(b)
        out = self.run(*args, "--", under).decode("utf-8", "replace")
        changes = [c for c in (_parse_raw_line(line, None) for line in out.splitlines()) if c is not None]
        if b is None:
            untracked = self.run("ls-files", "--others", "--exclude-standard", "--", under).decode("utf-8", "replace")
            for path in untracked.splitlines():
                changes.append(Change(None, "A", path, path, None, None))
        return changes


def _git(cwd: Path, *args: str, input: bytes | None = None) -> bytes:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "LC_ALL": "C"}
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        env.pop(var, None)  # the repository is the one around `cwd`
    proc = subprocess.run(["git", *_CONFIG, *args], cwd=cwd, input=input, capture_output=True, env=env, check=False)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, ["git", *args], proc.stdout, proc.stderr)
    return proc.stdout


def _stderr(exc: subprocess.CalledProcessError) -> str:
    text = (exc.stderr or b"").decode("utf-8", "replace").strip()
    return text.removeprefix("fatal: ").splitlines()[0] if text else f"git exited with {exc.returncode}"
