"""Weights & Biases run history, from a UI CSV export or rows saved from ``scan_history()``.

Manifest (``format: wandb`` is required: the files are ordinary CSV/JSONL/Parquet otherwise)::

    metrics: {path: wandb_export.csv, format: wandb}                      # the UI's "Export CSV"
    metrics: {path: wandb_export.csv, format: wandb, run: glorious-sun-12}  # export of several runs
    metrics: {path: history.jsonl, format: wandb}        # [json.dumps(r) for r in run.scan_history()]
    metrics: {path: history.parquet, format: wandb}      # pd.DataFrame(run.scan_history()).to_parquet(...)

* **UI CSV**: the step column is ``Step`` (or ``_step``); metric columns are named
  ``<run name> - <metric>``, and the ``<run name> - <metric>__MIN`` / ``__MAX`` columns (the
  band of a smoothed or grouped line) are dropped. When every column has the same run prefix it
  is removed (``glorious-sun-12 - train/loss`` -> ``train/loss``); an export holding several runs
  needs ``run:`` to pick one (a group is ``run: "Group: <name>"``).
* **scan_history JSONL / Parquet**: one row per step, ``_step`` the step; ``_runtime``,
  ``_timestamp`` and every logged key are columns (``train/loss`` keeps its slash). Nested dicts
  are flattened with ``.`` (``{"train": {"loss": 1}}`` -> ``train.loss``); media and other
  non-scalar values (dicts with ``_type``, lists) are skipped.
* Rows sharing a step are merged, the last non-empty value winning; an empty cell / missing key is
  "not logged", and ``NaN``/``Infinity`` are values. A logged metric called ``step`` is
  ``step_logged`` (``step`` is ``_step``).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.errors import ArtifactError
from registry.readers.metrics.jsonl import json_objects
from registry.readers.metrics.rows import ArraySource, RowLog, csv_rows, read_csv_strings, source_from_rows

if TYPE_CHECKING:
    import numpy as np

    from registry.readers.formats import ArtifactSpec

STEP_HINT = "W&B history rows carry `_step`; the UI's CSV export has a `Step` column"


def open_wandb(path: Path, spec: ArtifactSpec | None = None) -> ArraySource:
    suffix = path.suffix.lower()
    run = spec.run if spec is not None else None
    if suffix in (".csv", ".tsv"):
        return _from_csv(path, spec, run, "\t" if suffix == ".tsv" else ",")
    if run is not None:
        raise ArtifactError(path, "`run:` only selects a run in a CSV export of several runs", hint="remove `run:`")
    if suffix in (".jsonl", ".ndjson", ".json"):
        return source_from_rows(_jsonl_rows(path), spec, what="history rows")
    if suffix in (".parquet", ".pq"):
        return source_from_rows(_parquet_rows(path), spec, what="history rows")
    raise ArtifactError(
        path,
        f"cannot tell which W&B export this is from suffix {suffix!r}",
        hint="expected .csv (UI export), or .jsonl / .parquet saved from scan_history()",
    )


def _from_csv(path: Path, spec: ArtifactSpec | None, run: str | None, sep: str) -> ArraySource:
    table = read_csv_strings(path, sep)
    step_name = "Step" if "Step" in table else "_step" if "_step" in table else None
    if step_name is None:
        have = ", ".join(list(table)[:8]) or "none"
        raise ArtifactError(path, f"no 'Step' or '_step' column (columns are {have})", line=1, hint=STEP_HINT)
    kept = {k: v for k, v in table.items() if not k.endswith(("__MIN", "__MAX"))}
    prefixes = sorted({k.split(" - ", 1)[0] for k in kept if k != step_name and " - " in k})
    if run is not None:
        if run not in prefixes:
            close = difflib.get_close_matches(run, prefixes, n=1, cutoff=0.5)
            present = ", ".join(prefixes[:10]) or "none (no '<run> - <metric>' columns)"
            raise ArtifactError(
                path,
                f"no run {run!r} in this W&B export",
                line=1,
                hint=(f"did you mean {close[0]!r}? " if close else "") + f"runs present: {present}",
            )
        chosen: str | None = run
    elif len(prefixes) > 1:
        raise ArtifactError(
            path,
            f"the W&B export holds {len(prefixes)} runs; choose one with `run:`",
            line=1,
            hint="runs present: " + ", ".join(prefixes[:10]),
        )
    else:
        chosen = prefixes[0] if prefixes else None
    renamed: dict[str, np.ndarray] = {}
    for name, col in kept.items():
        if name == step_name or chosen is None or " - " not in name:
            renamed[name] = col
        elif name.startswith(chosen + " - "):
            renamed[name[len(chosen) + 3 :]] = col
    log = csv_rows(path, renamed, step_name, hint=STEP_HINT)
    return source_from_rows(log, spec, what="rows")


def _flatten(row: dict[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for key, value in row.items():
        name = prefix + str(key)
        if isinstance(value, dict):
            if "_type" not in value:  # media (images, histograms, tables) are not scalars
                _flatten(value, name + ".", out)
        elif value is not None and not isinstance(value, list):
            out[name] = value


def _jsonl_rows(path: Path) -> RowLog:
    lines: list[int] = []
    log = RowLog(path, [], lambda i: ("", lines[i]), step_name="_step")
    for lineno, obj in json_objects(path, "a JSON object (a history row)"):
        row: dict[str, Any] = {}
        _flatten(obj, "", row)
        i = len(lines)
        lines.append(lineno)
        log.steps.append(row.pop("_step", None))
        for key, value in row.items():
            log.add(i, key, value)
    return log


def _parquet_rows(path: Path) -> RowLog:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:
        raise ArtifactError(path, f"not a readable Parquet file: {exc}") from None
    while any(pa.types.is_struct(f.type) for f in table.schema):
        keep = [
            i
            for i, f in enumerate(table.schema)
            if not (pa.types.is_struct(f.type) and any(sub.name == "_type" for sub in f.type))
        ]
        table = table.select(keep).flatten()
    if "_step" not in table.column_names:
        have = ", ".join(table.column_names[:8]) or "none"
        raise ArtifactError(path, f"no '_step' column (columns are {have})", hint=STEP_HINT)
    log = RowLog(path, table.column("_step").to_pylist(), lambda i: (f"row {i + 1}: ", None), step_name="_step")
    for name in table.column_names:
        if name == "_step":
            continue
        col = table.column(name)
        if not (
            pa.types.is_integer(col.type)
            or pa.types.is_floating(col.type)
            or pa.types.is_boolean(col.type)
            or pa.types.is_string(col.type)
            or pa.types.is_large_string(col.type)
        ):
            continue  # lists, binaries, timestamps: not scalar metrics
        valid = np.asarray(col.is_valid())
        rows = np.flatnonzero(valid)
        values = col.to_numpy(zero_copy_only=False)
        log.columns[name] = (rows.tolist(), list(values[rows]))
    return log
