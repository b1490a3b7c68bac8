"""`registry validate`'s look at the runs' artifacts: every metrics column (and activation tensor) a claim
names must exist in the artifact of each run the claim applies to, and a claim that applies to no run is
a warning. Tensors are looked up (names, aliases, globs) in the header of the artifact's last checkpoint
(safetensors/npy/npz/hdf5 headers; no tensor data is read).

Column names come from the header where the format has one (CSV/TSV header row, Parquet schema, W&B
export header, MLflow metric file names); formats without one (TensorBoard tags, trainer_state.json
keys, sparse JSONL rows) are scanned once, and the names are cached under the artifact's sha256 in
`.registry-cache/columns/` so the next validate does not read the file again. `--no-artifacts` skips it.
"""

from __future__ import annotations

import contextlib
import difflib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from registry.errors import CannotMeasure, UserError
from registry.files import write_cache_entry
from registry.language.lints import Lint
from registry.language.loaded import LoadedClaim
from registry.runs.run import Run, selects
from registry.yamlsource import KeyPath

_HEADER_FORMATS = ("csv", "tsv", "parquet", "wandb", "mlflow")


def column_refs(params: Any, base: KeyPath, artifact: str | None = None) -> Iterator[tuple[str, str, KeyPath]]:
    """(artifact, column or tensor, key path) of every metrics column and tensor named in a prediction's
    params, at any depth (event specs, comparison sides, nested params); a nested spec inherits its
    parent's artifact (default: metrics for a column, activations for a tensor)."""
    if isinstance(params, dict):
        own = params.get("artifact")
        here = own if isinstance(own, str) else artifact
        column, tensor = params.get("column"), params.get("tensor")
        if isinstance(column, str) and tensor is None:
            yield here or "metrics", column, (*base, "column")
        if isinstance(tensor, str):
            yield here or "activations", tensor, (*base, "tensor")
        for key, value in params.items():
            if isinstance(value, dict | list):
                yield from column_refs(value, (*base, key), here)
    elif isinstance(params, list):
        for i, value in enumerate(params):
            yield from column_refs(value, (*base, i), artifact)


def _names(run: Run, artifact: str, cache_dir: Path | None) -> list[str]:
    """The names a claim may use for the artifact's columns (the file's and the manifest's aliases)."""
    table = run.metrics(artifact)
    spec = run.spec(artifact)
    fmt = spec.format or ""
    if fmt in _HEADER_FORMATS or (not fmt and run.paths[artifact].suffix.lower() in (".csv", ".tsv", ".parquet")):
        return table.available()
    if cache_dir is None:
        return table.available()
    cache = cache_dir / f"{run.artifact_hash(artifact)}.json"
    try:
        names: list[str] = json.loads(cache.read_text())
    except (OSError, ValueError):
        names = table.available()
        with contextlib.suppress(OSError):  # a read-only checkout: no cache, the same answer
            write_cache_entry(cache_dir, cache.name, json.dumps(names).encode())  # never through a link
    return sorted(set(names) | set(spec.columns))


def _hint(column: str, names: list[str], run: Run, artifact: str) -> str:
    from registry.readers.metrics.table import nearest_column

    listed = ", ".join(names[:20]) + (f", ... ({len(names)} in all)" if len(names) > 20 else "")
    spec = run.spec(artifact)
    if spec.format == "wandb" and " - " in column:
        return (
            "a W&B export names its columns `<run> - <metric>`; the reader removes the prefix of the run chosen "
            f"with `run:`, so write the metric alone ({column.split(' - ', 1)[1]!r}); columns are {listed}"
        )
    close = nearest_column(column, names)
    return (f"did you mean {close!r}? " if close else "") + f"columns are {listed}"


def _tensor_error(run: Run, artifact: str, tensor: str) -> tuple[str, str] | None:
    """(message, hint) when no tensor of the artifact's last checkpoint matches `tensor`."""
    if run.spec(artifact).resolved_kind() not in (None, "activations"):
        return None
    store = run.tensors(artifact).store()
    if store.match(tensor):
        return None
    names = store.names()
    close = difflib.get_close_matches(tensor, names, n=1)
    listed = ", ".join(names[:20]) + (f", ... ({len(names)} in all)" if len(names) > 20 else "")
    hint = (f"did you mean {close[0]!r}? " if close else "") + f"tensors are {listed}"
    return f"run {run.id!r}: artifact {artifact!r} has no tensor matching {tensor!r}", hint


def check_artifact_names(
    claims: Sequence[LoadedClaim], runs: Sequence[Run], cache_dir: Path | None = None
) -> list[UserError]:
    """Every column a claim names, in each run it applies to that declares the artifact; located in the claim."""
    errors: list[UserError] = []
    seen: set[str] = set()
    for lc in claims:
        chosen = [r for r in runs if selects(lc.claim.applies_to.tags, lc.claim.applies_to.runs, r)]
        for i, pred in enumerate(lc.claim.predictions):
            for artifact, column, path in column_refs(pred.params, ("predictions", i, "params")):
                for run in chosen:
                    if artifact not in run.manifest.artifacts or artifact in run.broken:
                        continue  # not declared: inconclusive by design; broken: reported with the run
                    try:
                        if path[-1] == "tensor":
                            error = _tensor_error(run, artifact, column)
                            if error is not None:
                                errors.append(UserError(error[0], location=lc.doc.locate(path), hint=error[1]))
                                break
                            continue
                        names = _names(run, artifact, cache_dir)
                    except UserError as exc:
                        if str(exc) not in seen:
                            seen.add(str(exc))
                            errors.append(exc)
                        continue
                    except CannotMeasure:
                        continue  # not a metrics artifact, or an empty log: evaluate says why
                    if column in names:
                        continue
                    errors.append(
                        UserError(
                            f"run {run.id!r}: artifact {artifact!r} has no column {column!r}",
                            location=lc.doc.locate(path),
                            hint=_hint(column, names, run, artifact),
                        )
                    )
                    break  # one message per column reference
    return errors


def unmatched_claims(claims: Sequence[LoadedClaim], runs: Sequence[Run]) -> list[Lint]:
    """A claim whose `applies_to` selects no run: a warning (a claim may be registered before its runs
    exist), with the nearest tags and run ids."""
    lints: list[Lint] = []
    tags = sorted({t for r in runs for t in r.tags})
    ids = sorted(r.id for r in runs)
    for lc in claims:
        sel = lc.claim.applies_to
        if not runs or any(selects(sel.tags, sel.runs, r) for r in runs):
            continue
        near = [difflib.get_close_matches(t, tags, n=1, cutoff=0.5) for t in sel.tags if t not in tags]
        near_ids = [difflib.get_close_matches(g, ids, n=1, cutoff=0.5) for g in sel.runs]
        names = [m[0] for m in near + near_ids if m]
        hint = (f"did you mean {', '.join(repr(n) for n in names)}? " if names else "") + (
            f"tags: {', '.join(tags[:15]) or 'none'}; runs: {', '.join(ids[:10]) or 'none'}"
        )
        lints.append(Lint(lc.doc.locate(("applies_to",)), "applies to no run", hint))
    return lints
