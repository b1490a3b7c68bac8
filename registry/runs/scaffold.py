"""`registry runs add PATH`: find what a folder of training output holds and write its `run.yaml`.

Detected: TensorBoard event files and log dirs, Hugging Face `trainer_state.json` (the latest
`checkpoint-*` when there are several), Lightning version folders (`metrics.csv` + `hparams.yaml`),
W&B exports (the UI CSV: one run folder per W&B run, each with its own extract; `scan_history` JSONL),
MLflow file stores (each MLflow run's own folder becomes a run), CSV/TSV/Parquet/JSONL metric tables,
folders of activation checkpoints and JSONL text samples. A source holding several runs gives one run
folder per run; artifacts always lie inside their run folder.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registry.errors import Location, UserError, display_path
from registry.runs.manifest import MANIFEST

ACTIVATION_SUFFIXES = (".npy", ".npz", ".safetensors", ".h5", ".hdf5")
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet")


@dataclass
class Planned:
    """One run to write: its folder, id, artifacts (name -> spec) and files to create first (extracts)."""

    folder: Path
    run_id: str
    artifacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    what: dict[str, str] = field(default_factory=dict)
    """Artifact name -> what was recognised (a comment in run.yaml)."""
    extracts: dict[Path, str] = field(default_factory=dict)


def run_id_of(name: str) -> str:
    """A valid run id from a folder or run name."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._") or "run"
    return cleaned[:200]


def plan(path: Path) -> list[Planned]:
    """The runs PATH holds (one or several); UserError when nothing known is found."""
    if not path.exists():
        raise UserError("no such file or folder", location=Location(display_path(path)))
    if path.is_file():
        wandb = _wandb_export(path)
        if wandb:
            return wandb
        folder = path.parent
        found = Planned(folder, run_id_of(folder.resolve().name))
        _add_file(found, path)
        return _nonempty([found], path)
    several = _mlflow_runs(path) or _lightning_versions(path) or _wandb_exports(path)
    if several:
        return several
    found = Planned(path, run_id_of(path.resolve().name))
    _scan_folder(found, path)
    return _nonempty([found], path)


def _nonempty(planned: list[Planned], path: Path) -> list[Planned]:
    if not any(p.artifacts for p in planned):
        raise UserError(
            "found no training output here",
            location=Location(display_path(path)),
            hint="expected TensorBoard events, trainer_state.json, metrics.csv, an MLflow store, a W&B export, "
            "metric tables, activation checkpoints or samples (.jsonl)",
        )
    return planned


def _add(found: Planned, name: str, spec: dict[str, Any], what: str) -> None:
    base, k = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._-") or "artifact", 2
    name = base
    while name in found.artifacts:
        name, k = f"{base}_{k}", k + 1
    found.artifacts[name] = spec
    found.what[name] = what


def _rel(found: Planned, p: Path) -> str:
    rel = p.resolve().relative_to(found.folder.resolve()).as_posix()
    return rel or "."


def _scan_folder(found: Planned, folder: Path) -> None:
    """Artifacts of one run folder."""
    if (folder / "metrics.csv").is_file() and (folder / "hparams.yaml").is_file():
        _add(found, "metrics", {"path": _rel(found, folder / "metrics.csv"), "format": "lightning"}, "Lightning CSVLogger")
    states = sorted(folder.glob("checkpoint-*/trainer_state.json"), key=lambda p: _number(p.parent.name))
    if (folder / "trainer_state.json").is_file():
        states.append(folder / "trainer_state.json")
    if states:
        _add(found, "metrics", {"path": _rel(found, states[-1])}, "Hugging Face Trainer log_history (latest checkpoint)")
    events = sorted(folder.rglob("events.out.tfevents.*"))
    if events:
        # A log dir (sub-folders prefix the tags: train/loss), or the one event file at the top.
        tops = {e.relative_to(folder).parts[0] for e in events}
        if len(tops) == 1 and (folder / next(iter(tops))).is_dir():
            spec = {"path": _rel(found, folder / next(iter(tops))), "format": "tensorboard"}
        elif len(events) == 1:
            spec = {"path": _rel(found, events[0])}
        else:
            spec = {"path": ".", "format": "tensorboard"}
        _add(found, "metrics", spec, "TensorBoard scalars")
    for entry in sorted(folder.iterdir(), key=lambda e: (e.stem != "metrics", e.name)):  # metrics.* is `metrics`
        if entry.name.startswith(".") or entry.name == MANIFEST:
            continue
        if entry.is_file() and not (entry.name == "metrics.csv" and "metrics" in found.artifacts):
            _add_file(found, entry)
        elif entry.is_dir() and _is_activation_folder(entry):
            _add(found, entry.name, {"path": _rel(found, entry), "kind": "activations"}, "activation checkpoints, one per step")


def _number(name: str) -> int:
    digits = re.findall(r"\d+", name)
    return int(digits[-1]) if digits else -1


def _is_activation_folder(folder: Path) -> bool:
    files = [f for f in folder.iterdir() if f.is_file() and f.suffix in ACTIVATION_SUFFIXES]
    return len(files) >= 1 and all(re.search(r"\d", f.stem) for f in files)


def _add_file(found: Planned, f: Path) -> None:
    rel = _rel(found, f)
    if f.name == "trainer_state.json":
        _add(found, "metrics", {"path": rel}, "Hugging Face Trainer log_history")
    elif f.name.startswith("events.out.tfevents"):
        _add(found, "metrics", {"path": rel}, "TensorBoard scalars")
    elif f.suffix in TABLE_SUFFIXES:
        _add(found, "metrics" if "metrics" not in found.artifacts else f.stem, {"path": rel}, "metric table")
    elif f.suffix == ".jsonl":
        first = _first_json(f)
        if "text" in first:
            _add(found, "samples", {"path": rel, "kind": "text"}, "text samples")
        elif "_step" in first:
            _add(found, "metrics", {"path": rel, "format": "wandb"}, "W&B scan_history rows")
        elif "step" in first:
            _add(
                found, "metrics" if "metrics" not in found.artifacts else f.stem, {"path": rel, "kind": "metrics"}, "metric rows"
            )
    elif f.suffix in ACTIVATION_SUFFIXES:
        _add(found, "activations", {"path": rel}, "activations")


def _first_json(f: Path) -> dict[str, Any]:
    try:
        with f.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    row = json.loads(line)
                    return row if isinstance(row, dict) else {}
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    return {}


def _mlflow_runs(store: Path) -> list[Planned]:
    """Each run of an MLflow file store, planned in its own folder (`mlruns/<experiment>/<run>/`)."""
    candidates = [store, *sorted(store.glob("*")), *sorted(store.glob("*/*"))]
    out = []
    for folder in candidates:
        if folder.is_dir() and (folder / "metrics").is_dir() and (folder / "meta.yaml").is_file():
            p = Planned(folder, run_id_of(_mlflow_name(folder) or folder.name))
            _add(p, "metrics", {"path": ".", "format": "mlflow"}, f"MLflow run {folder.name}")
            out.append(p)
    return out


def _mlflow_name(folder: Path) -> str | None:
    from registry.yamlsource import load_yaml

    try:
        meta = load_yaml(folder / "meta.yaml").data
    except UserError:
        return None
    return str(meta["run_name"]) if isinstance(meta, dict) and meta.get("run_name") else None


def _lightning_versions(folder: Path) -> list[Planned]:
    """Lightning's `lightning_logs/version_N/`: one run per version folder."""
    versions = sorted(v for v in folder.glob("version_*") if (v / "metrics.csv").is_file())
    out = []
    for v in versions:
        p = Planned(v, run_id_of(f"{folder.resolve().name}-{v.name}"))
        _scan_folder(p, v)
        out.append(p)
    return out


def _wandb_exports(folder: Path) -> list[Planned]:
    exports = sorted(folder.glob("wandb_export*.csv"))
    return _wandb_export(exports[0]) if len(exports) == 1 else []


def _wandb_export(path: Path) -> list[Planned]:
    """A W&B UI CSV export (`Step`, `<run> - <metric>` columns): one run folder per W&B run beside it, each
    with its own extract of the export (so no artifact points out of its run)."""
    import csv

    if path.suffix != ".csv":
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if not rows or "Step" not in rows[0]:
        return []
    head = rows[0]
    runs = sorted({c.split(" - ", 1)[0] for c in head if " - " in c})
    out = []
    for run in runs:
        own = [i for i, c in enumerate(head) if c.startswith(run + " - ") and not c.endswith(("__MIN", "__MAX"))]
        keep = [head.index("Step"), *own]
        folder = path.parent / run_id_of(run)
        p = Planned(folder, run_id_of(run))
        cells = [[r[i] if i < len(r) else "" for i in keep] for r in rows]
        lines = [",".join(_csv_cell(c) for c in row) for row in cells if row is cells[0] or any(row[1:])]
        p.extracts[folder / "wandb.csv"] = "\n".join(lines) + "\n"
        p.artifacts["metrics"] = {"path": "wandb.csv", "format": "wandb"}
        p.what["metrics"] = f"W&B export {path.name}, run {run}"
        out.append(p)
    return out


def _csv_cell(value: str) -> str:
    return f'"{value.replace(chr(34), chr(34) * 2)}"' if any(c in value for c in ',"\n') else value


def write(planned: Planned, tags: list[str], run_id: str | None = None) -> Path:
    """Write the run's extracts and its run.yaml (artifact columns listed as comments); the manifest is
    loaded back, so a file that does not validate is never left behind."""
    from registry.runs.run import load_run

    manifest = planned.folder / MANIFEST
    if manifest.exists():
        raise UserError("file already exists", location=Location(display_path(manifest)), hint="edit it, or remove it first")
    for target, text in planned.extracts.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    rid = run_id or planned.run_id
    manifest.write_text(_manifest_text(planned, rid, tags, {}), encoding="utf-8")
    try:
        run = load_run(manifest)
        columns = {name: _columns(run, name) for name in planned.artifacts}
    except UserError:
        manifest.unlink()
        raise
    manifest.write_text(_manifest_text(planned, rid, tags, columns), encoding="utf-8")
    return manifest


def _columns(run: Any, name: str) -> list[str]:
    if run.spec(name).resolved_kind() != "metrics":
        return []
    return list(run.metrics(name).available())


def _manifest_text(planned: Planned, run_id: str, tags: list[str], columns: dict[str, list[str]]) -> str:
    lines = ["# Written by `registry runs add`; check it, then add `created:` and `description:`.", f"id: {run_id}"]
    lines.append("tags: [" + ", ".join(json.dumps(t) for t in tags) + "]")
    lines.append("artifacts:")
    for name, spec in planned.artifacts.items():
        lines.append(f"  # {planned.what.get(name, '')}")
        cols = columns.get(name) or []
        if cols:
            shown = ", ".join(cols[:40]) + (f", ... ({len(cols)} in all)" if len(cols) > 40 else "")
            lines.append(f"  # columns: {shown}")
        body = ", ".join(f"{k}: {json.dumps(v)}" for k, v in spec.items())
        lines.append(f"  {name}: {{{body}}}")
    return "\n".join(lines) + "\n"
