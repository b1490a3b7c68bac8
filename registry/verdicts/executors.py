"""Where per-run work is measured: in this process, in a pool of worker processes, or on a Dask cluster.

The unit of work is one run with every per-run claim to measure on it (`Task`): its artifacts are
opened once for all of them and freed when the last is done, so memory stays flat in the number of
runs. Every executor hands each finished pair to `done(claim_index, run_index, verdict)`; the engine
puts the verdicts in a stable order, so the output does not depend on the executor or on `--jobs`.

Bad input in a pair (an unreadable artifact) is that pair's failure, returned like a verdict; the
other pairs go on. A pair that takes longer than `timeout` seconds becomes an `error` verdict ("timed out after N s")
and the other pairs go on. In a worker process this is enforced by killing the worker (numpy or
regex code cannot be interrupted from inside), and the run's remaining claims go to a fresh worker;
in this process (`--jobs 1`) by SIGALRM, which interrupts Python code but not a long C call. On Dask
the cluster's own limits apply.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from registry.errors import UserError, UserErrors

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    from registry.language.loaded import LoadedClaim
    from registry.plugins import EvaluatorRegistry
    from registry.runs.run import Run
    from registry.verdicts.file import Rendered

Task = tuple[int, tuple[int, ...]]
"""A run (index into `Work.runs`) and the per-run claims (indices into `Work.claims`) to measure on it."""
Measured: TypeAlias = "Rendered | list[UserError]"
"""A pair's verdict with its file's text, or the bad input that kept it from being judged (`isolated`)."""
Done = Callable[[int, int, Measured], None]
MeasurePair = Callable[["LoadedClaim", "Run", "EvaluatorRegistry"], Measured]
TimedOut = Callable[["LoadedClaim", "Run", str], "Rendered"]


def _plain(exc: UserError) -> UserError:
    """The error as a plain UserError (the same text; subclasses with other constructors do not pickle)."""
    return UserError(exc.message, location=exc.location, hint=exc.hint)


def isolated(pair: Callable[[], Rendered]) -> Measured:
    """One (claim, run) verdict; bad input in it is returned, so that the other pairs go on."""
    try:
        return pair()
    except UserErrors as exc:
        return [_plain(e) for e in exc.errors]
    except UserError as exc:
        return [_plain(exc)]


@dataclass(frozen=True)
class Work:
    claims: Sequence[LoadedClaim]
    runs: Sequence[Run]
    evaluators: EvaluatorRegistry
    measure: MeasurePair
    """Measures and judges one claim on one run, bad input returned (engine.measure_pair)."""
    failed: TimedOut
    """The error verdict of a pair that could not be measured, with the reason."""
    timeout: float


class _Alarm(BaseException):
    """Raised by SIGALRM inside a pair measured in this process (a BaseException, so that an
    evaluator's `except Exception` does not swallow it)."""


def timed_out(seconds: float) -> str:
    return f"timed out after {seconds:g} s"


def measure_in_process(work: Work, ci: int, ri: int) -> Measured:
    """One pair in this process, under SIGALRM when a timeout is set and this is the main thread."""
    lc, run = work.claims[ci], work.runs[ri]
    if not work.timeout or threading.current_thread() is not threading.main_thread():
        return work.measure(lc, run, work.evaluators)

    def alarm(_signum: int, _frame: object) -> None:
        raise _Alarm

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, work.timeout)
    try:
        return work.measure(lc, run, work.evaluators)
    except _Alarm:
        return work.failed(lc, run, timed_out(work.timeout))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_in_process(work: Work, tasks: Sequence[Task], done: Done) -> None:
    for ri, cis in tasks:
        try:
            for ci in cis:
                done(ci, ri, measure_in_process(work, ci, ri))
        finally:
            work.runs[ri].release()


# --- worker processes ------------------------------------------------------------------------------

_WORK: Work | None = None  # set before forking: workers inherit the loaded claims, runs and evaluators


_SEND_EVERY = 0.5  # seconds


def _worker_main(conn: Connection, parents_ends: list[Connection], now: Any) -> None:
    # A forked worker inherits the parent's end of its own pipe and of every earlier worker's: closed
    # here, so that when the parent dies (even by SIGKILL) the last copy of its ends goes with it and
    # this worker's recv sees end-of-file, instead of the worker waiting for ever.
    for end in parents_ends:
        end.close()
    work = _WORK
    assert work is not None
    try:
        while (task := conn.recv()) is not None:
            ri, cis = task
            results: list[tuple[int, Measured]] = []
            sent = time.monotonic()
            for ci in cis:
                # What is measured now, for the parent's timeouts: the start first, then the claim, so
                # that a parent reading the claim reads its start too (see _Worker.measuring).
                now[0] = -1.0
                now[1] = time.monotonic()
                now[0] = float(ci)
                results.append((ci, work.measure(work.claims[ci], work.runs[ri], work.evaluators)))
                if now[1] - sent > _SEND_EVERY:  # a long run's progress is still seen
                    conn.send((results, False))
                    results, sent = [], time.monotonic()
            now[0] = -1.0
            work.runs[ri].release()
            # Results are sent a run at a time (or every _SEND_EVERY s): the parent, which shares the
            # cores, wakes and unpickles once per run rather than once per pair.
            conn.send((results, True))
    except (EOFError, BrokenPipeError, ConnectionResetError):
        return  # the parent is gone: nobody is left to use the results


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    now: Any
    """Shared with the worker: [claim index being measured (-1: none), when it started (time.monotonic)]."""
    task: Task | None = None
    delivered: set[int] = field(default_factory=set)

    def measuring(self) -> tuple[int, float] | None:
        """The claim the worker measures now and since when, or None (between claims, or a torn read)."""
        ci = self.now[0]
        started = self.now[1]
        if ci < 0 or self.now[0] != ci:
            return None
        return int(ci), started


class _Pool:
    """Up to `jobs` forked workers, each measuring one run at a time; see the module's docstring."""

    def __init__(self, work: Work, jobs: int, done: Done):
        import multiprocessing

        self.ctx = multiprocessing.get_context("fork")
        self.work, self.jobs, self.done = work, jobs, done
        self.workers: list[_Worker] = []

    def _spawn(self) -> _Worker:
        parent, child = self.ctx.Pipe()
        ends = [parent] + [w.conn for w in self.workers]
        now = self.ctx.RawArray("d", [-1.0, 0.0])
        process = self.ctx.Process(target=_worker_main, args=(child, ends, now), daemon=True)
        process.start()
        child.close()
        worker = _Worker(process, parent, now)
        self.workers.append(worker)
        return worker

    def _retire(self, worker: _Worker, reason: str) -> Task | None:
        """Kill `worker`; the pair it was measuring fails with `reason`; returns the rest of its task
        (with the finished pairs whose results were not sent yet: they are measured again)."""
        measuring = worker.measuring()
        worker.process.kill()
        worker.process.join()
        worker.conn.close()
        self.workers.remove(worker)
        if worker.task is None:
            return None
        ri, cis = worker.task
        failed = measuring[0] if measuring is not None else None
        if failed is not None:
            self.done(failed, ri, self.work.failed(self.work.claims[failed], self.work.runs[ri], reason))
        rest = tuple(ci for ci in cis if ci != failed and ci not in worker.delivered)
        return (ri, rest) if rest else None

    def _receive(self, worker: _Worker) -> Task | None:
        try:
            results, finished = worker.conn.recv()
        except (EOFError, OSError):
            worker.process.join(5)
            return self._retire(worker, f"worker process died (exit code {worker.process.exitcode})")
        assert worker.task is not None
        ri = worker.task[0]
        if finished:
            worker.task = None
        for ci, measured in results:
            worker.delivered.add(ci)
            self.done(ci, ri, measured)
        return None

    def run(self, tasks: Sequence[Task]) -> None:
        from multiprocessing.connection import wait

        pending: deque[Task] = deque(tasks)
        try:
            while pending or any(w.task is not None for w in self.workers):
                for worker in [w for w in self.workers if w.task is None] + [None] * (self.jobs - len(self.workers)):
                    if not pending:
                        break
                    worker = worker or self._spawn()
                    worker.task, worker.delivered = pending.popleft(), set()
                    worker.conn.send(worker.task)
                busy = {w.conn: w for w in self.workers if w.task is not None}
                for conn in wait(list(busy), timeout=self._next_deadline(busy.values())):
                    left = self._receive(busy[conn])  # type: ignore[index]
                    if left:
                        pending.appendleft(left)
                self._enforce_timeouts(pending)
        finally:
            self.close()

    def _next_deadline(self, busy: Any) -> float | None:
        if not self.work.timeout:
            return None
        # A worker between claims, or one just handed its task, is looked at again within a second.
        starts = [m[1] if (m := w.measuring()) is not None else time.monotonic() + 1 - self.work.timeout for w in busy]
        return max(0.0, min(starts) + self.work.timeout - time.monotonic()) + 0.01 if starts else 1.0

    def _enforce_timeouts(self, pending: deque[Task]) -> None:
        now = time.monotonic()
        for worker in list(self.workers):
            measuring = worker.measuring() if worker.task is not None else None
            if self.work.timeout and measuring is not None and now - measuring[1] > self.work.timeout:
                left = self._retire(worker, timed_out(self.work.timeout))
                if left:
                    pending.appendleft(left)

    def close(self) -> None:
        for worker in list(self.workers):
            if worker.process.is_alive():
                worker.process.kill()
            worker.process.join()
            worker.conn.close()
        self.workers.clear()


def run_in_workers(work: Work, tasks: Sequence[Task], done: Done, jobs: int) -> None:
    """Measure `tasks` in up to `jobs` worker processes (forked: they inherit `work`)."""
    global _WORK
    _WORK = work
    # What every metrics log needs, imported once here rather than once in every worker: forked workers
    # inherit the loaded modules. Not pandas (~0.5 s of CPU, in series before any worker starts): the
    # readers of the common formats do without it, and a worker that needs it imports it in parallel.
    import numpy  # noqa: F401
    import pyarrow.csv  # noqa: F401

    try:
        _Pool(work, jobs, done).run(tasks)
    finally:
        _WORK = None
