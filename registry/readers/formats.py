"""The one table of artifact formats, and what a reader is told about an artifact.

Every file format the registry reads is a row of :data:`TABLE`: its `format:` name, the kind of
artifact it holds, the suffixes and file names that select it when `format:` is left out, and
whether one file may hold several runs (chosen with `run:`). The run manifest (kind inference,
`run:` checks) and the readers (dispatch, hints) read the constants derived from it here; no other
module lists formats.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

ArtifactKind = Literal["metrics", "activations", "text"]
ScalarValue = str | int | float | bool


@dataclass(frozen=True)
class Format:
    name: str
    """The `format:` value in run.yaml."""
    kind: ArtifactKind
    suffixes: tuple[str, ...] = ()
    """Suffixes that select this format when `format:` is left out."""
    file_names: tuple[str, ...] = ()
    """Whole file names (or prefixes, ending in `*`) that select it before the suffix is looked at."""
    several_runs: bool = False
    """One file (or store) may hold several runs; `run:` picks one."""
    tells_kind: bool = True
    """`format:` alone makes the artifact this kind (not `jsonl`, which is also the text format)."""


# Version of what the readers of each kind produce. Any change to the values a reader returns for
# the same file bumps its kind's version, so `registry evaluate` never takes a verdict measured
# with the old reader as current (registry/verdicts/current.py).
READER_VERSIONS: dict[ArtifactKind, str] = {"metrics": "1", "activations": "1", "text": "1"}

TABLE: tuple[Format, ...] = (
    # metric tables (registry/readers/metrics/)
    Format("csv", "metrics", (".csv",)),
    Format("tsv", "metrics", (".tsv",)),
    Format("jsonl", "metrics", tells_kind=False),
    Format("parquet", "metrics", (".parquet", ".pq")),
    Format("tensorboard", "metrics", file_names=("events.out.tfevents*",)),
    Format("mlflow", "metrics", file_names=("mlflow.db",), several_runs=True),
    Format("hf_trainer_state", "metrics", file_names=("trainer_state.json",)),
    Format("lightning", "metrics"),
    Format("wandb", "metrics", several_runs=True),
    # activations (registry/readers/activations/)
    Format("safetensors", "activations", (".safetensors",)),
    Format("npy", "activations", (".npy",)),
    Format("npz", "activations", (".npz",)),
    Format("hdf5", "activations", (".h5", ".hdf5")),
    # text samples (registry/readers/text/)
    Format("samples", "text", (".jsonl",)),
    Format("openai_chat", "text", tells_kind=False),
    Format("openai_completions", "text", tells_kind=False),
    Format("lm_eval", "text", tells_kind=False),
)


def _of(kind: ArtifactKind) -> tuple[Format, ...]:
    return tuple(f for f in TABLE if f.kind == kind)


# Every `format:` value a manifest may name.
ALL_FORMATS = tuple(f.name for f in TABLE)
# Suffix -> kind, for manifests that leave `kind` out (`.jsonl` is text unless `kind: metrics`).
SUFFIX_KINDS: dict[str, ArtifactKind] = {s: f.kind for f in reversed(TABLE) for s in f.suffixes}
# `format:` values that make an artifact a metrics table on their own.
METRICS_FORMATS = tuple(f.name for f in _of("metrics") if f.tells_kind)
# Formats whose files may hold several runs, chosen with `run:`.
RUN_FORMATS = tuple(f.name for f in TABLE if f.several_runs)
# Metric tables: every format, and those told by suffix.
FORMATS = tuple(f.name for f in _of("metrics"))
SUFFIX_FORMATS = {s: f.name for f in _of("metrics") for s in f.suffixes} | {".jsonl": "jsonl"}
# Training-log formats, each read by registry/readers/metrics/<format>.py (the others by the table readers).
LOG_FORMATS = ("tensorboard", "mlflow", "hf_trainer_state", "lightning", "wandb")
# Activations: suffix -> format.
ACTIVATION_SUFFIXES = {s: f.name for f in _of("activations") for s in f.suffixes}
# Text: formats, and the spellings of this project's own shape.
TEXT_FORMATS = tuple(f.name for f in _of("text"))
NATIVE_TEXT_FORMATS = (None, "samples", "jsonl")


def name_format(name: str) -> str | None:
    """Formats told by file name alone (before the suffix is looked at)."""
    for f in TABLE:
        for pattern in f.file_names:
            if name == pattern or (pattern.endswith("*") and name.startswith(pattern[:-1])):
                return f.name
    return None


class ArtifactSpec(Protocol):
    """What a reader is told about an artifact: the run manifest's entry for it
    (registry.runs.manifest.ArtifactSpec satisfies this; readers never import the manifest)."""

    @property
    def format(self) -> str | None: ...
    @property
    def where(self) -> Mapping[str, ScalarValue]: ...
    @property
    def columns(self) -> Mapping[str, str]: ...
    @property
    def run(self) -> str | None: ...
    @property
    def step_pattern(self) -> str | None: ...
    @property
    def aliases(self) -> Mapping[str, str]: ...
    @property
    def axes(self) -> Mapping[str, list[str]]: ...
