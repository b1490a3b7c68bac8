"""The one table of artifact formats: which suffixes, names and `format:` values each kind of
artifact has, and which reader module reads each training-log format. The manifest (kind inference,
`format:` checks) and the readers (dispatch) both read it from here."""

from __future__ import annotations

from typing import Literal

ArtifactKind = Literal["metrics", "activations", "text"]

# Suffix -> kind, for manifests that leave `kind` out.
SUFFIX_KINDS: dict[str, ArtifactKind] = {
    ".csv": "metrics",
    ".tsv": "metrics",
    ".parquet": "metrics",
    ".pq": "metrics",
    ".npy": "activations",
    ".npz": "activations",
    ".safetensors": "activations",
    ".h5": "activations",
    ".hdf5": "activations",
    ".jsonl": "text",
}

# `format:` values only metric tables have (so `format:` alone makes an artifact a metrics table;
# `jsonl` is left out: it is also the text format). Readers: registry/readers/metrics.py.
METRICS_FORMATS = ("csv", "tsv", "parquet", "tensorboard", "mlflow", "hf_trainer_state", "lightning", "wandb")
# Formats whose files may hold several runs, chosen with `run:`.
RUN_FORMATS = ("mlflow", "wandb")


# Training-log formats, each in its own module: format -> (module, function(path, spec) -> ColumnSource).
LOG_READERS = {
    "tensorboard": ("tensorboard", "open_tensorboard"),
    "mlflow": ("mlflow", "open_mlflow"),
    "hf_trainer_state": ("hf", "open_trainer_state"),
    "lightning": ("lightning", "open_lightning"),
    "wandb": ("wandb", "open_wandb"),
}
FORMATS = ("csv", "tsv", "jsonl", "parquet", *LOG_READERS)


SUFFIX_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".parquet": "parquet", ".pq": "parquet"}


def name_format(name: str) -> str | None:
    """Formats told by file name alone (before the suffix is looked at)."""
    if name == "trainer_state.json":
        return "hf_trainer_state"
    if name.startswith("events.out.tfevents"):
        return "tensorboard"
    if name == "mlflow.db":
        return "mlflow"
    return None


