"""The Dask executor: per-run work shipped to a `dask.distributed` cluster (the `dask` extra).

    registry evaluate --executor dask --scheduler tcp://host:8786

The unit of work is `measure_run(claims, run, claim_indices, measure_pair)`: the worker opens the run's artifacts (they
must be readable from the worker: a shared file system, or object storage), measures every claim
on it, and returns the judged verdicts with their files' text. A Dask task is `measure_runs` over a
chunk of runs (about TASKS_PER_THREAD tasks per worker thread: Dask's own cost per task is
milliseconds, as much as a short run's claims); this client puts them in order and writes them, so
the files are byte for byte those of `--jobs 1`. The claims are sent once (scattered to every
worker), the runs with their task. `measure_run` is a plain function of picklable values: a Ray or
Spark job can call it the same way (one task per run).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.errors import UserError, display_path

if TYPE_CHECKING:
    from registry.language.loaded import LoadedClaim
    from registry.plugins import EvaluatorRegistry
    from registry.runs.run import Run
    from registry.verdicts.executors import Done, Measured, MeasurePair, Task, Work


def measure_run(
    claims: Sequence[LoadedClaim], run: Run, claim_indices: Sequence[int], measure: MeasurePair
) -> list[tuple[int, Measured]]:
    """Every claim `claim_indices` on `run`, measured and judged where this is called by `measure`
    (registry.verdicts.engine.measure_pair) with the evaluators installed there; a pair's bad input
    comes back in place of its verdict (plain UserErrors, with their locations)."""
    evaluators = _evaluators()
    try:
        return [(ci, measure(claims[ci], run, evaluators)) for ci in claim_indices]
    finally:
        run.release()


def measure_runs(
    claims: Sequence[LoadedClaim], runs: Sequence[tuple[Run, Sequence[int]]], measure: MeasurePair
) -> list[list[tuple[int, Measured]]]:
    """`measure_run` for each (run, claim indices) in turn: one Dask task for several runs."""
    return [measure_run(claims, run, claim_indices, measure) for run, claim_indices in runs]


# Tasks per worker thread: each task carries a few milliseconds of Dask's own overhead, so a sweep of
# hundreds of short runs is sent in this many chunks per thread (enough for the load to even out).
TASKS_PER_THREAD = 16

_REGISTRY: list[EvaluatorRegistry] = []


def _evaluators() -> EvaluatorRegistry:
    """The worker process's evaluators, found once (reading entry points costs tens of milliseconds)."""
    from registry.plugins import EvaluatorRegistry

    if not _REGISTRY:
        _REGISTRY.append(EvaluatorRegistry())
    return _REGISTRY[0]


def _here(exc: UserError) -> UserError:
    """A worker's message with its file shown as from this working directory (the worker's may differ)."""
    if exc.location is None or not Path(exc.location.file).is_absolute():
        return exc
    return UserError(exc.message, location=replace(exc.location, file=display_path(exc.location.file)), hint=exc.hint)


def _client(scheduler: str | None) -> Any:
    try:
        from distributed import Client
    except ImportError:
        raise UserError(
            "the dask executor needs dask.distributed", hint="pip install 'claims-registry[dask]'"
        ) from None
    try:
        return Client(scheduler, timeout=30)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise UserError(f"cannot reach the dask scheduler {scheduler}: {exc}", hint="is it running? see README") from None


def run_on_dask(work: Work, tasks: Sequence[Task], done: Done, scheduler: str | None) -> None:
    """Run `tasks` on the cluster at `scheduler`; see the module's docstring."""
    if not tasks:
        return
    from distributed import as_completed

    with _client(scheduler) as client:
        [claims] = client.scatter([list(work.claims)], broadcast=True)
        threads = max(1, sum(client.nthreads().values()))
        size = -(-len(tasks) // (threads * TASKS_PER_THREAD))
        chunks = [tasks[i : i + size] for i in range(0, len(tasks), size)]
        futures = {
            client.submit(measure_runs, claims, [(work.runs[ri], cis) for ri, cis in chunk], work.measure, pure=False): chunk
            for chunk in chunks
        }
        # Results come with their completion (one message per task), not fetched one by one afterwards.
        for future, result in as_completed(futures, with_results=True):  # type: ignore[no-untyped-call]
            for (ri, _), pairs in zip(futures[future], result, strict=True):
                for ci, measured in pairs:
                    done(ci, ri, [_here(e) for e in measured] if isinstance(measured, list) else measured)
