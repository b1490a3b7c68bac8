"""Project settings from `[tool.registry]` in the nearest pyproject.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registry.errors import Location, UserError, display_path

_KEYS = {"claims", "runs", "verdicts", "timeout", "executor", "scheduler", "storage_options", "allow_outside"}
EXECUTORS = ("local", "dask")


@dataclass(frozen=True)
class Settings:
    root: Path
    claims: Path
    runs: tuple[Path, ...]
    verdicts: Path
    timeout: float = 600.0
    """Seconds one (claim, run) pair may take in `registry evaluate` before it is `error` (0: no limit)."""
    executor: str = "local"
    """Where `registry evaluate` measures: local (this machine) or dask."""
    scheduler: str | None = None
    """With the dask executor: the scheduler's address, e.g. tcp://host:8786."""
    remote_runs: tuple[str, ...] = ()
    """Run roots given as URLs (s3://bucket/sweep/, file://...): read through fsspec (registry/runs/remote.py)."""
    storage_options: dict[str, Any] = field(default_factory=dict)
    """fsspec storage options for the remote run roots ([tool.registry.storage_options])."""
    allow_outside: tuple[Path, ...] = ()
    """Storage roots that links inside a run folder may resolve into (nothing else outside the run)."""


def find_pyproject(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_settings(start: Path | None = None) -> Settings:
    """Settings for the project around `start` (default: the working directory).

    Without a pyproject.toml that has `[tool.registry]`, the defaults apply relative to `start`:
    claims/, runs/, verdicts/. `runs` may be one folder or a list, inside or outside the project.
    """
    start = (start or Path.cwd()).resolve()
    pyproject = find_pyproject(start)
    table: dict[str, object] = {}
    root = start
    if pyproject is not None:
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
            raise UserError(f"cannot read settings: {exc}", location=Location(display_path(pyproject))) from None
        tool = data.get("tool", {})
        if isinstance(tool, dict) and "registry" in tool:
            table = tool["registry"]
            root = pyproject.parent
    if not isinstance(table, dict):
        raise UserError("[tool.registry] must be a table", location=Location(display_path(pyproject or start)))
    unknown = set(table) - _KEYS
    if unknown:
        raise UserError(
            f"unknown key {sorted(unknown)[0]!r} in [tool.registry]",
            location=Location(display_path(pyproject or start), key="tool.registry"),
            hint="known keys: " + ", ".join(sorted(_KEYS)),
        )

    def folder(key: str, default: str) -> Path:
        value = table.get(key, default)
        if not isinstance(value, str):
            raise UserError(f"[tool.registry] {key} must be a path string", location=Location(display_path(pyproject or start)))
        return (root / value).resolve() if not Path(value).is_absolute() else Path(value)

    runs_value = table.get("runs", ["runs"])
    if isinstance(runs_value, str):
        runs_value = [runs_value]
    if not isinstance(runs_value, list) or not all(isinstance(r, str) for r in runs_value):
        raise UserError(
            "[tool.registry] runs must be a path or a list of paths", location=Location(display_path(pyproject or start))
        )
    runs = tuple((root / r).resolve() if not Path(r).is_absolute() else Path(r) for r in runs_value if "://" not in r)
    options = table.get("storage_options", {})
    if not isinstance(options, dict):
        raise UserError("[tool.registry] storage_options must be a table", location=Location(display_path(pyproject or start)))
    return Settings(
        root=root,
        claims=folder("claims", "claims"),
        runs=runs,
        verdicts=folder("verdicts", "verdicts"),
        allow_outside=_allow_outside(table, display_path(pyproject or start)),
        remote_runs=tuple(r for r in runs_value if "://" in r),
        storage_options=options,
        **_execution(table, Location(display_path(pyproject or start), key="tool.registry")),
    )



def _allow_outside(table: dict[str, Any], where: str) -> tuple[Path, ...]:
    """`allow_outside`: absolute storage roots that links inside a run folder may point into."""
    allow = table.get("allow_outside", [])
    if not isinstance(allow, list) or not all(isinstance(a, str) and Path(a).is_absolute() for a in allow):
        raise UserError(
            "[tool.registry] allow_outside must be a list of absolute paths",
            location=Location(where, key="tool.registry.allow_outside"),
            hint='e.g. allow_outside = ["/shared/storage"]',
        )
    return tuple(Path(a) for a in allow)


def settings_warnings(settings: Settings, run_dirs: tuple[Path, ...] = ()) -> list[str]:
    """Warnings about where runs are looked for: a configured runs folder that does not exist, and a
    `--run DIR` outside every configured one (its verdicts would be `orphaned` for `registry status`)."""
    pyproject = display_path(settings.root / "pyproject.toml")
    out = [
        f"{pyproject}: warning: the configured runs folder {display_path(r)} does not exist "
        "(hint: create it, or remove it from `runs` under [tool.registry])"
        for r in settings.runs
        if not r.exists()
    ]
    for d in run_dirs:
        real = d.resolve()
        if any(real == r or r in real.parents for r in settings.runs):
            continue
        listed = ", ".join(f'"{_relative(r, settings.root)}"' for r in settings.runs)
        out.append(
            f"{display_path(d)}: warning: this run folder is outside the configured runs folders, so "
            f"`registry status` will call its verdicts orphaned (hint: in {pyproject}, set "
            f'[tool.registry] runs = [{listed}{", " if listed else ""}"{_relative(real, settings.root)}"])'
        )
    return out


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _execution(table: dict[str, object], where: Location) -> dict[str, Any]:
    """`timeout`, `executor` and `scheduler` from [tool.registry], checked."""
    out: dict[str, Any] = {}
    timeout = table.get("timeout", 600)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
        raise UserError("[tool.registry] timeout must be a number of seconds >= 0", location=where, hint="0 means no limit")
    out["timeout"] = float(timeout)
    executor = table.get("executor", "local")
    if executor not in EXECUTORS:
        raise UserError(f"[tool.registry] executor must be one of {', '.join(EXECUTORS)}, not {executor!r}", location=where)
    out["executor"] = executor
    scheduler = table.get("scheduler")
    if scheduler is not None and not isinstance(scheduler, str):
        raise UserError("[tool.registry] scheduler must be an address string", location=where, hint="e.g. tcp://host:8786")
    out["scheduler"] = scheduler
    return out
