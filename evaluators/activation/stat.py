"""activation.stat — a statistic over the elements of activation tensors, per checkpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, model_validator

from registry import Evaluator, Measurement, Params, Stat

from .._lib.checkpoints import SERIES_STATISTICS, measure_checkpoints
from .._lib.elements import measure_stat
from .._lib.moments import ElementStat
from .._lib.reduce import Across, Reduce
from .._lib.stats import count
from .._lib.windows import StepWindow

if TYPE_CHECKING:
    from registry import Run


class StatParams(Params):
    artifact: str = Field("activations", description="Name of the run's activation artifact (a file or a folder of checkpoints).")
    tensor: str = Field(description="Tensor name or alias, or a glob matching several (e.g. 'blocks.*.hook_resid_post').")
    stat: ElementStat = Field(
        description="Statistic over the elements (finite ones; kurtosis is excess kurtosis, std the population std)."
    )
    threshold: float | None = Field(None, description="For frac_above: the value elements must exceed.")
    keep: list[str] = Field([], description="Named axes kept (e.g. [head]): the statistic per index of them, then `across` them.")
    across: Across = Field("max", description="With `keep`: how the per-index values become `value`.")
    select: dict[str, int] = Field({}, description="Named axis -> index (negative from the end): read only that slice.")
    steps: StepWindow = None
    reduce: Reduce = Field("last", description="Folder of checkpoints: how the per-checkpoint values become `value`.")

    @model_validator(mode="after")
    def _consistent(self) -> StatParams:
        if self.stat == "frac_above" and self.threshold is None:
            raise ValueError("stat frac_above needs a threshold")
        if self.stat != "frac_above" and self.threshold is not None:
            raise ValueError("threshold is only used with stat frac_above")
        both = sorted(set(self.keep) & set(self.select))
        if both:
            raise ValueError(f"axis {both[0]!r} is both kept and selected")
        if len(set(self.keep)) != len(self.keep):
            raise ValueError("keep names an axis twice")
        return self


class ActivationStat(Evaluator[StatParams]):
    """A statistic over the elements of the matching tensors, per checkpoint (`value`).

    Tensors are streamed in blocks, so memory stays bounded whatever their size; only the named
    tensors are read. Non-finite elements are excluded and counted in `nonfinite`; `elements` counts
    the finite ones. With `keep`, the statistic is computed per index of the kept axes (evidence)
    and `across` them gives `value`. Over a folder of checkpoints, `value` is the `reduce` of the
    per-checkpoint values and the series statistics describe them: `first`, `last`, `min`, `max`,
    `ratio` (last / first) and `growth_exponent` (least-squares slope of log value on log step).
    `n`: finite elements for a single file; checkpoints measured for a folder.
    """

    name = "activation.stat"
    levels = frozenset({"activation"})
    version = "2"
    Params = StatParams
    statistics = (
        Stat("value", "The element statistic (per checkpoint; over a folder, their `reduce`)."),
        count("nonfinite", "Non-finite elements, excluded."),
        count("tensors", "Tensors matching `tensor` (at the last checkpoint)."),
        count("elements", "Finite elements the statistic is over."),
        *SERIES_STATISTICS,
    )

    def evaluate(self, params: StatParams, run: Run) -> Measurement:
        art = run.tensors(params.artifact)
        return measure_checkpoints(
            art,
            params.steps,
            lambda store: measure_stat(
                store, params.tensor, params.stat, params.threshold, params.keep, params.across, params.select
            ),
            main=("value",),
            how=params.reduce,
            totals=("nonfinite", "elements"),
        )
