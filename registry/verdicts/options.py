"""What `registry evaluate` is asked to do (EvaluateOptions, resolved into Options) and what it left alone (Skipped)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from registry.config import Settings
from registry.errors import UserError


@dataclass(frozen=True)
class Skipped:
    """A pair whose verdict is current (registry/verdicts/current.py): not measured, file untouched."""

    claim: str
    run: str
    outcome: str
    path: Path
    """Its verdict file."""
    seq: int
    """Its place in the order of all pairs (Evaluation.all_verdicts)."""


Progress = Callable[[int, int, str], None]
"""Called after each measured pair: (pairs done, pairs to measure, the run just measured)."""


@dataclass(frozen=True)
class Options:
    force: bool = False
    """Measure every pair, current or not."""
    jobs: int = 1
    """Worker processes (1: measure in this process)."""
    timeout: float = 600.0
    """Seconds one (claim, run) pair may take before it is `error`; 0: no limit."""
    executor: str = "local"
    """local (this process or `jobs` workers) or dask."""
    scheduler: str | None = None
    """With dask: the scheduler's address (tcp://host:8786)."""
    verdicts: Path | None = None
    """The verdicts folder: where current verdicts are looked for (None: measure every pair)."""
    index: Path | None = None
    """The index of evaluated pairs (registry/verdicts/current.py); None: no incremental evaluation."""
    progress: Progress | None = None


@dataclass(frozen=True)
class EvaluateOptions:
    """`registry evaluate`'s options; None: from [tool.registry] or the default."""

    force: bool = False
    jobs: int | None = None
    timeout: float | None = None
    executor: str | None = None
    scheduler: str | None = None
    progress: Progress | None = None


def resolve_options(settings: Settings, opts: EvaluateOptions | None) -> Options:
    """The engine's options from the command line's (`opts`) and [tool.registry] (`settings`)."""
    opts = opts or EvaluateOptions()
    import os

    from registry.runs.hashing import cache_dir

    executor = opts.executor or settings.executor
    scheduler = opts.scheduler or settings.scheduler
    if executor == "dask" and not scheduler:
        raise UserError(
            "the dask executor needs a scheduler address",
            hint="--scheduler tcp://host:8786, or `scheduler` under [tool.registry]",
        )
    if opts.jobs is not None and opts.jobs < 1:
        raise UserError(f"--jobs must be at least 1, not {opts.jobs}")
    cache = cache_dir()
    return Options(
        force=opts.force,
        jobs=opts.jobs or os.cpu_count() or 1,
        timeout=settings.timeout if opts.timeout is None else opts.timeout,
        executor=executor,
        scheduler=scheduler,
        verdicts=settings.verdicts,
        index=cache / "evaluated.json" if cache is not None else None,
        progress=opts.progress,
    )
