"""claims-registry: falsifiable claims about ML training runs, judged on their artifacts.

This module is the plugin API in one import. An evaluator (built in or third party) imports only
from here, never from the registry's submodules:

    from registry import Evaluator, Measurement, Params, Stat, CannotMeasure, Run

Names are resolved on first use (PEP 562) so that `import registry` stays cheap for the CLI.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it (relative to this package)
_EXPORTS: dict[str, str] = {
    "Evaluator": ".plugins",
    "AnyEvaluator": ".plugins",
    "CrossRunEvaluator": ".plugins",
    "EvaluatorBase": ".plugins",
    "EvaluatorRegistry": ".plugins",
    "Measurement": ".plugins",
    "Params": ".plugins",
    "Stat": ".plugins",
    "Statistic": ".plugins",
    "CannotMeasure": ".errors",
    "ArtifactError": ".errors",
    "UserError": ".errors",
    "Run": ".artifacts",
    "ActivationArtifact": ".readers.activations",
    "ArrayTensor": ".readers.activations",
    "Checkpoint": ".readers.activations",
    "MappedTensor": ".readers.activations",
    "Tensor": ".readers.activations",
    "TensorStore": ".readers.activations",
    "Sample": ".readers.text",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from .artifacts import Run
    from .errors import ArtifactError, CannotMeasure, UserError
    from .plugins import (
        AnyEvaluator,
        CrossRunEvaluator,
        Evaluator,
        EvaluatorBase,
        EvaluatorRegistry,
        Measurement,
        Params,
        Stat,
        Statistic,
    )
    from .readers.activations import ActivationArtifact, ArrayTensor, Checkpoint, MappedTensor, Tensor, TensorStore
    from .readers.text import Sample


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'registry' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
