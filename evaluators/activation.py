"""activation.stat — a statistic over the elements of one or more activation tensors."""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from registry.errors import CannotMeasure
from registry.plugins import Evaluator, Measurement, Params

from .moments import Moments, moments_of

if TYPE_CHECKING:
    from registry.artifacts import Run


class StatParams(Params):
    artifact: str = Field("activations", description="Name of the run's activation artifact.")
    tensor: str = Field(description="Tensor name, or a glob matching several (e.g. 'blocks.*.hook_resid_post').")
    stat: Literal["mean", "mean_abs", "rms", "max_abs", "std", "kurtosis", "frac_above"] = Field(
        description="Statistic over all elements of the matching tensors (kurtosis is excess kurtosis)."
    )
    threshold: float | None = Field(None, description="For frac_above: the value elements must exceed.")

    @model_validator(mode="after")
    def _threshold_with_frac_above(self) -> StatParams:
        if self.stat == "frac_above" and self.threshold is None:
            raise ValueError("stat frac_above needs a threshold")
        if self.stat != "frac_above" and self.threshold is not None:
            raise ValueError("threshold is only used with stat frac_above")
        return self


class Stat(Evaluator):
    """One statistic over every element of the matching tensors (`value`), and per tensor as evidence.

    Tensors are streamed in blocks, so memory stays bounded whatever their size. Non-finite elements
    are excluded and counted in `nonfinite`; `n` is the number of finite elements.
    """

    name = "activation.stat"
    levels = frozenset({"activation"})
    version = "1"
    Params = StatParams
    statistics = ("value", "nonfinite", "tensors")

    def evaluate(self, params: StatParams, run: Run) -> Measurement:
        store = run.tensors(params.artifact)
        names = [n for n in store.names() if fnmatch.fnmatchcase(n, params.tensor)]
        if not names:
            store.array(params.tensor)  # raises CannotMeasure with a did-you-mean
            raise CannotMeasure(f"no tensor matches {params.tensor!r}")
        total = Moments()
        per_tensor: dict[str, float | None] = {}
        for name in names:
            m = moments_of(store.array(name), params.threshold)
            per_tensor[name] = m.stat(params.stat)
            total = total + m
        return Measurement(
            statistics={"value": total.stat(params.stat), "nonfinite": total.nonfinite, "tensors": len(names)},
            n=total.count,
            evidence={"per_tensor": per_tensor},
        )
