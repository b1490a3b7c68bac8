"""lm-evaluation-harness `--log_samples` JSONL (`lm_eval`): one sample per generation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.errors import ArtifactError
from registry.readers.text.lines import Fields
from registry.readers.text.sample import Sample

if TYPE_CHECKING:
    pass


_LM_EVAL_BOOKKEEPING = {"doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "filter", "metrics"}


def read_lm_eval(obj: dict[str, Any], f: Fields, file: Path, lineno: int) -> Iterator[Sample]:
    resps = obj.get("resps")
    if resps is None:
        resps = obj.get("filtered_resps")
    generations = resps[0] if isinstance(resps, list) and resps else None
    if isinstance(generations, str):
        generations = [generations]
    if not isinstance(generations, list) or not generations or not all(isinstance(g, str) for g in generations):
        raise ArtifactError(
            file,
            "lm_eval record has no generated text in 'resps[0]'",
            line=lineno,
            hint="text evaluators read generate_until tasks; loglikelihood and multiple-choice rows hold scores",
        )
    args = obj.get("arguments")
    prompt: Any = None
    if isinstance(args, dict):
        first = args.get("gen_args_0")
        prompt = first.get("arg_0") if isinstance(first, dict) else None
    elif isinstance(args, list) and args and isinstance(args[0], list) and args[0]:
        prompt = args[0][0]
    names = obj.get("metrics")
    if isinstance(names, list):
        metrics = {n: obj[n] for n in names if isinstance(n, str) and n in obj}
    else:
        metrics = {k: v for k, v in obj.items() if k not in _LM_EVAL_BOOKKEEPING and isinstance(v, int | float)}
    step = f.step_of(obj, file, lineno)
    doc_id = obj.get("doc_id")
    for k, text in enumerate(generations):
        yield Sample(
            text,
            step,
            prompt if isinstance(prompt, str) else None,
            obj,
            id=None if doc_id is None else (f"{doc_id}/{k}" if len(generations) > 1 else str(doc_id)),
            metrics=metrics,
            source=file,
            line=lineno,
        )
