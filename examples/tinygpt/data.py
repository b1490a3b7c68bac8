"""Corpus, batches, probe batch and prompts for the tiny GPT example.

The corpus is the Python standard library's own source: the top-level ``*.py`` files of
``sysconfig.get_paths()["stdlib"]``, sorted by name.  Files ``[0, n_files)`` are the training
text; file number ``probe_file_index`` (default 60, ``getopt.py`` on CPython 3.11) is held out and
gives the fixed probe batch.  Text is ASCII: every non-ASCII character becomes ``?`` (8 characters
in the default 60-file corpus), so the vocabulary is the fixed set of 128 ASCII codes and a token
id is ``ord(char)``.
"""

from __future__ import annotations

import glob
import hashlib
import os
import sysconfig
from dataclasses import dataclass

import torch

VOCAB_SIZE = 128

# Short code-like prompts for the generations written at every checkpoint.
PROMPTS = ["def ", "import os\n", "class Parser(", "    for i in range("]


def stdlib_files() -> list[str]:
    root = sysconfig.get_paths()["stdlib"]
    return sorted(glob.glob(os.path.join(root, "*.py")))


def to_ascii(text: str) -> str:
    return text.encode("ascii", errors="replace").decode("ascii")


def encode(text: str) -> torch.Tensor:
    return torch.tensor([ord(c) for c in to_ascii(text)], dtype=torch.long)


def decode_token(i: int) -> str:
    return chr(int(i))


def read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as fh:
        return fh.read()


@dataclass
class Corpus:
    data: torch.Tensor  # int64 token ids of the concatenated training files
    files: list[str]  # base names of the training files
    probe_file: str
    probe_tokens: torch.Tensor  # [probe_batch, probe_len + 1]
    sha256: str  # of the ASCII training text

    def info(self) -> dict:
        return {
            "source": "python stdlib top-level *.py, sorted by name",
            "n_files": len(self.files),
            "first_file": self.files[0],
            "last_file": self.files[-1],
            "n_chars": int(self.data.numel()),
            "sha256": self.sha256,
            "probe_file": self.probe_file,
            "vocab": f"ASCII, {VOCAB_SIZE} ids (token id = ord(char), non-ASCII -> '?')",
        }


def load_corpus(n_files: int = 60, probe_file_index: int = 60, probe_batch: int = 8, probe_len: int = 32) -> Corpus:
    files = stdlib_files()
    if probe_file_index < n_files:
        raise ValueError("the probe file must be held out of the training files")
    train_files = files[:n_files]
    text = "".join(to_ascii(read(f)) for f in train_files)
    data = torch.tensor(list(text.encode("ascii")), dtype=torch.long)
    probe_text = to_ascii(read(files[probe_file_index]))
    # probe_batch windows at evenly spaced offsets of the held-out file (fixed, no RNG).
    n = len(probe_text) - (probe_len + 1)
    offsets = [int(i * n / probe_batch) for i in range(probe_batch)]
    probe = torch.stack([encode(probe_text[o : o + probe_len + 1]) for o in offsets])
    return Corpus(
        data=data,
        files=[os.path.basename(f) for f in train_files],
        probe_file=os.path.basename(files[probe_file_index]),
        probe_tokens=probe,
        sha256=hashlib.sha256(text.encode("ascii")).hexdigest(),
    )


class Batches:
    """Random windows of the training text, in an order fixed by ``data_seed``.

    ``shuffle_steps``: at these steps every sequence of the batch has its characters randomly
    permuted (targets are the shifted permuted sequence) -- an injected anomalous batch whose
    position is known exactly.
    """

    def __init__(
        self, data: torch.Tensor, batch_size: int, ctx: int, data_seed: int, shuffle_steps: frozenset[int] = frozenset()
    ):
        self.data = data
        self.batch_size = batch_size
        self.ctx = ctx
        self.gen = torch.Generator().manual_seed(data_seed)
        self.shuffle_gen = torch.Generator().manual_seed(data_seed + 1_000_003)
        self.shuffle_steps = shuffle_steps

    def get(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        # Always draw the offsets so that the batch order does not depend on shuffle_steps.
        ix = torch.randint(0, self.data.numel() - self.ctx - 1, (self.batch_size,), generator=self.gen)
        seq = torch.stack([self.data[i : i + self.ctx + 1] for i in ix.tolist()])
        if step in self.shuffle_steps:
            perm = torch.argsort(torch.rand(seq.shape, generator=self.shuffle_gen), dim=1)
            seq = torch.gather(seq, 1, perm)
        return seq[:, :-1], seq[:, 1:]
