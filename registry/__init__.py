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
    "Run": ".runs.run",
    "ActivationArtifact": ".readers.activations.artifact",
    "ArrayTensor": ".readers.activations.tensor",
    "Checkpoint": ".readers.activations.artifact",
    "MappedTensor": ".readers.activations.tensor",
    "Tensor": ".readers.activations.tensor",
    "TensorStore": ".readers.activations.store",
    "Sample": ".readers.text.sample",
    "TextColumns": ".readers.text.columns",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # the exports, for type checkers (`X as X`: an explicit re-export)
    from .errors import ArtifactError as ArtifactError
    from .errors import CannotMeasure as CannotMeasure
    from .errors import UserError as UserError
    from .plugins import AnyEvaluator as AnyEvaluator
    from .plugins import CrossRunEvaluator as CrossRunEvaluator
    from .plugins import Evaluator as Evaluator
    from .plugins import EvaluatorBase as EvaluatorBase
    from .plugins import EvaluatorRegistry as EvaluatorRegistry
    from .plugins import Measurement as Measurement
    from .plugins import Params as Params
    from .plugins import Stat as Stat
    from .plugins import Statistic as Statistic
    from .readers.activations.artifact import ActivationArtifact as ActivationArtifact
    from .readers.activations.artifact import Checkpoint as Checkpoint
    from .readers.activations.store import TensorStore as TensorStore
    from .readers.activations.tensor import ArrayTensor as ArrayTensor
    from .readers.activations.tensor import MappedTensor as MappedTensor
    from .readers.activations.tensor import Tensor as Tensor
    from .readers.text.columns import TextColumns as TextColumns
    from .readers.text.sample import Sample as Sample
    from .runs.run import Run as Run


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'registry' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
