"""The one exception family for user-facing errors, and the exit codes they map to.

Bad input (a malformed claim, manifest or artifact) is a :class:`UserError`: it carries the file,
the place in it, what is wrong and a hint, and the CLI prints it as one line with exit code 2 —
never a traceback.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3


@dataclass(frozen=True)
class Location:
    """Where in a file something is: 1-based line and column; `key` is the dotted path."""

    file: str
    line: int | None = None
    column: int | None = None
    key: str | None = None

    def render(self) -> str:
        place = clean(self.file, _PLACE_CHARS)
        if self.line is not None:
            place += f":{self.line}"
            if self.column is not None:
                place += f":{self.column}"
        return place


def display_path(path: Path | str) -> str:
    """A path as the user should read it: relative to the working directory when inside it."""
    p = Path(path)
    try:
        cwd = Path.cwd()
        # Lexically first: a link is shown where it is, not where it points.
        return str(Path(os.path.abspath(p)).relative_to(cwd))
    except (ValueError, OSError):
        pass
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError, RuntimeError):
        return str(p)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def clean(text: str, limit: int = 200) -> str:
    """`text` safe to echo on one line: control characters escaped (`\\x00`, `\\n`), and cut to
    `limit` characters with an ellipsis (a 50 MB cell is not echoed whole)."""
    if len(text) > limit:
        text = text[: max(1, limit - 1)] + "…"
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def quoted(value: str, limit: int = 80) -> str:
    """`value` as a quoted literal for a message (`'metrics\\x00.csv'`), cut to `limit` characters."""
    return repr(value if len(value) <= limit else value[: limit - 1] + "…")


# Lengths of the parts of an error line (a safety net: messages cut the values they echo themselves).
_PLACE_CHARS, _KEY_CHARS, _MESSAGE_CHARS, _HINT_CHARS = 300, 200, 800, 400


class RegistryError(Exception):
    """Base of every error the registry raises on purpose (the CLI exits 3 on it)."""


class UserError(RegistryError):
    """Bad input or usage: one located line, exit code 2."""

    def __init__(self, message: str, *, location: Location | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint

    def render(self) -> str:
        """One line: `file:line:col: key: message (hint: ...)`, control characters escaped."""
        parts = []
        if self.location is not None:
            parts.append(self.location.render())
            if self.location.key:
                parts.append(clean(self.location.key, _KEY_CHARS))
        parts.append(clean(self.message, _MESSAGE_CHARS))
        text = ": ".join(parts)
        if self.hint:
            text += f" (hint: {clean(self.hint, _HINT_CHARS)})"
        return text

    def __str__(self) -> str:
        return self.render()


class ArtifactError(UserError):
    """An artifact that is missing, unreadable, or not what its manifest says."""

    def __init__(
        self,
        path: Path | str,
        message: str,
        *,
        hint: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ):
        super().__init__(message, location=Location(display_path(path), line=line, column=column), hint=hint)
        self.path = Path(path)


class UserErrors(UserError):
    """Several user errors found in one pass (e.g. validating a folder): all are reported."""

    def __init__(self, errors: list[UserError]):
        super().__init__(f"{len(errors)} error(s)")
        self.errors = errors

    def render(self) -> str:
        return "\n".join(e.render() for e in self.errors)


class CannotMeasure(Exception):
    """Raised by an evaluator (or a reader on its behalf) when a measurement is impossible.

    The prediction becomes `inconclusive` with this reason; it is not an error.
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
