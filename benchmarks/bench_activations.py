"""Benchmark: `activation.stat` (rms per layer) through `registry evaluate`, on float32 activation
dumps of 1 GiB and 4 GiB, as `.npy` and as `.safetensors` with several tensors.

    python benchmarks/bench_activations.py [--sizes 1 4] [--repeat 3] [--clean]

Data is generated once under benchmarks/_data/ (git-ignored; about 2 × (1 + 4) GiB; free disk is
checked first) and reused; `--clean` deletes it afterwards. For each file:

- `registry evaluate` runs as a subprocess in a throw-away project (pyproject.toml + one claim + one
  run), first cold for the hash cache (the registry hashes every artifact it uses), then `--repeat`
  times with a warm page cache and a warm hash cache; reported: best wall time, throughput
  (file bytes / wall), and the peak RSS of the process (from wait4).
- the same with the hash cache disabled (REGISTRY_HASH_CACHE=0), to show what hashing costs;
- the baseline in the same run: a subprocess doing `numpy.load` (or `safetensors.numpy.load_file`)
  and the same reduction on the whole in-memory array.

The claims: npy — one tensor [layer, rows, d_model] with axes declared in run.yaml, `keep: [layer]`
(rms per layer, `across: max`); safetensors — tensors `blocks.{i}.hook_resid_post`, glob over them
(rms per tensor in the evidence, `value` over all).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"
GIB = 1 << 30
LAYERS = 8
D_MODEL = 1024

PYPROJECT = (
    '[project]\nname = "bench"\nversion = "0"\n\n'
    '[tool.registry]\nclaims = "claims"\nruns = ["runs"]\nverdicts = "verdicts"\n'
)


def claim(params: dict[str, object]) -> str:
    return textwrap.dedent(f"""\
        id: bench-rms
        title: bench
        statement: benchmark
        falsified_if: never
        predictions:
          - id: rms
            level: activation
            evaluator: activation.stat
            params: {json.dumps(params)}
            expect:
              - {{stat: value, op: ">=", value: 0}}
        """)


def write_random(fh, count: int, rng: np.random.Generator) -> None:
    chunk = 1 << 24
    for start in range(0, count, chunk):
        fh.write(rng.standard_normal(min(chunk, count - start), dtype=np.float32).tobytes())


def make_npy(path: Path, gib: int) -> None:
    rows = gib * GIB // (4 * LAYERS * D_MODEL)
    header = {"descr": "<f4", "fortran_order": False, "shape": (LAYERS, rows, D_MODEL)}
    with path.open("wb") as fh:
        np.lib.format.write_array_header_2_0(fh, header)
        write_random(fh, LAYERS * rows * D_MODEL, np.random.default_rng(gib))


def make_safetensors(path: Path, gib: int) -> None:
    rows = gib * GIB // (4 * LAYERS * D_MODEL)
    per = rows * D_MODEL * 4
    header: dict[str, object] = {
        f"blocks.{i}.hook_resid_post": {"dtype": "F32", "shape": [rows, D_MODEL], "data_offsets": [i * per, (i + 1) * per]}
        for i in range(LAYERS)
    }
    header["__metadata__"] = {"axes": json.dumps({f"blocks.{i}.hook_resid_post": ["pos", "d_model"] for i in range(LAYERS)})}
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    with path.open("wb") as fh:
        fh.write(len(head).to_bytes(8, "little"))
        fh.write(head)
        write_random(fh, LAYERS * rows * D_MODEL, np.random.default_rng(100 + gib))


def project(kind: str, gib: int) -> Path:
    root = DATA / f"{kind}-{gib}g"
    run = root / "runs" / "bench"
    data = run / ("acts.npy" if kind == "npy" else "acts.safetensors")
    if not data.exists():
        run.mkdir(parents=True, exist_ok=True)
        tmp = data.with_suffix(".tmp")
        t0 = time.perf_counter()
        (make_npy if kind == "npy" else make_safetensors)(tmp, gib)
        tmp.rename(data)
        print(f"  generated {data.relative_to(HERE)} in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "claims").mkdir(exist_ok=True)
    (root / "verdicts").mkdir(exist_ok=True)
    if kind == "npy":
        art = f"activations: {{path: {data.name}, axes: {{acts: [layer, pos, d_model]}}}}"
        params = {"tensor": "acts", "stat": "rms", "keep": ["layer"], "across": "max"}
    else:
        art = f"activations: {{path: {data.name}}}"
        params = {"tensor": "blocks.*.hook_resid_post", "stat": "rms"}
    (run / "run.yaml").write_text(f"id: bench\nartifacts:\n  {art}\n")
    (root / "claims" / "bench-rms.yaml").write_text(claim(params))
    return root


def timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and stdout of a subprocess."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out}")
    return wall, usage.ru_maxrss / 1024, out


def warm(path: Path) -> None:
    with path.open("rb") as fh:
        while fh.read(1 << 24):
            pass


BASELINE = {
    "npy": "import numpy as np,sys; a=np.load(sys.argv[1]); "
    "r=np.sqrt(np.mean(np.square(a.reshape(a.shape[0],-1)), axis=1, dtype=np.float64)); print(r.max())",
    "safetensors": "import numpy as np,sys; from safetensors.numpy import load_file; t=load_file(sys.argv[1]); "
    "s=sum(float(np.sum(np.square(v), dtype=np.float64)) for v in t.values()); "
    "print(np.sqrt(s / sum(v.size for v in t.values())))",
}


def evaluate_in_process(root: Path) -> float:
    """Seconds for the evaluator alone (no CLI start-up, no hashing), in this process."""
    from evaluators.activation.stat import ActivationStat as Stat
    from registry.runs.run import load_run

    params = yaml_params(root)
    run = load_run(root / "runs" / "bench" / "run.yaml")
    t0 = time.perf_counter()
    Stat().evaluate(Stat.Params.model_validate(params), run)
    return time.perf_counter() - t0


def yaml_params(root: Path) -> dict[str, object]:
    import yaml

    doc = yaml.safe_load((root / "claims" / "bench-rms.yaml").read_text())
    return dict(doc["predictions"][0]["params"])


def registry_cmd() -> list[str]:
    exe = shutil.which("registry")
    return [exe] if exe else [sys.executable, "-m", "registry"]


def bench(kind: str, gib: int, repeat: int) -> dict[str, object]:
    root = project(kind, gib)
    data = next((root / "runs" / "bench").glob("acts.*"))
    size = data.stat().st_size
    warm(data)
    cmd = registry_cmd() + ["evaluate", "--force"]  # measure every time (evaluate skips current verdicts)
    shutil.rmtree(root / ".registry-cache", ignore_errors=True)
    cold_hash, _, _ = timed(cmd, root)  # fills the hash cache
    best, rss = min(timed(cmd, root)[:2] for _ in range(repeat))
    nocache, nocache_rss = min(timed(cmd, root, {"REGISTRY_HASH_CACHE": "0"})[:2] for _ in range(max(1, repeat - 1)))
    try:
        base, base_rss, base_out = min(timed([sys.executable, "-c", BASELINE[kind], str(data)], root) for _ in range(repeat))
    except SystemExit as exc:  # e.g. the safetensors package is not installed
        print(f"  baseline failed: {str(exc).splitlines()[-1]}", file=sys.stderr)
        base, base_rss, base_out = float("nan"), float("nan"), ""
    startup, _, _ = timed(registry_cmd() + ["--help"], root)
    in_process = min(evaluate_in_process(root) for _ in range(repeat))
    verdict = (root / "verdicts" / "bench-rms" / "bench.yaml").read_text()
    value = next(line.split(":")[1].strip() for line in verdict.splitlines() if line.strip().startswith("observed:"))
    return {
        "file": f"{kind} {gib} GiB",
        "bytes": size,
        "evaluate_s": best,
        "GB/s": size / best / 1e9,
        "rss_MB": rss,
        "first_run_s (hashes the file)": cold_hash,
        "no_hash_cache_s": nocache,
        "no_hash_cache_GB/s": size / nocache / 1e9,
        "no_hash_cache_rss_MB": nocache_rss,
        "numpy_s": base,
        "numpy_GB/s": size / base / 1e9,
        "numpy_rss_MB": base_rss,
        "cli_startup_s (registry --help)": startup,
        "in_process_s (evaluator only)": in_process,
        "in_process_GB/s": size / in_process / 1e9,
        "value": value,
        "numpy_value": base_out.strip(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 4], help="file sizes in GiB")
    ap.add_argument("--kinds", nargs="+", default=["npy", "safetensors"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--clean", action="store_true", help="delete benchmarks/_data afterwards")
    a = ap.parse_args(argv)
    DATA.mkdir(exist_ok=True)
    need = sum(g * GIB for g in a.sizes for k in a.kinds if not (DATA / f"{k}-{g}g").exists())
    free = shutil.disk_usage(DATA).free
    if need > free - 2 * GIB:
        raise SystemExit(f"need {need / GIB:.1f} GiB under {DATA}, only {free / GIB:.1f} GiB free")
    rows = []
    for gib in a.sizes:
        for kind in a.kinds:
            print(f"{kind} {gib} GiB ...", file=sys.stderr)
            rows.append(bench(kind, gib, a.repeat))
    print(json.dumps(rows, indent=2))
    print()
    print(f"load average at the end: {os.getloadavg()}, CPUs: {os.cpu_count()}, threads: REGISTRY_THREADS="
          f"{os.environ.get('REGISTRY_THREADS', 'default')}")
    print(f"{'file':<18}{'evaluate':>10}{'GB/s':>7}{'RSS MB':>8}{'no cache':>10}{'GB/s':>7}"
          f"{'numpy':>9}{'GB/s':>7}{'RSS MB':>8}{'startup':>9}{'in-proc':>9}{'GB/s':>7}")
    for r in rows:
        print(f"{r['file']:<18}{r['evaluate_s']:>9.2f}s{r['GB/s']:>7.2f}{r['rss_MB']:>8.0f}"
              f"{r['no_hash_cache_s']:>9.2f}s{r['no_hash_cache_GB/s']:>7.2f}"
              f"{r['numpy_s']:>8.2f}s{r['numpy_GB/s']:>7.2f}{r['numpy_rss_MB']:>8.0f}"
              f"{r['cli_startup_s (registry --help)']:>8.2f}s{r['in_process_s (evaluator only)']:>8.2f}s"
              f"{r['in_process_GB/s']:>7.2f}")
    if a.clean:
        shutil.rmtree(DATA)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
