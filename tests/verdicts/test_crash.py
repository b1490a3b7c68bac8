"""`kill -9` during `registry evaluate` (issue 12): at random points of a run that rewrites every
verdict file, each verdict file is always either its old bytes or its new bytes (never torn, never
missing), and the next run leaves no temporary file behind.

The loop is seeded and bounded (`REGISTRY_CRASH_KILLS`, default 20)."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import Project

KILLS = int(os.environ.get("REGISTRY_CRASH_KILLS", "20"))
CLAIMS = ("claims/loss/final-loss-below-2.yaml", "claims/activation/resid-rms-bounded.yaml", "claims/text/refusals-are-rare.yaml")
RUNS = 4


def evaluate(root: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, REGISTRY_HASH_CACHE="0")
    return subprocess.Popen([sys.executable, "-m", "registry", "evaluate"], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def verdict_files(project: Project) -> dict[str, bytes]:
    return {p.relative_to(project.verdicts).as_posix(): p.read_bytes()
            for p in sorted(project.verdicts.rglob("*")) if p.is_file() and not p.name.startswith(".")}


def temp_files(project: Project) -> list[Path]:
    return [p for p in project.verdicts.rglob(".*") if p.is_file()]


def writing_started(project: Project, proc: subprocess.Popen[bytes]) -> None:
    """Wait until `evaluate` has begun writing: a temporary file or a changed verdict appears."""
    first = {p: p.stat().st_mtime_ns for p in project.verdicts.rglob("*.yaml")}
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if temp_files(project) or any(p.stat().st_mtime_ns != m for p, m in first.items()):
            return
        time.sleep(0.0005)


def test_kill_9_during_evaluate_leaves_old_or_new_bytes(project: Project) -> None:
    project.add_run_copies("runs/basic", RUNS)
    for claim in CLAIMS:
        project.add_claim(claim)
    assert evaluate(project.root).wait() == 0
    old = verdict_files(project)
    assert len(old) == RUNS * len(CLAIMS)
    # New evidence for every pair: every verdict file changes on the next run.
    for i in range(RUNS):
        run = project.runs / f"basic{i}"
        np.save(run / "resid.npy", np.load(run / "resid.npy") * 0.5)
        with (run / "metrics.csv").open("a") as fh:
            fh.write("300,train,1.2500,0.500,main\n")
        with (run / "samples.jsonl").open("a") as fh:
            fh.write('{"text": "I refuse.", "step": 300}\n')
    snapshot = project.root.parent / "old-verdicts"
    shutil.copytree(project.verdicts, snapshot)
    start = time.perf_counter()
    assert evaluate(project.root).wait() == 0
    duration = time.perf_counter() - start
    new = verdict_files(project)
    assert set(new) == set(old) and all(new[k] != old[k] for k in old)

    rng = random.Random(12)
    in_write_phase = 0
    for k in range(KILLS):
        shutil.rmtree(project.verdicts)
        shutil.copytree(snapshot, project.verdicts)
        proc = evaluate(project.root)
        if k % 2:
            time.sleep(rng.uniform(0.2, 1.0) * duration)  # anywhere in the run
        else:
            writing_started(project, proc)  # in the write phase: right after the first file changed
            time.sleep(rng.uniform(0, 0.01))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        now = verdict_files(project)
        assert set(now) == set(old)
        for name, data in now.items():
            assert data in (old[name], new[name]), f"{name} is torn"
        in_write_phase += bool(temp_files(project))
    assert in_write_phase >= 1  # some kills did land while verdicts were being written
    assert evaluate(project.root).wait() == 0
    assert verdict_files(project) == new
    assert temp_files(project) == []


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has exited; only its parent (now init) has yet to reap it


def test_workers_exit_when_evaluate_is_killed(project: Project) -> None:
    """`--jobs` workers wait on a pipe to the parent; after `kill -9` of the parent they must see it
    close and exit, not wait for ever (every forked worker used to hold the parent's ends open)."""
    if not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists():
        pytest.skip("needs Linux's /proc/<pid>/task/<pid>/children")
    project.add_run_copies("runs/basic", RUNS)
    for claim in CLAIMS:
        project.add_claim(claim)
    env = dict(os.environ, REGISTRY_HASH_CACHE="0")
    proc = subprocess.Popen([sys.executable, "-m", "registry", "evaluate", "--jobs", "2", "--force"], cwd=project.root,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(workers := _children(proc.pid)) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(workers) == 2, "evaluate finished before both workers started"
    deadline = time.monotonic() + 20
    while any(_running(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [w for w in workers if _running(w)]
