"""Hugging Face ``trainer_state.json``: the ``log_history`` list as a step-indexed table.

Manifest (chosen by file name; a checkpoint folder holding the file needs ``format``)::

    metrics: {path: checkpoint-1500/trainer_state.json}
    metrics: {path: checkpoint-1500, format: hf_trainer_state}

Each ``log_history`` entry is a dict with ``step`` and metrics (``loss``, ``grad_norm``,
``learning_rate``, ``epoch``; evaluation entries ``eval_loss``, ``eval_runtime``…; the final
summary ``train_loss``, ``train_runtime``…). Train, eval and summary entries that share a step are
merged into one row; a key written by several entries at one step keeps the later entry's value.
Values that are not scalars (lists, dicts) are skipped. ``NaN``/``Infinity`` tokens (as Python's
json writes them) are values.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from registry.errors import ArtifactError
from registry.readers.metrics.rows import ArraySource, RowLog, source_from_rows

if TYPE_CHECKING:
    from registry.readers.formats import ArtifactSpec

FILE_NAME = "trainer_state.json"


def open_trainer_state(path: Path, spec: ArtifactSpec | None = None) -> ArraySource:
    import json

    if path.is_dir():
        if not (path / FILE_NAME).is_file():
            raise ArtifactError(path, f"no {FILE_NAME} in this folder", hint="point `path:` at the checkpoint folder that has it")
        path = path / FILE_NAME
    try:
        with path.open("rb") as fh:
            doc = json.load(fh)
    except json.JSONDecodeError as exc:
        raise ArtifactError(path, f"invalid JSON: {exc.msg}", line=exc.lineno) from None
    except RecursionError:
        raise ArtifactError(path, "invalid JSON: nested too deeply") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ArtifactError(path, f"cannot read: {exc}") from None
    except ValueError:  # an integer of more digits than Python converts
        raise ArtifactError(path, "invalid JSON: an integer has too many digits") from None
    if not isinstance(doc, dict) or "log_history" not in doc:
        raise ArtifactError(
            path,
            "no 'log_history' list: not a Hugging Face trainer_state.json",
            hint="Trainer writes it in each checkpoint-*/ folder",
        )
    history = doc["log_history"]
    if not isinstance(history, list):
        raise ArtifactError(path, f"'log_history' is a {type(history).__name__}, not a list")
    log = RowLog(path, [], lambda i: (f"log_history[{i}]: ", None))
    for i, entry in enumerate(history):
        if not isinstance(entry, dict):
            raise ArtifactError(path, f"log_history[{i}]: an entry must be an object, not {type(entry).__name__}")
        log.steps.append(entry.get("step"))
        for key, value in entry.items():
            if key != "step" and value is not None:
                log.add(i, str(key), value)
    return source_from_rows(log, spec, what="log_history entries")
