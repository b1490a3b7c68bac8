"""Reading a memory-mapped tensor in flat blocks, by several threads, results in block order."""

from __future__ import annotations

import itertools
import math
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import numpy as np

    from registry import Tensor

T = TypeVar("T")
# (index of the kept axes, first flat element, elements) of one block.
Job = tuple[tuple[int, ...], int, int]


def threads() -> int:
    """Threads for streaming statistics: REGISTRY_THREADS, else the CPUs this process may use (max 4)."""
    env = os.environ.get("REGISTRY_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))


def flat_jobs(shape: Sequence[int], keep: Sequence[int], fixed: Mapping[int, int], lead: int, block: int) -> list[Job]:
    """The blocks of a tensor whose first `lead` axes are kept or fixed: each kept index is one flat range."""
    trailing = math.prod(int(d) for d in shape[lead:])
    ranges = [[fixed[k]] if k in fixed else range(shape[k]) for k in range(lead)]
    jobs: list[Job] = []
    for idx in itertools.product(*ranges):
        flat = 0
        for k, i in enumerate(idx):
            flat = flat * shape[k] + i
        at = tuple(idx[k] for k in keep)
        for start in range(flat * trailing, (flat + 1) * trailing, block):
            jobs.append((at, start, min(block, (flat + 1) * trailing - start)))
    return jobs


def map_blocks(
    tensor: Tensor, jobs: list[Job], fn: Callable[[np.ndarray, np.ndarray], T], block: int, scratch_dtype: Any
) -> list[T]:
    """fn(block values, a per-thread scratch buffer) for every job, in job order."""
    import numpy as np

    local = threading.local()

    def run(job: Job) -> T:
        _, start, count = job
        if not hasattr(local, "scratch"):
            local.scratch = np.empty(min(block, max(tensor.size, 1)), dtype=scratch_dtype)
        out = fn(tensor.read(start, count), local.scratch)
        tensor.release(start, count)
        return out

    workers = threads() if len(jobs) > 2 else 1
    if workers > 1:
        tensor.read(jobs[0][1], 1)  # map the file once, before the threads race to
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(run, jobs))
    return [run(job) for job in jobs]
