"""The one exception family for user-facing errors, and the exit codes they map to.

Bad input (a malformed claim, manifest or artifact) is a :class:`UserError`: it carries the file,
the place in it, what is wrong and a hint, and the CLI prints it as one line with exit code 2 —
never a traceback.
"""

from __future__ import annotations

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
        place = self.file
        if self.line is not None:
            place += f":{self.line}"
            if self.column is not None:
                place += f":{self.column}"
        return place


def display_path(path: Path | str) -> str:
    """A path as the user should read it: relative to the working directory when inside it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(p)


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
        parts = []
        if self.location is not None:
            parts.append(self.location.render())
            if self.location.key:
                parts.append(self.location.key)
        parts.append(self.message)
        text = ": ".join(parts)
        if self.hint:
            text += f" (hint: {self.hint})"
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
