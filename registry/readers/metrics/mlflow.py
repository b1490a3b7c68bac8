"""MLflow tracking stores, read without the mlflow package: every metric key becomes a column.

Manifest (``run:`` picks the run by run id or run name; it may be left out when the store
holds exactly one run, or when ``path`` is the run's own folder)::

    metrics: {path: mlruns, format: mlflow, run: 3f2a9c0d1e8b4c6f}      # file store, run by id
    metrics: {path: mlruns/0/3f2a9c0d1e8b4c6f, format: mlflow}           # the run folder itself
    metrics: {path: mlflow.db, run: bright-owl-42}                       # SQLite store (by name)

* **File store** ``mlruns/<experiment>/<run>/metrics/<key>``: one file per key, lines
  ``timestamp value step`` (old two-field lines ``timestamp value`` are step 0, as in MLflow).
  Keys with ``/`` are sub-folders: ``metrics/train/loss`` is the column ``train/loss``.
  ``path`` may be the store root, one experiment folder, or one run folder. ``.trash`` is skipped.
* **SQLite store** (``mlflow.db``, or any ``format: mlflow`` file): table ``metrics`` (key, value,
  timestamp, step, run_uuid, is_nan) and ``runs`` (run_uuid, name). A row with ``is_nan`` is NaN;
  MLflow stores ±inf as ±1.7976931348623157e308, which is read back as ±inf.
* A key logged more than once at one step keeps the value logged last (file order; in SQLite,
  by timestamp then insertion order).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.errors import ArtifactError, UserError, display_path
from registry.readers.metrics.rows import ArraySource, source_from_series
from registry.yamlsource import load_yaml

if TYPE_CHECKING:
    import numpy as np

    from registry.readers.formats import ArtifactSpec

DBL_MAX = 1.7976931348623157e308


@dataclass(frozen=True)
class _RunInfo:
    id: str
    name: str | None
    folder: Path | None = None

    def label(self) -> str:
        return f"{self.id} ({self.name})" if self.name and self.name != self.id else self.id


def open_mlflow(path: Path, spec: ArtifactSpec | None = None) -> ArraySource:
    wanted = spec.run if spec is not None else None
    if path.is_dir():
        return _file_store(path, wanted)
    return _sqlite_store(path, wanted)


def _choose(path: Path, runs: list[_RunInfo], wanted: str | None) -> _RunInfo:
    listing = ", ".join(r.label() for r in runs[:10]) + (f", … ({len(runs)} in all)" if len(runs) > 10 else "")
    if wanted is None:
        if len(runs) == 1:
            return runs[0]
        if not runs:
            raise ArtifactError(path, "no MLflow runs in this store", hint="point `path:` at an mlruns folder or mlflow.db")
        raise ArtifactError(
            path, f"the MLflow store holds {len(runs)} runs; choose one with `run:`", hint=f"runs present: {listing}"
        )
    matches = [r for r in runs if r.id == wanted] or [r for r in runs if r.name == wanted]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        ids = ", ".join(r.id for r in matches)
        raise ArtifactError(path, f"run name {wanted!r} is shared by {len(matches)} runs ({ids})", hint="give the run id")
    names = [r.id for r in runs] + [r.name for r in runs if r.name]
    close = difflib.get_close_matches(wanted, names, n=1, cutoff=0.5)
    hint = (f"did you mean {close[0]!r}? " if close else "") + (f"runs present: {listing}" if runs else "it holds no runs")
    raise ArtifactError(path, f"no run {wanted!r} in this MLflow store", hint=hint)


# ---------------------------------------------------------------------------------------------
# File store


def _run_name(folder: Path) -> str | None:
    meta = folder / "meta.yaml"
    if meta.is_file():
        try:
            doc = load_yaml(meta).data
        except UserError:
            doc = None  # not readable: the run is still found by its id, or by its runName tag
        if isinstance(doc, dict) and doc.get("run_name"):
            return str(doc["run_name"])
    tag = folder / "tags" / "mlflow.runName"
    if tag.is_file():
        try:
            return tag.read_text(encoding="utf-8").strip() or None
        except (OSError, UnicodeDecodeError):
            return None
    return None


def _runs_below(path: Path) -> list[_RunInfo]:
    def is_run(d: Path) -> bool:
        return d.is_dir() and (d / "metrics").is_dir()

    def children(d: Path) -> list[Path]:
        return sorted(c for c in d.iterdir() if c.is_dir() and not c.name.startswith(".") and c.name != "models")

    if is_run(path):
        folders = [path]
    else:
        folders = [c for c in children(path) if is_run(c)]  # an experiment folder
        folders += [r for e in children(path) if not is_run(e) for r in children(e) if is_run(r)]
    return [_RunInfo(f.name, _run_name(f), f) for f in folders]


def _file_store(path: Path, wanted: str | None) -> ArraySource:
    runs = _runs_below(path)
    if not runs:
        raise ArtifactError(
            path,
            "no MLflow runs here (expected <experiment>/<run>/metrics/<key> files)",
            hint="point `path:` at the mlruns folder, an experiment folder or a run folder",
        )
    run = _choose(path, runs, wanted)
    assert run.folder is not None
    metrics_dir = run.folder / "metrics"
    series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for file in sorted(p for p in metrics_dir.rglob("*") if p.is_file()):
        key = file.relative_to(metrics_dir).as_posix()
        series[key] = _metric_file(file)
    reason = f"MLflow run {run.label()} has no metric values"
    return source_from_series(path, series, empty_reason=reason)


def _metric_file(file: Path) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    steps: list[int] = []
    values: list[float] = []
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ArtifactError(file, f"cannot read MLflow metric file: {exc}") from None
    for lineno, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        try:
            if len(parts) not in (2, 3):
                raise ValueError
            int(parts[0])
            value = float(parts[1])
            step = int(parts[2]) if len(parts) == 3 else 0
        except ValueError:
            raise ArtifactError(file, f"expected 'timestamp value step', got {line.strip()!r}", line=lineno) from None
        if not -(2**63) <= step < 2**63:
            message = f"step {step} is outside the 64-bit integer range"
            raise ArtifactError(file, message, line=lineno, hint="steps must fit in int64")
        steps.append(step)
        values.append(value)
    return np.asarray(steps, dtype=np.int64), np.asarray(values, dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# SQLite store


def _sqlite_store(path: Path, wanted: str | None) -> ArraySource:
    import sqlite3

    import numpy as np

    try:
        con = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise ArtifactError(path, f"cannot open as an SQLite database: {exc}") from None
    try:
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            raise ArtifactError(
                path,
                f"not an MLflow store: not a readable SQLite database ({exc})",
                hint="for an mlruns folder, point `path:` at the folder",
            ) from None
        if not {"runs", "metrics"} <= tables:
            raise ArtifactError(path, "not an MLflow tracking database (it has no 'runs' and 'metrics' tables)")
        run_cols = _columns(con, "runs")
        name_sql = "name" if "name" in run_cols else "NULL"
        runs = [_RunInfo(str(r[0]), r[1]) for r in con.execute(f"SELECT run_uuid, {name_sql} FROM runs ORDER BY rowid")]
        run = _choose(path, runs, wanted)
        cols = _columns(con, "metrics")
        step_sql = "step" if "step" in cols else "0"
        nan_sql = "is_nan" if "is_nan" in cols else "0"
        query = f"SELECT key, value, {step_sql}, {nan_sql} FROM metrics WHERE run_uuid = ? ORDER BY timestamp, rowid"
        try:
            rows: list[Any] = con.execute(query, (run.id,)).fetchall()
        except sqlite3.OperationalError:  # a table without rowid
            rows = con.execute(query.replace(", rowid", ""), (run.id,)).fetchall()
    except sqlite3.Error as exc:
        raise ArtifactError(path, f"cannot read the MLflow database: {exc}") from None
    finally:
        con.close()
    per_key: dict[str, tuple[list[int], list[float]]] = {}
    for key, value, step, is_nan in rows:
        if is_nan:
            v = float("nan")
        elif value is None:
            continue
        else:
            v = float(value)
            if abs(v) >= DBL_MAX:
                v = float("inf") if v > 0 else float("-inf")
        s, vals = per_key.setdefault(str(key), ([], []))
        s.append(int(step or 0))
        vals.append(v)
    series = {k: (np.asarray(s, dtype=np.int64), np.asarray(v, dtype=np.float64)) for k, (s, v) in per_key.items()}
    reason = f"MLflow run {run.label()} in {display_path(path)} has no metric values"
    return source_from_series(path, series, empty_reason=reason)


def _columns(con: Any, table: str) -> set[str]:
    return {str(r[1]) for r in con.execute(f"PRAGMA table_info({table})")}
